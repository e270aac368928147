/**
 * The embedded S3-compatible server: fauxqs (S3 + SNS) on loopback, with its data in SQLite under a
 * folder of ours so that a second run finds the first one's objects.
 *
 * Two corrections to fauxqs 2.4, made here rather than in a fork:
 * - It sorts listings with `localeCompare` but pages with `key <= startAfter` (code-unit order), so
 *   a paged listing of mixed-case or accented keys skips objects. S3 lists in UTF-8 byte order; the
 *   store below does too, for sorting and paging alike.
 * - `startFauxqs` listens on every interface; this server listens on 127.0.0.1 only.
 * And it re-sorted a whole bucket for every page, so a local run slowed down quadratically with
 * the corpus: here each bucket's sorted keys are kept until the bucket changes, and a page starts
 * from a binary search (O(log n + page) for a listing of an unchanged bucket).
 *
 * And one layer of our own in front of it (local/s3-layer.ts) for what fauxqs does not do:
 * conditional requests, multipart ETags, storage classes, URL-encoded listings and object tags
 * (test/s3-contract.test.ts pins them).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compareKeys } from '../core/keys';
import { UsageError } from '../core/validation';
import { fauxqsDist } from './embedded/index';
import { type S3Notify, startS3Layer } from './s3-layer';

export interface EmbeddedS3Options {
  /** Where objects persist (SQLite). Default: in memory only. */
  readonly dataDir?: string;
  /** Port on 127.0.0.1. Default: 0 (any free port). */
  readonly port?: number;
  /** Buckets to create if missing. */
  readonly buckets?: readonly string[];
  /** SNS topics to create if missing. */
  readonly topics?: readonly string[];
  readonly region?: string;
  /** Where S3 event notifications of these buckets go (local/s3-layer.ts): the upload lane's queue. */
  readonly notify?: S3Notify;
}

