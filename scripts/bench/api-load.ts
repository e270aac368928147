/**
 * The bench's api section (issue 28): the image API under load against `nightshift local serve`
 * (local/api-server.ts over the embedded DynamoDB server), on loopback only.
 *
 * The table is filled through the same store the resize job writes with (ImageRecordStore's
 * putRecords: 25 conditioned puts a request), records built by core/records/record.ts, spread over
 * 100 folders. serve's data directory is kept under .nightshift/bench/api-v1-<records>/ with a
 * marker once it is full, so a later run skips the load. Then `clients` loops, each with one
 * keep-alive connection, send requests back to back for `seconds`: GET by a random existing key
 * (must answer 200 and that record), a random unknown key now and then (must answer 404), and
 * folder listings of 100 (must answer 200 with items), sometimes following the cursor. Anything
 * else, or a failed connection, is an error.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pLimit from 'p-limit';
import { renderedRecord, type ImageRecord } from '../../core/records/record';
import { IMAGES_TABLE_NAME } from '../../core/records/table';
import { createDynamoClient, ImageRecordStore } from '../../adapters/dynamodb';
import { prng } from '../../local/sample/images';

const FOLDERS = 100;
const LIST_LIMIT = 100;

export interface ApiOptions {
  readonly root: string;
  readonly benchDir: string;
  readonly records: number;
  readonly clients: number;
  readonly seconds: number;
}

export interface ApiSummary {
  readonly api_records: number;
  readonly api_clients: number;
  readonly api_seconds: number;
  /** Seconds the table took to fill (null: it was cached from an earlier run). */
  readonly api_load_s: number | null;
  readonly api_requests: number;
  readonly api_requests_per_s: number;
  readonly api_p50_ms: number;
  readonly api_p95_ms: number;
  readonly api_p99_ms: number;
  readonly api_errors: number;
}

const folder = (i: number) => `bench/f${String(i % FOLDERS).padStart(3, '0')}/`;
const keyOf = (i: number) => `${folder(i)}img-${String(i).padStart(7, '0')}.jpg`;
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/** A rendered record as the resize job writes it: three presets × WebP + JPEG. */
function record(i: number): ImageRecord {
  const key = keyOf(i);
  const base = key.replace(/\.jpg$/, '');
  const renditions = [['thumb', 240], ['medium', 1024], ['large', 2048]].flatMap(([preset, width]) =>
    (['webp', 'jpeg'] as const).map((format) => ({ preset: preset as string, format, key: `${preset}/${base}.${format === 'jpeg' ? 'jpg' : format}`, width: width as number, height: Math.round((width as number) * 0.75), bytes: 1000 * (width as number), etag: `"${String(i).padStart(32, '0')}"` })),
  );
  const item = { key, etag: `"${(i * 2654435761).toString(16).padStart(32, 'a')}"`, size: 2_000_000 + i, lastModified: '2026-12-01T21:14:03Z' };
  const source = { width: 4000, height: 3000, format: 'jpeg', hasAlpha: false, animated: false, pages: 1, space: 'srgb' };
  return renderedRecord(item, source, { thumbhash: '1QcSHQRnh493V4dIh4eXh1h4kJUI', color: '#8a7f6e' }, renditions, { runId: 'bench-api', updatedAt: '2026-12-02T02:10:44Z', deliveryBaseUrl: 'https://img.example.com/' });
}

interface Serve {
  readonly api: string;
  readonly dynamodb: string;
  stop(): Promise<void>;
}

async function startServe(root: string, dataDir: string): Promise<Serve> {
  const child: ChildProcess = spawn(process.execPath, [require.resolve('tsx/cli'), '--disable-warning=ExperimentalWarning', join(root, 'scripts/nightshift.ts'), 'local', 'serve', '--json', '--data-dir', dataDir], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const info = JSON.parse(line) as { api: string; dynamodb: string };
  child.stdout!.resume();
  return {
    ...info,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** Fills the table (unless the marker says an earlier run did): the seconds it took, or null. */
async function load(serve: Serve, records: number, marker: string): Promise<number | null> {
  if (existsSync(marker)) return null;
  const started = Date.now();
  const client = createDynamoClient({ endpoint: serve.dynamodb, maxAttempts: 5 }, {});
  const store = new ImageRecordStore<ImageRecord>(client, IMAGES_TABLE_NAME);
  // putRecords sends its requests one after another: a few calls at once keep dynalite busy.
  const batch = 500;
  const limit = pLimit(4);
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.ceil(records / batch) }, (_, b) =>
      limit(async () => {
        const chunk = Array.from({ length: Math.min(batch, records - b * batch) }, (_, j) => record(b * batch + j));
        await store.putRecords(chunk);
        done += chunk.length;
        if (done % 10_000 < batch) process.stdout.write(`api: ${done.toLocaleString('en-US')} of ${records.toLocaleString('en-US')} records…\n`);
      }),
    ),
  );
  client.destroy();
  writeFileSync(marker, '');
  return (Date.now() - started) / 1000;
}

type Outcome = { status: number; body: string };

