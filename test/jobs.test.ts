/**
 * The three Batch jobs, each run as a process through its real entry point against the embedded
 * S3 server on loopback, over a generated hostile corpus. Every object must end up processed,
 * skipped or failed with the expected reason; no original may change.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type _Object, CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { parquetWriteBuffer } from 'hyparquet-writer';
import sharp from 'sharp';
import { parsePipelineConfig, type PipelineConfigInput } from '../core/config';
import { compareKeys, pipelineConfigKey, renditionKey, runKeys, STATE_CATALOG_KEY } from '../core/keys';
import type { Plan } from '../core/plan';
import type { ShardResult } from '../core/results';
import { getJson, listPages, getText } from '../adapters/s3';
import { type CorpusObject, hostileCorpus } from '../local/sample/corpus';
import { photoJpeg } from '../local/sample/images';
import { startFaultProxy } from './support/fault-proxy';
import { startSyntheticCorpus } from './support/synthetic-corpus';
import { handler as scopeWork } from '../functions/scope-work';
import { resetFunctionContext } from '../functions/context';
import { ROOT, runJob, spawnJob, startTestS3, type TestS3 } from './support/processes';
import { stopDuringPartUpload } from './support/stop-upload';

const buckets = { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' };
const configInput: PipelineConfigInput = { buckets, resize: { webpEffort: 2 } };
const config = parsePipelineConfig(configInput);

let server: TestS3;
let s3: S3Client;
let tmp: string;
let corpus: CorpusObject[];
let checksumsBefore: Map<string, string>;

const env = (runId: string, extra: Record<string, string> = {}) => ({
  AWS_ENDPOINT_URL_S3: server.endpoint,
  NIGHTSHIFT_RUN_ID: runId,
  NIGHTSHIFT_CONFIG: JSON.stringify(configInput),
  NIGHTSHIFT_TMPDIR: tmp,
  ...extra,
});

async function put(key: string, body: Buffer, contentType?: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: key, Body: body, ContentType: contentType }));
}

async function keysOf(bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of listPages(s3, { bucket, prefix })) keys.push(...page.objects.map((o) => o.Key!));
  return keys;
}

async function checksums(bucket: string): Promise<Map<string, string>> {
  const sums = new Map<string, string>();
  for (const key of await keysOf(bucket)) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    sums.set(key, createHash('sha256').update(await got.Body!.transformToByteArray()).digest('hex'));
  }
  return sums;
}

/** Runs catalog, then every backup and resize child, as Batch would; returns the plan and results. */
async function runPipeline(runId: string, input: object = {}, extra: Record<string, string> = {}) {
  const catalog = await runJob('catalog', env(runId, { ...extra, NIGHTSHIFT_INPUT: JSON.stringify(input) }));
  expect(catalog).toMatchObject({ code: 0, stderr: '' });
  const plan = await getJson<Plan>(s3, buckets.work, runKeys(runId).plan);
  const results: Record<string, ShardResult[]> = { backup: [], resize: [] };
  for (const op of plan.shardOperations) {
    for (let shard = 0; shard < plan.shardCount; shard++) {
      const run = await runJob(op, env(runId, { ...extra, AWS_BATCH_JOB_ARRAY_INDEX: String(shard), AWS_BATCH_JOB_ATTEMPT: '1' }));
      expect({ op, shard, code: run.code, stderr: run.stderr }).toEqual({ op, shard, code: 0, stderr: '' });
      results[op]!.push(await getJson<ShardResult>(s3, buckets.work, runKeys(runId).result(op, shard)));
    }
  }
  return { plan, results };
}

/** key → outcome code ('processed' or the skip/failure code) across a run's results. */
function outcomes(results: ShardResult[], workKeys: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of results) {
    for (const s of r.skipped) out.set(s.key, s.code);
    for (const f of r.failures) out.set(f.key, f.code);
  }
  for (const key of workKeys) if (!out.has(key)) out.set(key, 'processed');
  return out;
}

