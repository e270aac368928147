/**
 * The embedded S3-compatible server: fauxqs (S3 + SNS) on loopback, with its data in SQLite under a
 * folder of ours so that a second run finds the first one's objects.
 *
 * Two corrections to fauxqs 2.4, made here rather than in a fork:
 * - It sorts listings with `localeCompare` but pages with `key <= startAfter` (code-unit order), so
 *   a paged listing of mixed-case or accented keys skips objects. S3 lists in UTF-8 byte order; the
 *   store below does too, for sorting and paging alike.
 * - `startFauxqs` listens on every interface; this server listens on 127.0.0.1 only.
 *
 * And one layer of our own in front of it (local/s3-layer.ts) for what fauxqs does not do:
 * conditional requests, multipart ETags, storage classes, URL-encoded listings and object tags
 * (test/s3-contract.test.ts pins them).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compareKeys } from '../core/keys';
import { startS3Layer } from './s3-layer';

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
}

export interface EmbeddedS3 {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  topicArn(name: string): string;
  stop(): Promise<void>;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- fauxqs's internals are untyped ESM modules */
function fauxqsDist(): string {
  for (const dir of require.resolve.paths('fauxqs') ?? []) {
    const dist = join(dir, 'fauxqs', 'dist');
    if (existsSync(join(dist, 'app.js'))) return dist;
  }
  throw new Error('fauxqs is not installed: run `npm ci` in the project folder.');
}

const load = (dist: string, file: string): Promise<any> => import(pathToFileURL(join(dist, file)).href);

export async function startEmbeddedS3(options: EmbeddedS3Options = {}): Promise<EmbeddedS3> {
  const dist = fauxqsDist();
  const [{ buildApp }, { S3Store }, { SqsStore }, { SnsStore }, { PersistenceManager }] = await Promise.all([
    load(dist, 'app.js'),
    load(dist, 's3/s3Store.js'),
    load(dist, 'sqs/sqsStore.js'),
    load(dist, 'sns/snsStore.js'),
    load(dist, 'persistence.js'),
  ]);

  class S3OrderedStore extends S3Store {
    listObjects(bucket: string, opts?: { prefix?: string; delimiter?: string; maxKeys?: number; startAfter?: string; marker?: string }) {
      const objectsMap = (this as any).buckets.get(bucket) as Map<string, { key: string }> | undefined;
      if (!objectsMap) return super.listObjects(bucket, opts); // fauxqs raises NoSuchBucket
      const prefix = opts?.prefix ?? '';
      const delimiter = opts?.delimiter;
      const maxKeys = opts?.maxKeys ?? 1000;
      const after = opts?.startAfter ?? opts?.marker ?? '';
      const sorted = [...objectsMap.values()].filter((o) => o.key.startsWith(prefix)).sort((a, b) => compareKeys(a.key, b.key));
      const objects: unknown[] = [];
      const prefixes: string[] = [];
      let isTruncated = false;
      for (const obj of sorted) {
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
  }

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
  const layer = await startS3Layer({ upstreamPort: Number(new URL(listening).port), port: options.port ?? 0, file: options.dataDir ? join(options.dataDir, 's3-layer.json') : undefined });
  const port = layer.port;

  for (const bucket of options.buckets ?? []) s3Store.createBucket(bucket);
  for (const topic of options.topics ?? []) snsStore.createTopic(topic, undefined, undefined, region);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    region,
    topicArn: (name) => `arn:aws:sns:${region}:000000000000:${name}`,
    stop: async () => {
      await layer.close();
      await app.close();
    },
  };
}