function get(agent: Agent, url: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

type Kind = 'get' | 'unknown' | 'list';
const KINDS: readonly Kind[] = ['get', 'unknown', 'list'];

/** Which request of the mix comes next (55 % GET of a record, 5 % of an unknown key, 40 % listings). */
const kindOf = (r: number): Kind => (r < 0.55 ? 'get' : r < 0.6 ? 'unknown' : 'list');

/** One request of the mix: whether its answer was the right one. */
async function oneRequest(kind: Kind, agent: Agent, api: string, records: number, random: () => number, cursors: Map<string, string>): Promise<boolean> {
  if (kind === 'get') {
    const key = keyOf(Math.floor(random() * records));
    const res = await get(agent, `${api}images/${encodeKey(key)}`);
    return res.status === 200 && (JSON.parse(res.body) as ImageRecord).key === key;
  }
  if (kind === 'unknown') {
    const res = await get(agent, `${api}images/${encodeKey(`${folder(Math.floor(random() * FOLDERS))}missing-${Math.floor(random() * 1e9)}.jpg`)}`);
    return res.status === 404;
  }
  const prefix = folder(Math.floor(random() * FOLDERS));
  const cursor = random() < 0.3 ? cursors.get(prefix) : undefined;
  const res = await get(agent, `${api}images?prefix=${encodeURIComponent(prefix)}&limit=${LIST_LIMIT}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
  if (res.status !== 200) return false;
  const page = JSON.parse(res.body) as { items: ImageRecord[]; cursor: string | null };
  if (page.cursor) cursors.set(prefix, page.cursor);
  else cursors.delete(prefix);
  return page.items.length > 0 && page.items.every((i) => i.key.startsWith(prefix));
}

interface Driven {
  readonly latencies: Float64Array;
  /** Sorted latencies by kind of request. */
  readonly byKind: Record<Kind, Float64Array>;
  readonly count: number;
  readonly errors: number;
  readonly wallS: number;
  readonly firstError?: string;
}

async function drive(api: string, opts: ApiOptions): Promise<Driven> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.clients });
  const latencies: number[] = [];
  const kinds: Kind[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  await Promise.all(
    Array.from({ length: opts.clients }, async (_, c) => {
      const random = prng(7000 + c);
      const cursors = new Map<string, string>();
      while (performance.now() < deadline) {
        const kind = kindOf(random());
        const t = performance.now();
        const ok = await oneRequest(kind, agent, api, opts.records, random, cursors).catch((error: unknown) => ((firstError ??= String(error)), false));
        latencies.push(performance.now() - t);
        kinds.push(kind);
        if (!ok) errors++;
      }
    }),
  );
  const wallS = (performance.now() - started) / 1000;
  agent.destroy();
  const byKind = Object.fromEntries(KINDS.map((k) => [k, Float64Array.from(latencies.filter((_, i) => kinds[i] === k)).sort()])) as Record<Kind, Float64Array>;
  return { latencies: Float64Array.from(latencies).sort(), byKind, count: latencies.length, errors, wallS, ...(firstError ? { firstError } : {}) };
}

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

export async function apiSection(opts: ApiOptions): Promise<{ lines: string[]; summary: ApiSummary }> {
  const dataDir = join(opts.benchDir, `api-v1-${opts.records}`);
  const marker = join(dataDir, '.loaded');
  if (!existsSync(marker)) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const serve = await startServe(opts.root, dataDir);
  try {
    process.stdout.write(`api: local serve at ${serve.api}; ${existsSync(marker) ? `its ${opts.records.toLocaleString('en-US')} records cached in ${dataDir}` : `putting ${opts.records.toLocaleString('en-US')} records into its table (cached in ${dataDir} for later runs)…`}\n`);
    const loadS = await load(serve, opts.records, marker);
    process.stdout.write(`api: ${opts.clients} clients for ${opts.seconds} s…\n`);
    const run = await drive(serve.api, opts);
    const ms = (p: number) => Number(percentile(run.latencies, p).toFixed(2));
    const summary: ApiSummary = {
      api_records: opts.records,
      api_clients: opts.clients,
      api_seconds: opts.seconds,
      api_load_s: loadS === null ? null : Number(loadS.toFixed(1)),
      api_requests: run.count,
      api_requests_per_s: Number((run.count / run.wallS).toFixed(1)),
      api_p50_ms: ms(50),
      api_p95_ms: ms(95),
      api_p99_ms: ms(99),
      api_errors: run.errors,
    };
    const lines = [
      `api: ${loadS === null ? 'table cached' : `loaded ${opts.records.toLocaleString('en-US')} records in ${loadS.toFixed(1)} s (${Math.round(opts.records / loadS)} records/s)`}; ${opts.clients} clients × ${opts.seconds} s: ${run.count.toLocaleString('en-US')} requests = ${summary.api_requests_per_s} requests/s, p50 ${summary.api_p50_ms} ms, p95 ${summary.api_p95_ms} ms, p99 ${summary.api_p99_ms} ms, ${run.errors} errors${run.errors ? ` (first: ${run.firstError ?? 'a wrong answer'})` : ''}`,
      `api: p50 / p99 by request: ${KINDS.map((k) => `${k} ${percentile(run.byKind[k], 50).toFixed(1)} / ${percentile(run.byKind[k], 99).toFixed(1)} ms (${run.byKind[k].length.toLocaleString('en-US')})`).join(', ')}`,
    ];
    return { lines, summary };
  } finally {
    await serve.stop();
  }
}