const sum = (results: ShardResult[], field: 'items' | 'processed' | 'skipped' | 'failed') => results.reduce((a, r) => a + r.counts[field], 0);

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-jobs-'));
  server = await startTestS3(Object.values(buckets));
  s3 = server.s3;
  corpus = await hostileCorpus();
  for (const o of corpus) await put(o.key, o.body, o.contentType);
  checksumsBefore = await checksums(buckets.corpus);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the jobs over a hostile corpus', () => {
  const runId = 'run-1';
  let plan: Plan;
  let results: Record<string, ShardResult[]>;
  const selected = () => corpus.filter((o) => !o.catalog);

  beforeAll(async () => {
    ({ plan, results } = await runPipeline(runId));
  }, 300_000);

  it('catalog lists everything, skips with reasons, and plans 2+ shards', async () => {
    expect(plan.counts.listed).toBe(corpus.length);
    expect(plan.counts.selected).toBe(selected().length);
    expect(plan.counts.new).toBe(selected().length);
    expect(plan.counts.work).toBe(selected().length);
    expect(plan.counts.skipped).toEqual({ 'not-an-image': 2, 'zero-byte': 1, 'folder-placeholder': 1 });
    expect(plan.shardCount).toBeGreaterThanOrEqual(2);
    expect(plan.shardOperations).toEqual(['backup', 'resize']);
    // What the workflow's array states read their timeouts from, and the run's estimate.
    expect(plan.timeouts).toEqual({ backup: 120 * 60 * 3 + 3600, resize: 240 * 60 * 3 + 3600 });
    expect(plan.estimate).toMatchObject({ fits: true, executionTimeoutSeconds: 86_400, arrayJobs: { backup: { waves: 1 }, resize: { waves: 1 } } });
    // A first run: every selected object copied once and read once (the collision pair's newcomer too); dense work lists rather than HEADs.
    expect(plan.estimate.cost).toMatchObject({ requests: { copy: plan.counts.work, get: selected().length, head: 0 }, totalUsd: expect.any(Number) });
    expect(plan.estimate.cost!.totalUsd).toBeGreaterThan(0);
    // Every skipped key with its reason in skipped.jsonl; the result keeps counts and a bounded sample (here: all of them).
    const expected = new Map(corpus.filter((o) => o.catalog).map((o) => [o.key, o.catalog!]));
    const catalogResult = await getJson<{ skipped: { key: string; code: string }[]; skippedList: string }>(s3, buckets.work, runKeys(runId).result('catalog', 0));
    expect(new Map(catalogResult.skipped.map((s) => [s.key, s.code]))).toEqual(expected);
    expect(catalogResult.skippedList).toBe(runKeys(runId).skipped);
    const list = (await getText(s3, buckets.work, runKeys(runId).skipped)).trim().split('\n').map((l) => JSON.parse(l) as { key: string; code: string });
    expect(new Map(list.map((s) => [s.key, s.code]))).toEqual(expected);
  });

  it('writes a catalogue sorted in S3 order with one line per selected object, and shard manifests that partition the work', async () => {
    const lines = async (key: string) => (await (await s3.send(new GetObjectCommand({ Bucket: buckets.work, Key: key }))).Body!.transformToString()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string });
    const catalog = (await lines(runKeys(runId).catalog)).map((r) => r.key);
    expect(catalog).toEqual(selected().map((o) => o.key).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    const sharded: string[] = [];
    for (let i = 0; i < plan.shardCount; i++) sharded.push(...(await lines(runKeys(runId).shard(i))).map((r) => r.key));
    expect(sharded).toEqual(catalog);
  });

  it('accounts for every object once per operation: processed + skipped + failed = work', () => {
    for (const op of ['backup', 'resize'] as const) {
      expect(sum(results[op]!, 'items')).toBe(plan.counts.work);
      expect(sum(results[op]!, 'processed') + sum(results[op]!, 'skipped') + sum(results[op]!, 'failed')).toBe(plan.counts.work);
      for (const f of results[op]!.flatMap((r) => r.failures)) expect(f.message.length).toBeGreaterThan(0);
    }
  });

  it('resize gives each object the expected outcome', () => {
    const got = outcomes(results.resize!, selected().map((o) => o.key));
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(selected().map((o) => [o.key, o.resize])));
  });

  it('writes every preset × format for each processed image, upright, with headers and the source ETag', async () => {
    for (const o of selected().filter((x) => x.resize === 'processed')) {
      const source = await s3.send(new HeadObjectCommand({ Bucket: buckets.corpus, Key: o.key }));
      const meta = await sharp(o.body).metadata();
      const w = meta.autoOrient.width;
      const h = meta.autoOrient.height;
      for (const preset of config.presets) {
        for (const format of preset.formats) {
          const key = renditionKey(preset.name, o.key, format, o.disambiguated);
          const got = await s3.send(new GetObjectCommand({ Bucket: buckets.renditions, Key: key }));
          expect({ key, type: got.ContentType, cache: got.CacheControl, etag: got.Metadata?.['source-etag'] }).toEqual({
            key,
            type: `image/${format}`,
            cache: 'public, max-age=3600, must-revalidate',
            etag: source.ETag!.replaceAll('"', ''),
          });
          const out = await sharp(Buffer.from(await got.Body!.transformToByteArray())).metadata();
          // fit inside width × height (the defaults are square boxes), never enlarged.
          const scale = Math.min(1, preset.width / w, (preset.height ?? Number.POSITIVE_INFINITY) / h);
          expect({ key, format: out.format, width: out.width, height: out.height }).toEqual({ key, format, width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) });
        }
      }
    }
  });

  it('writes no rendition for an object that was not processed', async () => {
    const rendered = new Set(await keysOf(buckets.renditions));
    const expected = new Set(selected().filter((o) => o.resize === 'processed').flatMap((o) => config.presets.flatMap((p) => p.formats.map((f) => renditionKey(p.name, o.key, f, o.disambiguated)))));
    expect(rendered).toEqual(expected);
  });

  it('backs up every selected original with the same bytes and ETag', async () => {
    expect(sum(results.backup!, 'processed')).toBe(selected().length);
    for (const o of selected()) {
      const [src, dst] = await Promise.all([s3.send(new HeadObjectCommand({ Bucket: buckets.corpus, Key: o.key })), s3.send(new HeadObjectCommand({ Bucket: buckets.backup, Key: o.key }))]);
      expect({ key: o.key, etag: dst.ETag, size: dst.ContentLength }).toEqual({ key: o.key, etag: src.ETag, size: src.ContentLength });
    }
    expect((await keysOf(buckets.backup)).length).toBe(selected().length);
  });

  it('never alters an original', async () => {
    expect(await checksums(buckets.corpus)).toEqual(checksumsBefore);
  });

  it('is idempotent: a second attempt of every child skips what is done and writes nothing new', async () => {
    const renditionsBefore = await checksums(buckets.renditions);
    for (const op of ['backup', 'resize'] as const) {
      for (let shard = 0; shard < plan.shardCount; shard++) {
        const run = await runJob(op, env(runId, { AWS_BATCH_JOB_ARRAY_INDEX: String(shard), AWS_BATCH_JOB_ATTEMPT: '2' }));
        expect(run.code).toBe(0);
        const again = await getJson<ShardResult>(s3, buckets.work, runKeys(runId).result(op, shard));
        expect(again.attempt).toBe(2);
        expect(again.counts.processed).toBe(0);
        expect(again.counts.failed).toBe(results[op]![shard]!.counts.failed); // the bad objects are still bad
      }
    }
    expect(await checksums(buckets.renditions)).toEqual(renditionsBefore);
  });

  it('a redrive\'s resubmitted shard (a first attempt again) finds its result and does nothing else: two GETs', async () => {
    const counter = await startFaultProxy({ target: server.endpoint, rate: 0 });
    try {
      const before = await getJson<ShardResult>(s3, buckets.work, runKeys(runId).result('resize', 0));
      const run = await runJob('resize', env(runId, { AWS_ENDPOINT_URL_S3: counter.endpoint, AWS_BATCH_JOB_ARRAY_INDEX: '0', AWS_BATCH_JOB_ATTEMPT: '1' }));
      expect(run.code).toBe(0);
      expect(run.logs.some((l) => l.msg === 'shard already done: its result is written (a redrive resubmits every shard)')).toBe(true);
      // The plan and the result: no manifest, no HEAD of a rendition, no write.
      expect(counter.stats.requests).toBe(2);
      expect(await getJson<ShardResult>(s3, buckets.work, runKeys(runId).result('resize', 0))).toEqual(before);
    } finally {
      await counter.close();
    }
  });

  it('a redrive scoped by ScopeWork reruns only the shard without a result; the child padding the array does nothing', async () => {
    const last = plan.shardCount - 1;
    const before = await getJson<ShardResult>(s3, buckets.work, runKeys(runId).result('resize', last));
    await s3.send(new DeleteObjectCommand({ Bucket: buckets.work, Key: runKeys(runId).result('resize', last) })); // as if its child had failed
    const saved = { ...process.env };
    Object.assign(process.env, { NIGHTSHIFT_CONFIG: JSON.stringify(config), AWS_ENDPOINT_URL_S3: server.endpoint, NIGHTSHIFT_LOG_LEVEL: 'warn' });
    resetFunctionContext();
    try {
      const scope = await scopeWork({ runId, redriveCount: 1 });
      expect(scope).toEqual({ backup: { run: false, arraySize: 0, shards: 'all', count: 0 }, resize: { run: true, arraySize: 2, shards: runKeys(runId).scope('resize', 1), count: 1 } });
      expect(await getJson(s3, buckets.work, scope.resize.shards)).toEqual({ shards: [last] });
      // Child 0 works on the listed shard, not on shard 0 (whose result exists).
      const child = await runJob('resize', env(runId, { AWS_BATCH_JOB_ARRAY_INDEX: '0', NIGHTSHIFT_SHARDS: scope.resize.shards }));
      expect({ code: child.code, errors: child.logs.filter((l) => l.level === 'error') }).toEqual({ code: 0, errors: [] });
      const redone = await getJson<ShardResult>(s3, buckets.work, runKeys(runId).result('resize', last));
      expect({ shard: redone.shard, items: redone.counts.items, failed: redone.counts.failed }).toEqual({ shard: last, items: before.counts.items, failed: before.counts.failed });
      const pad = await runJob('resize', env(runId, { AWS_BATCH_JOB_ARRAY_INDEX: '1', NIGHTSHIFT_SHARDS: scope.resize.shards }));
      expect(pad.code).toBe(0);
      expect(pad.logs.some((l) => String(l.msg).startsWith('nothing to do: this child pads a redrive'))).toBe(true);
      // Everything has its result now: a second redrive would run no array job.
      expect((await scopeWork({ runId, redriveCount: 2 })).resize).toMatchObject({ run: false, count: 0 });
      // A shard list from anywhere but the run's scope/ folder is refused (exit 2, not retried).
      const hostile = await runJob('resize', env(runId, { AWS_BATCH_JOB_ARRAY_INDEX: '0', NIGHTSHIFT_SHARDS: STATE_CATALOG_KEY }));
      expect(hostile.code).toBe(2);
    } finally {
      process.env = saved;
      resetFunctionContext();
    }
  });

  it('diffs the next run against the promoted catalogue: only new and changed objects are work', async () => {
    await s3.send(new CopyObjectCommand({ Bucket: buckets.work, Key: STATE_CATALOG_KEY, CopySource: `${buckets.work}/${runKeys(runId).catalog}` }));
    await put('photos/2026/11/new-arrival.jpg', await photoJpeg(800, 600, 4242), 'image/jpeg');
    await put('photos/beach.jpg', await photoJpeg(1000, 700, 4343), 'image/jpeg'); // replaced
    const second = await runPipeline('run-2');
    expect(second.plan.counts).toMatchObject({ new: 1, changed: 1, unchanged: selected().length - 1, deleted: 0, work: 2 });
    expect(sum(second.results.resize!, 'processed')).toBe(2);
    const thumb = await s3.send(new GetObjectCommand({ Bucket: buckets.renditions, Key: 'thumb/photos/beach.jpeg' }));
    expect(thumb.Metadata?.['source-etag']).toBe((await s3.send(new HeadObjectCommand({ Bucket: buckets.corpus, Key: 'photos/beach.jpg' }))).ETag!.replaceAll('"', ''));
    expect((await sharp(Buffer.from(await thumb.Body!.transformToByteArray())).metadata()).height).toBe(224); // 1000×700 → 320×224
  });

  it('dryRun plans as usual but writes nothing outside runs/<runId>/', async () => {
    await s3.send(new CopyObjectCommand({ Bucket: buckets.work, Key: STATE_CATALOG_KEY, CopySource: `${buckets.work}/${runKeys('run-2').catalog}` }));
    await put('photos/2026/11/dry.jpg', await photoJpeg(640, 480, 99), 'image/jpeg');
    const before = { renditions: await keysOf(buckets.renditions), backup: await keysOf(buckets.backup), work: await keysOf(buckets.work) };
    const dry = await runPipeline('run-dry', { dryRun: true });
    expect(dry.plan).toMatchObject({ dryRun: true, counts: { new: 1, work: 1 } });
    expect(await keysOf(buckets.renditions)).toEqual(before.renditions);
    expect(await keysOf(buckets.backup)).toEqual(before.backup);
    expect((await keysOf(buckets.work)).filter((k) => !before.work.includes(k)).every((k) => k.startsWith('runs/run-dry/'))).toBe(true);
    const wouldResize = dry.results.resize!.flatMap((r) => r.skipped).filter((s) => s.code === 'dry-run');
    expect(wouldResize.map((s) => s.key)).toEqual(['photos/2026/11/dry.jpg']);
    expect(wouldResize[0]!.message).toBe('would write 8 rendition(s)');
  });
});

