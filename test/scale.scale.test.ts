/**
 * Load (npm run test:scale, not part of npm test): a corpus of 100,000 small objects on the
 * embedded server, planned by the catalog job and aggregated; and the catalogue diff of two
 * 1,000,000-record catalogues. Every figure is printed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { compareKeys, runKeys, STATE_CATALOG_KEY } from '../core/keys';
import type { StateRecord } from '../core/state';
import { FAILURES_NAMED, type Report } from '../core/report';
import type { Plan } from '../core/plan';
import type { ShardResult } from '../core/results';
import { etagOf, getJson, getText, putJson, readLines, uploadStream } from '../adapters/s3';
import { handler as aggregate } from '../functions/aggregate';
import { resetFunctionContext } from '../functions/context';
import { buildJobBundle } from '../jobs/build';
import { runBatchJob } from '../local/batch';
import { ROOT, runJob, startTestS3, type TestS3 } from './support/processes';
import { startSyntheticCorpus } from './support/synthetic-corpus';

const OBJECTS = 100_000;
const buckets = { corpus: 'scale-corpus', renditions: 'scale-renditions', backup: 'scale-backup', work: 'scale-work' };
const config = { buckets, shards: { targetObjects: 500 } };
let server: TestS3;
let tmp: string;
const figure = (name: string, value: unknown) => process.stdout.write(`SCALE ${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}\n`);

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-scale-'));
  server = await startTestS3(Object.values(buckets));
  const started = Date.now();
  const limit = pLimit(64);
  await Promise.all(Array.from({ length: OBJECTS }, (_, i) => limit(() => server.s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: `p${String(i % 100).padStart(2, '0')}/${i}.jpg`, Body: `object ${i}` })))));
  figure('corpus', `${OBJECTS.toLocaleString('en-US')} objects written in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}, 1_800_000);
afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

it('plans 100,000 objects in bounded memory, in balanced shards, and aggregates them', async () => {
  const env = { AWS_ENDPOINT_URL_S3: server.endpoint, NIGHTSHIFT_RUN_ID: 'scale-1', NIGHTSHIFT_CONFIG: JSON.stringify(config), NIGHTSHIFT_TMPDIR: tmp, NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['backup'], dryRun: true }), NIGHTSHIFT_SORT_MEMORY_MB: '2' };
  // A sort budget well below the catalogue (~10 MB of lines here): the external sort must spill and merge.
  const started = Date.now();
  const catalog = await runJob('catalog', env);
  expect(catalog.code).toBe(0);
  const finished = catalog.logs.find((l) => l.msg === 'job finished') as { maxRssMb: number; ms: number };
  const sort = (catalog.logs.find((l) => l.msg === 'diffed') as { sort: { spilledRuns: number } }).sort;
  figure('catalog job', { seconds: Math.round((Date.now() - started) / 1000), peakRssMb: finished.maxRssMb, spilledRuns: sort.spilledRuns });
  expect(finished.maxRssMb).toBeLessThan(512);
  expect(sort.spilledRuns).toBeGreaterThan(0); // the external sort did spill

  const plan = await getJson<Plan>(server.s3, buckets.work, runKeys('scale-1').plan);
  expect(plan.counts.listed).toBe(OBJECTS);
  const sizes: number[] = [];
  for (let i = 0; i < plan.shardCount; i++) sizes.push((await getText(server.s3, buckets.work, runKeys('scale-1').shard(i))).split('\n').filter(Boolean).length);
  const ratio = Math.max(...sizes) / Math.min(...sizes);
  figure('shards', { count: plan.shardCount, min: Math.min(...sizes), max: Math.max(...sizes), maxMinRatio: Number(ratio.toFixed(3)) });
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(OBJECTS);
  expect(ratio).toBeLessThan(1.5);

  // Every shard's (dry-run) backup child, as Batch would run them, then aggregate.
  const entry = join(ROOT, 'dist', 'scale', 'jobs.js');
  await buildJobBundle(entry);
  const t = Date.now();
  await runBatchJob({ job: 'backup', environment: { NIGHTSHIFT_RUN_ID: 'scale-1' }, arraySize: plan.shardCount }, { entry, baseEnvironment: { ...env, NIGHTSHIFT_LOG_LEVEL: 'warn' }, logDir: join(tmp, 'logs'), concurrency: 2, attempts: { catalog: 1, backup: 1, resize: 1 } });
  figure('backup dry run', `${plan.shardCount} children in ${Math.round((Date.now() - t) / 1000)} s`);
  Object.assign(process.env, { NIGHTSHIFT_CONFIG: JSON.stringify(config), AWS_ENDPOINT_URL_S3: server.endpoint, NIGHTSHIFT_METRICS: 'off', NIGHTSHIFT_LOG_LEVEL: 'warn', NIGHTSHIFT_TMPDIR: tmp });
  resetFunctionContext();
  await aggregate({ runId: 'scale-1', trigger: 'cli', startedAt: new Date(started).toISOString() });
  const report = await getJson<Report>(server.s3, buckets.work, runKeys('scale-1').report);
  // (No memory figure here: aggregate runs inside the test process, whose peak includes the 100,000 PUTs above.)
  figure('aggregate', { objects: report.objects.listed, accounted: report.operations.backup!.items, skippedDryRun: report.operations.backup!.skippedByCode['dry-run'] });
  expect(report.operations.backup!.items).toBe(OBJECTS);
}, 1_800_000);

/** Sizes of the synthetic corpus (objects), small then large: SCALE_SIZES=1000000,10000000 for the README's figures. */
const SIZES = (process.env.SCALE_SIZES ?? '1000000,3000000').split(',').map(Number);

