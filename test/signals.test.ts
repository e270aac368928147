/**
 * A stop signal at any moment of a shard, with several images in flight. Fargate stops a task
 * (Spot reclaim, a stopped job) with SIGTERM and SIGKILLs it when the stop timeout (30 s by
 * default) runs out (Amazon ECS API reference, StopTask), and
 * Batch retries an attempt that exited 143 (the job definitions' retry strategy). So on a signal
 * at any moment a job either writes a complete result and exits 0, or writes no result and exits
 * 143. Never a result without some of the shard's items and exit 0: the run would count the
 * shard done with work missing.
 *
 * The job runs as the image runs it (`node` on the esbuild bundle, jobs/build.ts). Each moment is
 * set by a line the job prints: its first line, the progress line after each item (progress every
 * item here; the last one comes after every item was handled, before `finish` and the result), and the line saying the manifest was read to the end with items queued behind those
 * running. Every request goes through a loopback proxy that delays it, so items take long enough
 * to be queued when the signal lands.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runKeys } from '../core/keys';
import type { Plan } from '../core/plan';
import type { ShardResult } from '../core/results';
import { getJson, getJsonIfExists, getText, listPages } from '../adapters/s3';
import { buildJobBundle } from '../jobs/build';
import { photoJpeg } from '../local/sample/images';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy';
import { ROOT, startTestS3, type TestS3 } from './support/processes';

const outDir = join(ROOT, 'dist', 'signals-test');
const bundle = join(outDir, 'main.js');
const buckets = { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' };
const runId = 'signals';
const config = { buckets, backup: { concurrency: 3 }, resize: { concurrency: 3, webpEffort: 0 }, presets: [{ name: 'thumb', width: 64, formats: ['jpeg'] }] };
let server: TestS3;
let slow: FaultProxy;
let items: number;

const env = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH!,
  AWS_ENDPOINT_URL_S3: slow.endpoint,
  NIGHTSHIFT_RUN_ID: runId,
  NIGHTSHIFT_CONFIG: JSON.stringify(config),
  NIGHTSHIFT_PROGRESS_MS: '0',
  NIGHTSHIFT_METRICS: 'off',
  ...extra,
});

beforeAll(async () => {
  server = await startTestS3(Object.values(buckets));
  await buildJobBundle(bundle);
  for (let i = 0; i < 16; i++) await server.s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: `s/${String(i).padStart(2, '0')}.jpg`, Body: await photoJpeg(160, 120, 900 + i), ContentType: 'image/jpeg' }));
  slow = await startFaultProxy({ target: server.endpoint, rate: 0, delayMs: 60 });
  // A full, forced run: every attempt does every item again, whatever an earlier moment wrote.
  const catalog = await run('catalog', env({ NIGHTSHIFT_INPUT: JSON.stringify({ full: true, force: true, operations: ['backup', 'resize'] }) }));
  expect(catalog.code).toBe(0);
  expect((await getJson<Plan>(server.s3, buckets.work, runKeys(runId).plan)).shardCount).toBe(2);
  items = (await getText(server.s3, buckets.work, runKeys(runId).shard(0))).split('\n').filter(Boolean).length;
}, 120_000);

afterAll(async () => {
  await slow?.close();
  await server?.stop();
  rmSync(outDir, { recursive: true, force: true });
});

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The line the signal was sent after; undefined when the job ended before printing it. */
  readonly sentAfter?: Record<string, unknown>;
}

/** Runs the bundled job; sends SIGTERM right after the first stdout line `at` matches. */
async function run(job: string, environment: Record<string, string>, at?: (line: Record<string, unknown>) => boolean): Promise<Outcome> {
  const child = spawn(process.execPath, [bundle, job], { stdio: ['ignore', 'pipe', 'pipe'], env: environment });
  let sentAfter: Record<string, unknown> | undefined;
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    if (at && !sentAfter && at(line)) {
      sentAfter = line;
      child.kill('SIGTERM');
    }
  });
  child.stderr!.resume();
  const [code, signal] = await once(child, 'exit');
  return { code, signal, ...(sentAfter ? { sentAfter } : {}) };
}

async function listKeys(bucket: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of listPages(server.s3, { bucket, prefix: '' })) keys.push(...page.objects.map((o) => o.Key!));
  return keys;
}

/** The moments: the first line, the line saying the manifest was read to the end, and the progress line after each item. */
function moments(): { name: string; at: (line: Record<string, unknown>) => boolean }[] {
  let first = true;
  return [
    { name: 'first line', at: () => first && !(first = false) },
    { name: 'manifest read to the end', at: (l) => l.msg === 'manifest read to the end' },
    ...Array.from({ length: items }, (_, i) => {
      let progress = 0;
      return { name: `progress line ${i + 1} of ${items}`, at: (l: Record<string, unknown>) => l.msg === 'progress' && ++progress === i + 1 };
    }),
  ];
}

describe.each(['backup', 'resize'])('SIGTERM at any moment of a %s shard, three items in flight', (job) => {
  it('either writes a complete result and exits 0, or writes no result and exits 143', async () => {
    const resultKey = runKeys(runId).result(job as 'backup' | 'resize', 0);
    const seen: { moment: string; code: number | null; signal: NodeJS.Signals | null; result: string; rule: boolean }[] = [];
    let queuedAtManifestEnd = 0;
    for (const { name, at } of moments()) {
      await server.s3.send(new DeleteObjectCommand({ Bucket: buckets.work, Key: resultKey }));
      // A forced run still skips a backup that holds the version: empty the bucket, so every attempt copies every item.
      if (job === 'backup') for (const key of await listKeys(buckets.backup)) await server.s3.send(new DeleteObjectCommand({ Bucket: buckets.backup, Key: key }));
      const outcome = await run(job, env({ AWS_BATCH_JOB_ARRAY_INDEX: '0', NIGHTSHIFT_GRACE_SECONDS: '30' }), at);
      expect({ moment: name, signalled: outcome.sentAfter !== undefined }).toEqual({ moment: name, signalled: true });
      if (name === 'manifest read to the end') queuedAtManifestEnd = outcome.sentAfter!.queued as number;
      const written = await getJsonIfExists<ShardResult>(server.s3, buckets.work, resultKey);
      const r = written?.value;
      const complete = r !== undefined && r.counts.items === items && r.counts.processed === items && r.counts.failed === 0;
      const result = r === undefined ? 'none' : `${r.counts.items} items, ${r.counts.processed} processed, ${r.counts.failed} failed`;
      seen.push({ moment: name, code: outcome.code, signal: outcome.signal, result, rule: (complete && outcome.code === 0) || (r === undefined && outcome.code === 143) });
    }
    // Every moment keeps the rule (the list names the moments that did not).
    expect(seen.filter((s) => !s.rule)).toEqual([]);
    // The moment that matters was reached: the manifest read, with items still queued behind those running.
    expect(queuedAtManifestEnd).toBeGreaterThan(0);
    // Both outcomes happened: the early moments stop the shard; the last one (after the last item) ends it either way.
    expect(seen.some((s) => s.code === 143)).toBe(true);
  }, 120_000);
});