describe('the catalog on awkward input', () => {
  it('plans nothing for a prefix that matches nothing, and writes an empty plan rather than failing', async () => {
    expect((await runJob('catalog', env('run-empty', { NIGHTSHIFT_INPUT: JSON.stringify({ prefix: 'no/such/prefix/' }) }))).code).toBe(0);
    const plan = await getJson<Plan>(s3, buckets.work, runKeys('run-empty').plan);
    expect(plan).toMatchObject({ nothingToDo: true, shardCount: 0, shardOperations: [], counts: { listed: 0, work: 0 } });
  });

  it('writes the sorted catalogue alone for operations [], with no array job', async () => {
    expect((await runJob('catalog', env('run-catalogue-only', { NIGHTSHIFT_INPUT: JSON.stringify({ operations: [] }) }))).code).toBe(0);
    const plan = await getJson<Plan>(s3, buckets.work, runKeys('run-catalogue-only').plan);
    expect(plan).toMatchObject({ operations: [], shardOperations: [], shardCount: 0, nothingToDo: true, arrayJobs: { backup: false, resize: false } });
    const text = await (await s3.send(new GetObjectCommand({ Bucket: buckets.work, Key: runKeys('run-catalogue-only').catalog }))).Body!.transformToString();
    const catalogue = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string });
    expect(catalogue.length).toBe(plan.counts.selected);
    expect(catalogue.map((r) => r.key)).toEqual([...catalogue.map((r) => r.key)].sort(compareKeys));
  });

  it('backs up objects larger than filter.maxBytes and skips only their renditions, with the reason', async () => {
    await put('sizes/huge.jpg', Buffer.alloc(3 * 1024 * 1024, 1), 'image/jpeg');
    await put('sizes/fine.jpg', await photoJpeg(320, 240, 77), 'image/jpeg');
    const small = { ...configInput, filter: { maxBytes: 2 * 1024 * 1024 } };
    const { plan, results } = await runPipeline('run-sizes', { prefix: 'sizes/' }, { NIGHTSHIFT_CONFIG: JSON.stringify(small) });
    expect(plan.counts).toMatchObject({ listed: 2, selected: 2, work: 2, skipped: {} });
    expect(sum(results.backup!, 'processed')).toBe(2);
    expect((await s3.send(new HeadObjectCommand({ Bucket: buckets.backup, Key: 'sizes/huge.jpg' }))).ContentLength).toBe(3 * 1024 * 1024);
    const skipped = results.resize!.flatMap((r) => r.skipped);
    expect(skipped).toEqual([{ key: 'sizes/huge.jpg', code: 'too-large', message: `${3 * 1024 * 1024} bytes, larger than filter.maxBytes (${2 * 1024 * 1024}): backed up, not rendered` }]);
    expect(sum(results.resize!, 'processed')).toBe(1);
  });
});