export interface EmbeddedS3 {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  topicArn(name: string): string;
  /** Requests received so far, by kind as S3 prices them (LIST, GET, HEAD, PUT, COPY, POST, DELETE): a snapshot. */
  requests(): Record<string, number>;
  stop(): Promise<void>;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- fauxqs's internals are untyped ESM modules */
const load = (dist: string, file: string): Promise<any> => import(pathToFileURL(join(dist, file)).href);

/** Each bucket's keys in S3 order, with the bucket's change count they were sorted at. */
const sortedKeys = new WeakMap<Map<string, unknown>, { version: number; keys: string[] }>();
const versions = new WeakMap<Map<string, unknown>, number>();
/** Counts the changes of a bucket's object map (its set, delete and clear), once per map. */
function tracked(objectsMap: Map<string, unknown>): number {
  if (!versions.has(objectsMap)) {
    versions.set(objectsMap, 0);
    const bump = () => versions.set(objectsMap, versions.get(objectsMap)! + 1);
    objectsMap.set = (k, v) => (bump(), Map.prototype.set.call(objectsMap, k, v) as typeof objectsMap);
    objectsMap.delete = (k) => (bump(), Map.prototype.delete.call(objectsMap, k));
    objectsMap.clear = () => (bump(), Map.prototype.clear.call(objectsMap));
  }
  return versions.get(objectsMap)!;
}

/** A bucket's keys in S3 order: sorted again only after the bucket changed. */
function keysInOrder(objectsMap: Map<string, unknown>): string[] {
  const version = tracked(objectsMap);
  const cached = sortedKeys.get(objectsMap);
  if (cached && cached.version === version) return cached.keys;
  const keys = [...objectsMap.keys()].sort(compareKeys);
  sortedKeys.set(objectsMap, { version, keys });
  return keys;
}

/** Index of the first key that sorts after `bound` (or at it, when `inclusive`). */
function firstAfter(keys: string[], bound: string, inclusive: boolean): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const order = compareKeys(keys[mid]!, bound);
    if (order < 0 || (order === 0 && !inclusive)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * fauxqs's S3Store with the listing corrected (see the top of this file): each bucket's keys kept in
 * S3 order until the bucket changes, a page found by binary search.
 */
function orderedStore(S3Store: any): any {
  return class S3OrderedStore extends S3Store {
    listObjects(bucket: string, opts?: { prefix?: string; delimiter?: string; maxKeys?: number; startAfter?: string; marker?: string }) {
      const objectsMap = (this as any).buckets.get(bucket) as Map<string, { key: string }> | undefined;
      if (!objectsMap) return super.listObjects(bucket, opts); // fauxqs raises NoSuchBucket
      const prefix = opts?.prefix ?? '';
      const delimiter = opts?.delimiter;
      const maxKeys = opts?.maxKeys ?? 1000;
      const after = opts?.startAfter ?? opts?.marker ?? '';
      const keys = keysInOrder(objectsMap);
      const start = after && compareKeys(after, prefix) >= 0 ? firstAfter(keys, after, false) : firstAfter(keys, prefix, true);
      const objects: unknown[] = [];
      const prefixes: string[] = [];
      let isTruncated = false;
      for (let i = start; i < keys.length; i++) {
        if (!keys[i]!.startsWith(prefix)) break;
        const obj = objectsMap.get(keys[i]!);
        if (!obj) continue;
        if (after && compareKeys(obj.key, after) <= 0) continue;
        let rolledUp: string | undefined;
        if (delimiter) {
          const at = obj.key.indexOf(delimiter, prefix.length);
          if (at >= 0) rolledUp = obj.key.slice(0, at + delimiter.length);
        }
        if (rolledUp !== undefined) {
          if ((after && compareKeys(rolledUp, after) <= 0) || prefixes[prefixes.length - 1] === rolledUp) continue;
        }
        if (objects.length + prefixes.length >= maxKeys) {
          isTruncated = true;
          break;
        }
        if (rolledUp !== undefined) prefixes.push(rolledUp);
        else objects.push(obj);
      }
      return { objects, commonPrefixes: prefixes, isTruncated };
    }
  };
}

export async function startEmbeddedS3(options: EmbeddedS3Options = {}): Promise<EmbeddedS3> {
  const dist = fauxqsDist();
  const [{ buildApp }, { S3Store }, { SqsStore }, { SnsStore }, { PersistenceManager }] = await Promise.all([
    load(dist, 'app.js'),
    load(dist, 's3/s3Store.js'),
    load(dist, 'sqs/sqsStore.js'),
    load(dist, 'sns/snsStore.js'),
    load(dist, 'persistence.js'),
  ]);

  const S3OrderedStore = orderedStore(S3Store);

  const sqsStore = new SqsStore();
  const snsStore = new SnsStore();
  const s3Store = new S3OrderedStore();
  let persistence: any;
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    persistence = new PersistenceManager(options.dataDir);
    persistence.load(sqsStore, snsStore, s3Store); // before wiring, as startFauxqs does
    sqsStore.persistence = persistence;
    snsStore.persistence = persistence;
    for (const queue of sqsStore.allQueues()) queue.persistence = persistence;
    s3Store.persistence = persistence;
  }
  const region = options.region ?? 'us-east-1';
  const app = buildApp({ logger: false, defaultRegion: region, stores: { sqsStore, snsStore, s3Store } });
  if (persistence) app.addHook('preClose', () => persistence.close());
  const listening: string = await app.listen({ port: 0, host: '127.0.0.1' });
  let layer: Awaited<ReturnType<typeof startS3Layer>>;
  try {
    layer = await startS3Layer({ upstreamPort: Number(new URL(listening).port), port: options.port ?? 0, file: options.dataDir ? join(options.dataDir, 's3-layer.json') : undefined, ...(options.notify ? { notify: options.notify } : {}) });
  } catch (error) {
    await app.close();
    // Both commands that pass a port (`npm run s3`, `nightshift local serve`) take it as --port.
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`--port ${options.port}: 127.0.0.1:${options.port} is already in use (another server listens there): pass another port with --port N, or --port 0 for any free one.`);
    throw error;
  }
  const port = layer.port;

  for (const bucket of options.buckets ?? []) s3Store.createBucket(bucket);
  for (const topic of options.topics ?? []) snsStore.createTopic(topic, undefined, undefined, region);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    region,
    topicArn: (name) => `arn:aws:sns:${region}:000000000000:${name}`,
    requests: () => layer.requests(),
    stop: async () => {
      await layer.close();
      await app.close();
    },
  };
}