it('plans a flat synthetic corpus at two sizes, with S3-slow writes, in memory that does not grow with it', async () => {
  const peaks: number[] = [];
  for (const objects of SIZES) {
    const bucket = 'synthetic-corpus';
    const front = await startSyntheticCorpus({ target: server.endpoint, bucket, objects, writeDelayMs: 40 });
    try {
      const runId = `synthetic-${objects}`;
      const cfg = { ...config, buckets: { ...buckets, corpus: bucket } };
      const started = Date.now();
      const catalog = await runJob('catalog', { AWS_ENDPOINT_URL_S3: front.endpoint, NIGHTSHIFT_RUN_ID: runId, NIGHTSHIFT_CONFIG: JSON.stringify(cfg), NIGHTSHIFT_TMPDIR: tmp, NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['backup'], dryRun: true }) });
      expect({ code: catalog.code, errors: catalog.logs.filter((l) => l.level === 'error') }).toEqual({ code: 0, errors: [] });
      const finished = catalog.logs.find((l) => l.msg === 'job finished') as { maxRssMb: number };
      const listing = catalog.logs.find((l) => l.msg === 'listing') as { ranges: number; pages: number };
      const plan = await getJson<Plan>(server.s3, buckets.work, runKeys(runId).plan);
      figure(`synthetic catalog job at ${objects.toLocaleString('en-US')}`, { seconds: Math.round((Date.now() - started) / 1000), peakRssMb: finished.maxRssMb, listingRanges: listing.ranges, listPages: front.stats.listPages, shards: plan.shardCount, writes: front.stats.writes });
      expect(plan.counts).toMatchObject({ listed: objects, selected: objects - Math.ceil(objects / 100), skipped: { 'not-an-image': Math.ceil(objects / 100) } });
      expect(listing.ranges).toBeGreaterThan(1); // a flat folder, listed by several listers
      peaks.push(finished.maxRssMb);
    } finally {
      await front.close();
    }
  }
  // Bounded: the large corpus's peak within a small factor of the small one's, and well inside the 4 GiB task.
  expect(peaks[1]!).toBeLessThan(peaks[0]! * 1.5);
  expect(peaks[1]!).toBeLessThan(2048);
}, 1_800_000);