/**
 * S3 Inventory as the catalogue's source. The delivery is laid out and written as S3 writes one
 * (S3 user guide, "Locating your inventory list" and "Inventory manifest"): manifest.json under a
 * YYYY-MM-DDTHH-MMZ/ folder, naming gzipped CSV data files with their MD5, rows without a header,
 * every field quoted, keys URL-encoded, ETags unquoted.
 */
describe('the catalog from an S3 Inventory delivery', () => {
  const base = 'inventory/corpus/nightly/';
  const inventoryEnv = (runId: string, prefix = base) => env(runId, { NIGHTSHIFT_CONFIG: JSON.stringify({ ...configInput, corpus: { inventory: { bucket: 'inventory', prefix } } }), NIGHTSHIFT_INPUT: JSON.stringify({ operations: [] }) });
  const csvField = (v: string) => `"${v.replaceAll('"', '""')}"`;
  const encodeKey = (key: string) => encodeURIComponent(key).replaceAll('%20', '+').replaceAll('%2F', '/');

  /**
   * Writes a delivery of the corpus as it is now, in two data files; `damage` changes the manifest
   * first. In Parquet (the S3 user guide's manifest example): keys as they are, sizes as int64,
   * last_modified_date as TIMESTAMP_MILLIS, and several row groups a file.
   */
  async function deliver(folder: string, damage: (m: Record<string, unknown>) => void = () => undefined, format: 'CSV' | 'Parquet' = 'CSV') {
    const { gzipSync } = await import('node:zlib');
    const objects: _Object[] = [];
    for await (const page of listPages(s3, { bucket: buckets.corpus })) objects.push(...page.objects);
    // S3 does not promise any order across or within data files.
    objects.reverse();
    const half = Math.ceil(objects.length / 2);
    const files = [];
    for (const [i, part] of [objects.slice(0, half), objects.slice(half)].entries()) {
      const csv = () => gzipSync(`${part.map((o) => [buckets.corpus, encodeKey(o.Key!), String(o.Size), o.LastModified!.toISOString(), o.ETag!.replaceAll('"', ''), o.StorageClass ?? 'STANDARD'].map(csvField).join(',')).join('\n')}\n`);
      const parquet = () =>
        Buffer.from(
          parquetWriteBuffer({
            columnData: [
              { name: 'bucket', data: part.map(() => buckets.corpus), type: 'STRING' },
              { name: 'key', data: part.map((o) => o.Key!), type: 'STRING' },
              { name: 'size', data: part.map((o) => BigInt(o.Size!)), type: 'INT64' },
              { name: 'last_modified_date', data: part.map((o) => o.LastModified!), type: 'TIMESTAMP' },
              { name: 'e_tag', data: part.map((o) => o.ETag!.replaceAll('"', '')), type: 'STRING' },
              { name: 'storage_class', data: part.map((o) => o.StorageClass ?? 'STANDARD'), type: 'STRING' },
            ],
            rowGroupSize: 7,
          }),
        );
      const body = format === 'CSV' ? csv() : parquet();
      const key = `${base}data/part-${i}.${format === 'CSV' ? 'csv.gz' : 'parquet'}`;
      await s3.send(new PutObjectCommand({ Bucket: 'inventory', Key: key, Body: body }));
      files.push({ key, size: body.length, MD5checksum: createHash('md5').update(body).digest('hex') });
    }
    const fileSchema =
      format === 'CSV'
        ? 'Bucket, Key, Size, LastModifiedDate, ETag, StorageClass'
        : 'message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8);}';
    const manifest: Record<string, unknown> = { sourceBucket: buckets.corpus, destinationBucket: 'arn:aws:s3:::inventory', version: '2016-11-30', creationTimestamp: String(Date.now()), fileFormat: format, fileSchema, files };
    damage(manifest);
    await s3.send(new PutObjectCommand({ Bucket: 'inventory', Key: `${base}${folder}/manifest.json`, Body: JSON.stringify(manifest) }));
    return objects.length;
  }

  const catalogueOf = (runId: string) => getText(s3, buckets.work, runKeys(runId).catalog);
  let deliveries = 0;

  beforeAll(async () => {
    await s3.send(new (await import('@aws-sdk/client-s3')).CreateBucketCommand({ Bucket: 'inventory' }));
  });

  it('plans exactly what a listing plans: the same catalogue, counts and skips, from the newest delivery', async () => {
    // An older delivery, damaged: only the newest one may be read.
    await deliver('2026-11-29T02-00Z', (m) => (m.fileFormat = 'ORC'));
    const rows = await deliver('2026-11-30T02-00Z');
    expect((await runJob('catalog', env('inv-listing', { NIGHTSHIFT_INPUT: JSON.stringify({ operations: [] }) }))).code).toBe(0);
    const run = await runJob('catalog', inventoryEnv('inv-inventory'));
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const [listing, inventory] = await Promise.all(['inv-listing', 'inv-inventory'].map((id) => getJson<Plan>(s3, buckets.work, runKeys(id).plan)));
    expect(inventory.counts).toEqual(listing.counts);
    expect(inventory.counts.listed).toBe(rows);
    expect(inventory.source).toEqual({ kind: 'inventory', manifest: `s3://inventory/${base}2026-11-30T02-00Z/manifest.json`, createdAt: expect.any(String) });
    expect(listing.source).toEqual({ kind: 'listing' });
    expect(await catalogueOf('inv-inventory')).toBe(await catalogueOf('inv-listing'));
  }, 120_000);

  it('warns when the newest delivery is older than maxAgeHours', async () => {
    await deliver('2026-11-30T03-00Z', (m) => (m.creationTimestamp = String(Date.now() - 72 * 3_600_000)));
    expect((await runJob('catalog', inventoryEnv('inv-old'))).code).toBe(0);
    expect((await getJson<Plan>(s3, buckets.work, runKeys('inv-old').plan)).warnings).toEqual([expect.stringMatching(/^The inventory .*2026-11-30T03-00Z\/manifest\.json is 72 hours old \(corpus\.inventory\.maxAgeHours 48\)/)]);
  }, 120_000);

  it('plans from a Parquet delivery exactly what a listing plans, row group by row group', async () => {
    const rows = await deliver('2026-11-30T04-00Z', undefined, 'Parquet');
    const run = await runJob('catalog', inventoryEnv('inv-parquet'));
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.logs.find((l) => l.msg === 'inventory read')).toMatchObject({ format: 'Parquet', files: 2, rows });
    const [listing, parquet] = await Promise.all(['inv-listing', 'inv-parquet'].map((id) => getJson<Plan>(s3, buckets.work, runKeys(id).plan)));
    expect(parquet.counts).toEqual(listing.counts);
    expect(await catalogueOf('inv-parquet')).toBe(await catalogueOf('inv-listing'));
  }, 120_000);

  it.each([
    ['an ORC inventory', (m: Record<string, unknown>) => (m.fileFormat = 'ORC'), 'fileFormat "ORC" is not supported: set the inventory configuration\'s output format to CSV or Apache Parquet'],
    ['a Parquet inventory without ETags', (m: Record<string, unknown>) => ((m.fileFormat = 'Parquet'), (m.fileSchema = 'message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary storage_class (UTF8);}')), 'the inventory lacks ETag: add them'],
    ['an inventory without ETags', (m: Record<string, unknown>) => (m.fileSchema = 'Bucket, Key, Size, LastModifiedDate, StorageClass'), 'the inventory lacks ETag: add them to the inventory configuration\'s additional fields'],
    ['another bucket\'s inventory', (m: Record<string, unknown>) => (m.sourceBucket = 'elsewhere'), 'is the inventory of bucket "elsewhere", not of the corpus "corpus"'],
    ['a damaged data file', (m: Record<string, unknown>) => ((m.files as { MD5checksum: string }[])[1]!.MD5checksum = '0'.repeat(32)), 'the inventory file is damaged'],
  ])('refuses %s with exit 2, naming the fix, and writes no plan', async (_, damage, message) => {
    const folder = `2026-12-01T0${++deliveries}-00Z`; // each case's delivery is the newest
    await deliver(folder, damage);
    const runId = `inv-bad-${folder.replace(/[^0-9]/g, '')}`;
    const run = await runJob('catalog', inventoryEnv(runId));
    expect(run.code).toBe(2);
    const error = run.logs.find((l) => l.level === 'error')!.msg as string;
    expect(error).toMatch(/^corpus\.inventory: /);
    expect(error).toContain(message);
    await expect(getJson(s3, buckets.work, runKeys(runId).plan)).rejects.toMatchObject({ name: 'NoSuchKey' });
  }, 120_000);
});

describe('archived objects', () => {
  it('skips GLACIER and DEEP_ARCHIVE objects as "archived: restore first", and reads GLACIER_IR', async () => {
    // The embedded server keeps storage classes as S3 does (test/s3-contract.test.ts).
    const classes = { 'cold/glacier.jpg': 'GLACIER', 'cold/deep.jpg': 'DEEP_ARCHIVE', 'cold/instant.jpg': 'GLACIER_IR' } as const;
    for (const [key, StorageClass] of Object.entries(classes)) await s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: key, Body: await photoJpeg(320, 240, 5), ContentType: 'image/jpeg', StorageClass }));
    expect((await runJob('catalog', env('run-cold', { NIGHTSHIFT_INPUT: JSON.stringify({ prefix: 'cold/' }) }))).code).toBe(0);
    const plan = await getJson<Plan>(s3, buckets.work, runKeys('run-cold').plan);
    expect(plan.counts).toMatchObject({ listed: 3, selected: 1, skipped: { archived: 2 } });
    const result = await getJson<{ skipped: { key: string; code: string; message: string }[] }>(s3, buckets.work, runKeys('run-cold').result('catalog', 0));
    expect(result.skipped.map((x) => [x.key, x.code])).toEqual([
      ['cold/deep.jpg', 'archived'],
      ['cold/glacier.jpg', 'archived'],
    ].sort());
    expect(result.skipped[0]!.message).toContain('restore it first');
  });
});