it('aggregates 10,000 shard results (AWS Batch\'s array maximum) in memory that does not grow with the failures', async () => {
  // 10,000 shards of 100 objects, as a night of 1,000,000 images writes them: each result with its
  // counts and a sample of skips; first 1 failure a shard, then a bad night with 100 a shard (every
  // object: 1,000,000 failures). The plan is the one a catalog job would have written for them.
  const shards = 10_000;
  const perShard = 100;
  const base = await getJson<Plan>(server.s3, buckets.work, runKeys('scale-1').plan);
  const peaks: number[] = [];
  for (const failing of [1, perShard]) {
    const runId = `scale-aggregate-${failing}`;
    const plan: Plan = { ...base, runId, dryRun: true, shardCount: shards, shardOperations: ['resize'], arrayJobs: { backup: false, resize: true }, counts: { ...base.counts, work: shards * perShard }, prune: undefined, deleted: undefined };
    await putJson(server.s3, buckets.work, runKeys(runId).plan, plan);
    const limit = pLimit(64);
    const started = Date.now();
    await Promise.all(
      Array.from({ length: shards }, (_, shard) =>
        limit(() => {
          const key = (i: number) => `img/${String(shard * perShard + i).padStart(10, '0')}.jpg`;
          const result: ShardResult = {
            runId, operation: 'resize', shard, attempt: 1, dryRun: true, startedAt: new Date(started).toISOString(), finishedAt: new Date(started + 60_000).toISOString(), durationMs: 60_000,
            counts: { items: perShard, processed: 0, skipped: perShard - failing, failed: failing }, bytesRead: perShard * 3_000_000, bytesWritten: 0,
            skippedByCode: { 'up-to-date': perShard - failing }, skipped: Array.from({ length: Math.min(20, perShard - failing) }, (_, i) => ({ key: key(failing + i), code: 'up-to-date' })),
            failures: Array.from({ length: failing }, (_, i) => ({ key: key(i), code: 'decode-failed' as const, message: 'VipsJpeg: premature end of JPEG file', retryable: false })),
          };
          return putJson(server.s3, buckets.work, runKeys(runId).result('resize', shard), result);
        }),
      ),
    );
    figure('aggregate input', `${shards.toLocaleString('en-US')} shard results with ${failing} failure(s) each written in ${Math.round((Date.now() - started) / 1000)} s`);
    const run = spawnSync(process.execPath, [require.resolve('tsx/cli'), join(ROOT, 'test/support/aggregate-run.ts'), runId], {
      encoding: 'utf8',
      timeout: 900_000,
      env: { ...process.env, NIGHTSHIFT_CONFIG: JSON.stringify(config), AWS_ENDPOINT_URL_S3: server.endpoint, NIGHTSHIFT_METRICS: 'off', NIGHTSHIFT_LOG_LEVEL: 'warn', NIGHTSHIFT_TMPDIR: tmp },
    });
    expect({ status: run.status, stderr: run.stderr.slice(-2000) }).toEqual({ status: 0, stderr: '' });
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { maxRssMb: number; ms: number };
    const report = await getJson<Report>(server.s3, buckets.work, runKeys(runId).report);
    const failures = shards * failing;
    figure(`aggregate of 10,000 shards, ${failures.toLocaleString('en-US')} failures`, { seconds: Math.round(out.ms / 1000), peakRssMb: out.maxRssMb, objects: report.operations.resize!.items, failuresNamed: report.failures.length });
    expect(report.operations.resize).toMatchObject({ shards, items: shards * perShard, failed: failures });
    expect(report.failed).toMatchObject({ total: failures, objects: failures });
    expect(report.failures).toHaveLength(Math.min(failures, FAILURES_NAMED));
    let rows = -1; // the header
    for await (const _ of await readLines(server.s3, buckets.work, runKeys(runId).failuresCsv)) rows++;
    expect(rows).toBe(failures);
    peaks.push(out.maxRssMb);
  }
  // A hundred times the failures, in about the same memory: the fold keeps totals and samples only.
  expect(peaks[1]!).toBeLessThan(peaks[0]! * 1.5);
  expect(peaks[1]!).toBeLessThan(1536); // the aggregate function's memorySize (infra/functions.ts)
}, 1_800_000);