describe('the configuration in the work bucket (NIGHTSHIFT_CONFIG_S3)', () => {
  // A job definition is at most 24 KiB (AWS Batch user guide, "AWS Batch service quotas"): the
  // stack gives the jobs the address of the configuration the deployment wrote to the work bucket
  // (infra/pipeline-config.ts), and the job reads it before anything else (jobs/src/main.ts).
  const excludePrefixes = [...Array.from({ length: 499 }, (_, i) => `archive/camera-uploads/${String(i).padStart(4, '0')}/`), 'cfg/skip/'];
  const publish = async (value: object) => {
    const body = JSON.stringify(value);
    const key = pipelineConfigKey(body);
    await s3.send(new PutObjectCommand({ Bucket: buckets.work, Key: key, Body: body, ContentType: 'application/json' }));
    return `s3://${buckets.work}/${key}`;
  };
  // As the stack sets it: the address, no NIGHTSHIFT_CONFIG.
  const jobEnv = (runId: string, pointer: string, extra: Record<string, string> = {}) => {
    const { NIGHTSHIFT_CONFIG: _inline, ...pointed } = env(runId, { NIGHTSHIFT_CONFIG_S3: pointer, ...extra });
    return pointed;
  };

  it('plans with the 500 excludePrefixes it read from the object, and the shard reads it too', async () => {
    for (const name of ['a', 'b', 'skip/c']) await put(`cfg/${name}.jpg`, await photoJpeg(320, 240, 40 + name.length), 'image/jpeg');
    const pointer = await publish({ ...configInput, filter: { excludePrefixes } });
    expect(JSON.stringify(excludePrefixes).length).toBeGreaterThan(8 * 1024);
    const catalog = await runJob('catalog', jobEnv('run-cfg-s3', pointer, { NIGHTSHIFT_INPUT: JSON.stringify({ prefix: 'cfg/', operations: ['backup'] }) }));
    expect({ code: catalog.code, stderr: catalog.stderr }).toEqual({ code: 0, stderr: '' });
    const plan = await getJson<Plan>(s3, buckets.work, runKeys('run-cfg-s3').plan);
    expect(plan.counts).toMatchObject({ listed: 3, selected: 2 });
    const result = await getJson<{ skipped: { key: string; code: string }[] }>(s3, buckets.work, runKeys('run-cfg-s3').result('catalog', 0));
    expect(result.skipped.map((x) => [x.key, x.code])).toEqual([['cfg/skip/c.jpg', 'excluded-prefix']]);
    for (let shard = 0; shard < plan.shardCount; shard++) {
      const backup = await runJob('backup', jobEnv('run-cfg-s3', pointer, { AWS_BATCH_JOB_ARRAY_INDEX: String(shard) }));
      expect({ shard, code: backup.code, stderr: backup.stderr }).toEqual({ shard, code: 0, stderr: '' });
    }
    expect(await keysOf(buckets.backup, 'cfg/')).toEqual(['cfg/a.jpg', 'cfg/b.jpg']);
  });

  it('exit 2 in one line naming the address when the object is missing or invalid; exit 1 when S3 cannot be reached', async () => {
    const missing = await runJob('catalog', jobEnv('run-cfg-missing', 's3://work/config/pipeline-0000000000000000.json'));
    expect(missing.code).toBe(2);
    expect(missing.logs.map((l) => l.msg)).toEqual([expect.stringMatching(/^NIGHTSHIFT_CONFIG_S3=s3:\/\/work\/config\/pipeline-0000000000000000\.json: cannot read the configuration \(NoSuchKey[^\n]*deploy the stack again\.$/)]);
    const invalid = await publish({ buckets: { ...buckets, corpus: 'Bad Bucket' } });
    const bad = await runJob('catalog', jobEnv('run-cfg-bad', invalid));
    expect(bad.code).toBe(2);
    expect(bad.logs[0]!.msg).toContain(`${invalid}.buckets.corpus: expected`);
    // What is wrong in the environment itself is still exit 2, said before anything is read.
    const attempts = await runJob('catalog', jobEnv('run-cfg-bad', invalid, { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', NIGHTSHIFT_S3_MAX_ATTEMPTS: 'eight' }));
    expect({ code: attempts.code, msgs: attempts.logs.map((l) => l.msg) }).toEqual({ code: 2, msgs: ['NIGHTSHIFT_S3_MAX_ATTEMPTS must be a whole number from 1 to 100, received "eight"'] });
    const unknown = await runJob('thumbnail', jobEnv('run-cfg-bad', invalid, { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' }));
    expect({ code: unknown.code, msg: unknown.logs[0]?.msg }).toEqual({ code: 2, msg: expect.stringMatching(/^Unknown job "thumbnail"/) });
    const unreachable = await runJob('catalog', jobEnv('run-cfg-down', invalid, { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', NIGHTSHIFT_S3_MAX_ATTEMPTS: '1' }));
    expect(unreachable.code).toBe(1);
    expect(unreachable.logs[0]!.msg).toMatch(/^NIGHTSHIFT_CONFIG_S3=s3:\/\/work\/config\/pipeline-[0-9a-f]{16}\.json: cannot read the configuration \(/);
    // Nothing of these runs was written: the configuration comes before any work.
    for (const runId of ['run-cfg-missing', 'run-cfg-bad', 'run-cfg-down']) expect(await keysOf(buckets.work, `runs/${runId}/`)).toEqual([]);
  });
});

describe('job failures', () => {
  it('exit 2 with the variable named when the configuration is missing or invalid', async () => {
    const missing = await runJob('catalog', { AWS_ENDPOINT_URL_S3: server.endpoint, NIGHTSHIFT_RUN_ID: 'x1' });
    expect(missing.code).toBe(2);
    expect(missing.logs[0]).toMatchObject({ level: 'error', msg: expect.stringContaining('NIGHTSHIFT_CONFIG is not set') });
    const bad = await runJob('catalog', env('x2', { NIGHTSHIFT_CONFIG: JSON.stringify({ buckets: { ...buckets, corpus: 'Bad Bucket' } }) }));
    expect(bad.code).toBe(2);
    expect(bad.logs[0]!.msg).toContain('NIGHTSHIFT_CONFIG.buckets.corpus: expected');
    expect(bad.logs[0]!.msg).toContain('"Bad Bucket"');
  });

  it('exit 2 naming the variable for a bad NIGHTSHIFT_S3_MAX_ATTEMPTS (a retry would fail the same way)', async () => {
    const bad = await runJob('catalog', env('x5', { NIGHTSHIFT_S3_MAX_ATTEMPTS: 'eight' }));
    expect(bad.code).toBe(2);
    expect(bad.logs[0]!.msg).toBe('NIGHTSHIFT_S3_MAX_ATTEMPTS must be a whole number from 1 to 100, received "eight"');
  });

  it('exit 2 naming the field for bad run input, before anything is written', async () => {
    const run = await runJob('catalog', env('x3', { NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['rezise'] }) }));
    expect(run.code).toBe(2);
    expect(run.logs.find((l) => l.level === 'error')!.msg).toContain('input.operations[0]: expected one of "backup", "resize", received "rezise"');
    expect(await keysOf(buckets.work, 'runs/x3/')).toEqual([]);
  });

  it('exit 2 for an unknown job name or an array index missing from a child', async () => {
    const unknown = await runJob('thumbnail', env('x4'));
    expect(unknown.code).toBe(2);
    // The usage line names commands that exist: the image's entry point and the package script.
    expect(unknown.logs[0]!.msg).toContain('Unknown job "thumbnail": expected one of catalog, backup, resize as the first argument (e.g. `node dist/main.js resize` in the job image, `npm run job -- resize` from a checkout).');
    // (under tini, the init that forwards SIGTERM: jobs/Dockerfile)
    expect(readFileSync(join(ROOT, 'jobs/Dockerfile'), 'utf8')).toMatch(/^ENTRYPOINT \[(.*, )?"node", "dist\/main\.js"\]$/m);
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.job).toBe('tsx jobs/src/main.ts');
    const child = await runJob('resize', env('x4'));
    expect(child.code).toBe(2);
    expect(child.logs[0]!.msg).toContain('AWS_BATCH_JOB_ARRAY_INDEX is not set');
  });

  it('exit 1 (worth a retry) when the plan is not there', async () => {
    const run = await runJob('backup', env('never-planned', { AWS_BATCH_JOB_ARRAY_INDEX: '0' }));
    expect(run.code).toBe(1);
    expect(run.logs.find((l) => l.level === 'error')!.msg).toContain('the catalog job must run first');
  });

  it('exit 1 with the bucket named when the corpus bucket does not exist', async () => {
    const run = await runJob('catalog', env('x5', { NIGHTSHIFT_CONFIG: JSON.stringify({ buckets: { ...buckets, corpus: 'no-such-corpus' } }) }));
    expect(run.code).toBe(1);
    expect(run.logs.find((l) => l.level === 'error')!.msg).toContain('The corpus bucket "no-such-corpus" does not exist');
  });
});

describe('SIGTERM (Batch timeout, Spot reclaim)', () => {
  it('stops taking objects, exits 143 without a result, and the retry finishes the shard', async () => {
    const runId = 'run-term';
    const prefix = 'term/';
    for (let i = 0; i < 12; i++) await put(`${prefix}img-${String(i).padStart(2, '0')}.jpg`, await photoJpeg(1280, 960, 500 + i), 'image/jpeg');
    const slow = { ...configInput, resize: { concurrency: 1, webpEffort: 6 } };
    const termEnv = (extra: Record<string, string>) => env(runId, { NIGHTSHIFT_CONFIG: JSON.stringify(slow), ...extra });
    expect((await runJob('catalog', termEnv({ NIGHTSHIFT_INPUT: JSON.stringify({ prefix, operations: ['resize'] }) }))).code).toBe(0);

    const { child, done } = spawnJob('resize', termEnv({ AWS_BATCH_JOB_ARRAY_INDEX: '0', NIGHTSHIFT_GRACE_SECONDS: '30' }));
    while ((await keysOf(buckets.renditions, `large/${prefix}`)).length === 0) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    const stopped = await done;
    expect(stopped.code).toBe(143);
    expect(stopped.logs.some((l) => l.msg === 'SIGTERM received: taking no new objects')).toBe(true);
    const partial = (await keysOf(buckets.renditions, `large/${prefix}`)).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(6); // shard 0 has 6 images; it stopped early
    await expect(getJson(s3, buckets.work, runKeys(runId).result('resize', 0))).rejects.toMatchObject({ name: 'NoSuchKey' });

    const retry = await runJob('resize', termEnv({ AWS_BATCH_JOB_ARRAY_INDEX: '0', AWS_BATCH_JOB_ATTEMPT: '2' }));
    expect(retry.code).toBe(0);
    const result = await getJson<ShardResult>(s3, buckets.work, runKeys(runId).result('resize', 0));
    expect(result.counts.items).toBe(6);
    expect(result.counts.failed).toBe(0);
    expect(result.counts.processed + result.counts.skipped).toBe(6);
    expect(result.counts.skipped).toBeGreaterThan(0); // what the stopped attempt finished is not redone
    expect(result.skipped.every((x) => x.code === 'up-to-date')).toBe(true);
  });
});

describe('a run that cannot fit the execution', () => {
  it('is said so in the plan and the log, with the setting that would make it fit', async () => {
    const tight = { ...configInput, compute: { maxVcpus: 2, executionTimeoutHours: 0.001, resize: { vcpu: 2, timeoutMinutes: 240, attempts: 3 } } };
    const run = await runJob('catalog', env('run-too-long', { NIGHTSHIFT_CONFIG: JSON.stringify(tight) }));
    expect(run.code).toBe(0);
    const plan = await getJson<Plan>(s3, buckets.work, runKeys('run-too-long').plan);
    expect(plan.estimate.fits).toBe(false);
    expect(plan.estimate.advice).toMatch(/past the execution's 0.001 h limit: .*backfill prefix by prefix/);
    expect(run.logs.find((l) => l.msg === 'the run may not fit the execution')).toMatchObject({ level: 'warn', advice: plan.estimate.advice });
  });
});

describe('the attempt timeout (AWS Batch does not retry an attempt it killed for its timeout)', () => {
  // Batch's own kill cannot happen here; the job's side of it can: given its attempt timeout, it
  // stops itself before the kill and exits 143, which the retry strategy retries. Every request
  // is slowed down (a loopback proxy), so the work outlasts the 3-second self-deadline
  // (6 s timeout − 3 s margin − 0 s grace).
  const deadlineEnv = {
    NIGHTSHIFT_ATTEMPT_TIMEOUT_SECONDS: '6',
    NIGHTSHIFT_STOP_MARGIN_SECONDS: '3',
    NIGHTSHIFT_GRACE_SECONDS: '0',
    NIGHTSHIFT_CONFIG: JSON.stringify({ ...configInput, resize: { concurrency: 1, webpEffort: 2 } }),
  };

  it('a shard stops itself before the timeout, writes no result and exits 143; the retry finishes it', async () => {
    const runId = 'run-deadline';
    const prefix = 'deadline/';
    for (let i = 0; i < 8; i++) await put(`${prefix}img-${i}.jpg`, await photoJpeg(640, 480, 700 + i), 'image/jpeg');
    expect((await runJob('catalog', env(runId, { NIGHTSHIFT_INPUT: JSON.stringify({ prefix, operations: ['resize'] }) }))).code).toBe(0);
    const slow = await startFaultProxy({ target: server.endpoint, rate: 0, delayMs: 800 });
    try {
      const stopped = await runJob('resize', env(runId, { ...deadlineEnv, AWS_ENDPOINT_URL_S3: slow.endpoint, AWS_BATCH_JOB_ARRAY_INDEX: '0' }));
      expect(stopped.code).toBe(143);
      expect(stopped.logs.find((l) => l.msg === 'attempt timeout near: taking no new objects, exiting for a retry')).toMatchObject({ level: 'warn', attemptTimeoutMs: 6000, stopAfterMs: 3000 });
      await expect(getJson(s3, buckets.work, runKeys(runId).result('resize', 0))).rejects.toMatchObject({ name: 'NoSuchKey' });
    } finally {
      await slow.close();
    }
    const retry = await runJob('resize', env(runId, { ...deadlineEnv, AWS_BATCH_JOB_ARRAY_INDEX: '0', AWS_BATCH_JOB_ATTEMPT: '2' }));
    expect(retry.code).toBe(0);
    const result = await getJson<ShardResult>(s3, buckets.work, runKeys(runId).result('resize', 0));
    expect({ failed: result.counts.failed, done: result.counts.processed + result.counts.skipped }).toEqual({ failed: 0, done: result.counts.items });
  });

  it('the catalog stops itself too, before writing a plan, and exits 143', async () => {
    const slow = await startFaultProxy({ target: server.endpoint, rate: 0, delayMs: 600 });
    try {
      const stopped = await runJob('catalog', env('run-deadline-catalog', { ...deadlineEnv, AWS_ENDPOINT_URL_S3: slow.endpoint }));
      expect(stopped.code).toBe(143);
      expect(stopped.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['attempt timeout near: taking no new objects, exiting for a retry', 'stopped before the plan was written; exiting for a retry']));
      await expect(getJson(s3, buckets.work, runKeys('run-deadline-catalog').plan)).rejects.toMatchObject({ name: 'NoSuchKey' });
    } finally {
      await slow.close();
    }
  });
});

describe('a catalogue upload stopped by SIGTERM', () => {
  // S3 keeps (and bills) an upload's parts until it is completed or aborted (S3 API reference,
  // AbortMultipartUpload). The catalog uploads a catalogue above 8 MiB in parts; stopped meanwhile,
  // it aborts the upload before it exits. 80,000 listed objects (a synthetic listing) make a
  // catalogue of about 13 MiB; its parts are held at a loopback proxy, so the upload is under way
  // whenever the signal comes.
  it('aborts the multipart upload, writes no plan and exits 143', async () => {
    const synthetic = await startSyntheticCorpus({ target: server.endpoint, bucket: buckets.corpus, objects: 80_000 });
    try {
      const stopped = await stopDuringPartUpload(synthetic.endpoint, (endpoint) => spawnJob('catalog', env('run-catalog-stopped', { AWS_ENDPOINT_URL_S3: endpoint, NIGHTSHIFT_INPUT: JSON.stringify({ operations: [] }), NIGHTSHIFT_GRACE_SECONDS: '20' })));
      expect(stopped.code).toBe(143);
      expect({ created: stopped.created, aborted: stopped.aborted }).toEqual({ created: 1, aborted: 1 });
      await expect(getJson(s3, buckets.work, runKeys('run-catalog-stopped').plan)).rejects.toMatchObject({ name: 'NoSuchKey' });
    } finally {
      await synthetic.close();
    }
  }, 120_000);
});

describe('backup of objects above the multipart threshold', () => {
  it('copies with UploadPartCopy, keeps metadata, records the source ETag and verifies size', async () => {
    const big = Buffer.alloc(12 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i * 2654435761 >>> 0, i);
    await new Upload({ client: s3, params: { Bucket: buckets.corpus, Key: 'big/scan.tif', Body: big, ContentType: 'image/tiff', Metadata: { camera: 'flatbed' } }, partSize: 6 * 1024 * 1024 }).done();
    const multipart = { ...configInput, backup: { multipartThresholdBytes: 5 * 1024 * 1024, partSizeBytes: 5 * 1024 * 1024 } };
    const runEnv = (extra: Record<string, string>) => env('run-big', { NIGHTSHIFT_CONFIG: JSON.stringify(multipart), ...extra });
    expect((await runJob('catalog', runEnv({ NIGHTSHIFT_INPUT: JSON.stringify({ prefix: 'big/', operations: ['backup'] }) }))).code).toBe(0);
    for (const shard of ['0', '1']) expect((await runJob('backup', runEnv({ AWS_BATCH_JOB_ARRAY_INDEX: shard }))).code).toBe(0);
    const results = await Promise.all([0, 1].map((i) => getJson<ShardResult>(s3, buckets.work, runKeys('run-big').result('backup', i))));
    expect(sum(results, 'processed')).toBe(1);
    const [src, dst] = await Promise.all([s3.send(new GetObjectCommand({ Bucket: buckets.corpus, Key: 'big/scan.tif' })), s3.send(new GetObjectCommand({ Bucket: buckets.backup, Key: 'big/scan.tif' }))]);
    expect(dst.ContentLength).toBe(big.length);
    expect(dst.ContentType).toBe('image/tiff');
    expect(dst.Metadata).toEqual({ camera: 'flatbed', 'source-etag': src.ETag!.replaceAll('"', '') });
    expect(Buffer.from(await dst.Body!.transformToByteArray()).equals(big)).toBe(true);
    await src.Body!.transformToByteArray();
    // A retry sees the recorded source ETag and does not copy again.
    for (const shard of ['0', '1']) expect((await runJob('backup', runEnv({ AWS_BATCH_JOB_ARRAY_INDEX: shard, AWS_BATCH_JOB_ATTEMPT: '2' }))).code).toBe(0);
    const again = await Promise.all([0, 1].map((i) => getJson<ShardResult>(s3, buckets.work, runKeys('run-big').result('backup', i))));
    expect(sum(again, 'processed')).toBe(0);
    expect(again.flatMap((r) => r.skipped)).toEqual([{ key: 'big/scan.tif', code: 'up-to-date', message: 'the backup already holds this version' }]);
  });
});