it('promotes catalogues of 1,000,000 and 3,000,000 records, merged into the previous one, in memory that does not grow with them', async () => {
  // A prefix run (so the previous catalogue is read and merged, not replaced) over img/, the
  // previous catalogue holding the same keys plus others after the prefix: the streaming merge
  // S3 to S3 of the aggregate function (PromoteCatalogue), in its own process.
  const base = await getJson<Plan>(server.s3, buckets.work, runKeys('scale-1').plan);
  const peaks: number[] = [];
  for (const records of [1_000_000, 3_000_000]) {
    const runId = `scale-promote-${records}`;
    const record = (i: number, version: number) => ({ key: `img/${String(i).padStart(10, '0')}.jpg`, size: 50_000 + (i % 5_000_000), etag: `"${((i + version) * 2246822519 >>> 0).toString(16).padStart(8, '0')}"`, lastModified: '2026-11-21T02:00:00.000Z', storageClass: 'STANDARD', done: { backup: true } });
    const lines = (count: number, version: number, extra: number) =>
      (function* () {
        for (let i = 0; i < count; i++) yield `${JSON.stringify(record(i, version))}\n`;
        for (let i = 0; i < extra; i++) yield `${JSON.stringify({ ...record(i, 0), key: `zz/${String(i).padStart(6, '0')}.jpg` })}\n`;
      })();
    const started = Date.now();
    await uploadStream(server.s3, buckets.work, STATE_CATALOG_KEY, lines(records, 0, 1_000), 'application/x-ndjson');
    await uploadStream(server.s3, buckets.work, runKeys(runId).catalog, lines(records, 1, 0), 'application/x-ndjson');
    // The plan names the catalogue it was diffed against, as the catalog job records it: promotion writes over exactly that version.
    const stateCatalogEtag = (await etagOf(server.s3, buckets.work, STATE_CATALOG_KEY)) ?? null;
    const plan: Plan = { ...base, runId, dryRun: false, prefix: 'img/', shardCount: 0, counts: { ...base.counts, new: records, changed: 0, deleted: 0, work: 0 }, prune: undefined, deleted: undefined, stateCatalogEtag };
    await putJson(server.s3, buckets.work, runKeys(runId).plan, plan);
    figure('promotion input', `${records.toLocaleString('en-US')} records written twice in ${Math.round((Date.now() - started) / 1000)} s`);
    const run = spawnSync(process.execPath, [require.resolve('tsx/cli'), join(ROOT, 'test/support/aggregate-run.ts'), runId, '--promote-only'], {
      encoding: 'utf8',
      timeout: 900_000,
      env: { ...process.env, NIGHTSHIFT_CONFIG: JSON.stringify(config), AWS_ENDPOINT_URL_S3: server.endpoint, NIGHTSHIFT_METRICS: 'off', NIGHTSHIFT_LOG_LEVEL: 'warn', NIGHTSHIFT_TMPDIR: tmp },
    });
    expect({ status: run.status, stderr: run.stderr.slice(-2000) }).toEqual({ status: 0, stderr: '' });
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { maxRssMb: number; ms: number; summary: { catalogPromoted: boolean } };
    expect(out.summary.catalogPromoted).toBe(true);
    // The promoted catalogue: the run's records (version 1) for img/, then the previous zz/ ones, in key order.
    let count = 0;
    let previous = '';
    let first: StateRecord | undefined;
    for await (const line of await readLines(server.s3, buckets.work, STATE_CATALOG_KEY)) {
      const r = JSON.parse(line) as StateRecord;
      expect(compareKeys(previous, r.key)).toBeLessThan(0);
      previous = r.key;
      first ??= r;
      count++;
    }
    expect({ count, first: first?.etag, last: previous }).toEqual({ count: records + 1_000, first: record(0, 1).etag, last: 'zz/000999.jpg' });
    figure(`promotion of ${records.toLocaleString('en-US')} records`, { seconds: Math.round(out.ms / 1000), peakRssMb: out.maxRssMb });
    peaks.push(out.maxRssMb);
  }
  expect(peaks[1]!).toBeLessThan(peaks[0]! * 1.5);
  expect(peaks[1]!).toBeLessThan(1536); // the aggregate function's memorySize (infra/functions.ts)
}, 1_800_000);

it('diffs two 1,000,000-record catalogues in bounded memory', () => {
  const run = spawnSync(process.execPath, [require.resolve('tsx/cli'), join(ROOT, 'scripts/catalog-scale.ts'), '1000000', '64'], { encoding: 'utf8', timeout: 600_000 });
  expect(run.status).toBe(0);
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { records: number; new: number; changed: number; unchanged: number; deleted: number; peakRssMb: number; ms: number };
  figure('catalogue diff', result);
  expect(result.new + result.changed + result.unchanged).toBe(1_000_000);
  expect(result.peakRssMb).toBeLessThan(512);
}, 900_000);
