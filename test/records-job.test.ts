/**
 * The resize job's image records (issue 28): the jobs run as processes through their real entry
 * point against the embedded S3 server and the embedded DynamoDB server (local/dynamodb-server.ts),
 * over real generated images; the records are read back from the table and checked against the
 * contract (core/records/record.ts imageRecordSchema), the renditions in the bucket and the shard
 * results.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopyObjectCommand, DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { parsePipelineConfig, type PipelineConfigInput } from '../core/config';
import { runKeys, STATE_CATALOG_KEY } from '../core/keys';
import type { Plan } from '../core/plan';
import type { ShardResult } from '../core/results';
import { undoneInShard } from '../core/report';
import type { ChangeLine } from '../core/records/changes';
import { imageRecordSchema, type ImageRecord } from '../core/records/record';
import type { ImageRecordStore } from '../adapters/dynamodb';
import { getJson, getText } from '../adapters/s3';
import { animatedGif, heicPhoto, heicRotated, orientedJpeg, photoJpeg, photoPng, png16WithAlpha } from '../local/sample/images';
import { startFaultProxy } from './support/fault-proxy';
import { runJob, spawnJob, type TestS3 } from './support/processes';
import { type RecordServers, startRecordServers } from './support/record-servers';

const buckets = { corpus: 'rec-corpus', renditions: 'rec-renditions', backup: 'rec-backup', work: 'rec-work' };
// filter.maxBytes keeps rec/huge.jpg (about 300 KB) from being rendered: a skipped image, read by nothing.
const configInput: PipelineConfigInput = { buckets, resize: { webpEffort: 0 }, filter: { maxBytes: 200_000 } };
const DELIVERY = 'https://img.example.com/';

let s3server: TestS3;
let s3: S3Client;
let servers: RecordServers;
let store: ImageRecordStore<ImageRecord>;
let tmp: string;

const env = (runId: string, config: PipelineConfigInput, extra: Record<string, string> = {}) => ({
  ...servers.jobEnv,
  NIGHTSHIFT_DELIVERY_BASE_URL: DELIVERY,
  NIGHTSHIFT_RUN_ID: runId,
  NIGHTSHIFT_CONFIG: JSON.stringify(config),
  NIGHTSHIFT_TMPDIR: tmp,
  ...extra,
});

/** Runs catalog, then every shard of every operation, as Batch would; returns the plan and the resize results. */
async function runPipeline(runId: string, config = configInput, input: object = {}, extra: Record<string, string> = {}) {
  const catalog = await runJob('catalog', env(runId, config, { ...extra, NIGHTSHIFT_INPUT: JSON.stringify(input) }));
  expect(catalog).toMatchObject({ code: 0, stderr: '' });
  const work = config.buckets.work;
  const plan = await getJson<Plan>(s3, work, runKeys(runId).plan);
  for (const op of plan.shardOperations) {
    for (let shard = 0; shard < plan.shardCount; shard++) {
      const run = await runJob(op, env(runId, config, { ...extra, AWS_BATCH_JOB_ARRAY_INDEX: String(shard), AWS_BATCH_JOB_ATTEMPT: '1' }));
      expect({ op, shard, code: run.code, stderr: run.stderr }).toEqual({ op, shard, code: 0, stderr: '' });
    }
  }
  // What aggregate does after a good run: the next run diffs against this catalogue.
  await s3.send(new CopyObjectCommand({ Bucket: work, Key: STATE_CATALOG_KEY, CopySource: `${work}/${runKeys(runId).catalog}` }));
  return { plan, resize: await resizeResults(runId, plan.shardCount, work) };
}

async function resizeResults(runId: string, shardCount: number, work = buckets.work): Promise<ShardResult[]> {
  const results: ShardResult[] = [];
  for (let shard = 0; shard < shardCount; shard++) results.push(await getJson<ShardResult>(s3, work, runKeys(runId).result('resize', shard)));
  return results;
}

async function changeLines(runId: string, shardCount: number, work = buckets.work): Promise<ChangeLine[]> {
  const lines: ChangeLine[] = [];
  for (let shard = 0; shard < shardCount; shard++) {
    const text = await getText(s3, work, runKeys(runId).changes(shard));
    lines.push(...text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChangeLine));
  }
  return lines;
}

async function put(bucket: string, key: string, body: Buffer): Promise<string> {
  return (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).ETag!;
}

const record = async (key: string) => store.getRecord(key);

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-records-'));
  servers = await startRecordServers([...Object.values(buckets), ...Object.values(manyBuckets), ...Object.values(stopBuckets)]);
  ({ s3server, store } = servers);
  s3 = s3server.s3;
}, 60_000);

afterAll(async () => {
  await servers?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('records of one corpus across runs', () => {
  const truncated = async () => {
    const whole = await photoJpeg(320, 240, 7);
    return whole.subarray(0, Math.floor(whole.length / 2));
  };
  let first: Awaited<ReturnType<typeof runPipeline>>;
  const etags = new Map<string, string>();

  beforeAll(async () => {
    const corpus: [string, Buffer][] = [
      ['rec/rotated-6.jpg', await orientedJpeg(400, 200, 6)],
      ['rec/alpha.png', await png16WithAlpha(120, 80)],
      ['rec/anim.gif', await animatedGif(64, 48, 5)],
      ['rec/truncated.jpg', await truncated()],
      ['rec/huge.jpg', await photoJpeg(1200, 900, 9)],
      // pair.png's stem is pair.jpg's (first in key order): it renders under rec/pair.png/.<format>.
      ['rec/pair.jpg', await photoJpeg(300, 200, 3)],
      ['rec/pair.png', await photoPng(200, 300, 4)],
      // As iPhones store them: HEVC in HEIF, and a portrait one (irot, a quarter turn).
      ['rec/photo.heic', heicPhoto()],
      ['rec/portrait.heic', heicRotated(1)],
      // The other EXIF orientations (6 above): stored 400×200 or, from 5 on, 200×400.
      ...(await Promise.all([1, 2, 3, 4, 5, 7, 8].map(async (o) => [`rec/orientation-${o}.jpg`, await orientedJpeg(400, 200, o)] as [string, Buffer]))),
    ];
    for (const [key, body] of corpus) etags.set(key, await put(buckets.corpus, key, body));
    first = await runPipeline('run-1');
  }, 300_000);

  it('writes a record per handled image, matching the contract, as the images and the renditions are', async () => {
    const records = new Map<string, ImageRecord>();
    for (const key of etags.keys()) {
      const r = await record(key);
      expect({ key, valid: imageRecordSchema.safeParse(r).error?.issues }).toEqual({ key, valid: undefined });
      records.set(key, r!);
    }
    // EXIF orientation 6: stored 200×400, displayed (and recorded) 400×200.
    const stored = await sharp(await orientedJpeg(400, 200, 6)).metadata();
    expect([stored.width, stored.height, stored.orientation]).toEqual([200, 400, 6]);
    expect(records.get('rec/rotated-6.jpg')).toMatchObject({ status: 'rendered', width: 400, height: 200, format: 'jpeg', hasAlpha: false, animated: false, pages: 1 });
    expect(records.get('rec/alpha.png')).toMatchObject({ status: 'rendered', width: 120, height: 80, format: 'png', hasAlpha: true });
    expect(records.get('rec/anim.gif')).toMatchObject({ status: 'rendered', format: 'gif', animated: true, pages: 5, width: 64, height: 48 });
    expect(records.get('rec/pair.jpg')).toMatchObject({ status: 'rendered', hasAlpha: false, animated: false });
    // Every orientation as displayed: 5 to 8 turn the stored image a quarter, so 400×200 always.
    for (const o of [1, 2, 3, 4, 5, 7, 8]) {
      const stored = await sharp(await orientedJpeg(400, 200, o)).metadata();
      expect([stored.width, stored.height, stored.orientation]).toEqual([...(o >= 5 ? [200, 400] : [400, 200]), o]);
      expect({ o, record: records.get(`rec/orientation-${o}.jpg`) }).toMatchObject({ o, record: { status: 'rendered', width: 400, height: 200, format: 'jpeg' } });
    }
    // HEIC: 400×300, and the portrait one displayed 300×400 (its renditions are portrait too).
    expect(records.get('rec/photo.heic')).toMatchObject({ status: 'rendered', format: 'heif', width: 400, height: 300, hasAlpha: false, animated: false, pages: 1 });
    expect(records.get('rec/portrait.heic')).toMatchObject({ status: 'rendered', format: 'heif', width: 300, height: 400 });
    for (const x of records.get('rec/portrait.heic')!.renditions) expect({ key: x.key, portrait: x.height > x.width }).toEqual({ key: x.key, portrait: true });
    // The failure and the skip carry the report's code and message.
    const failure = first.resize.flatMap((r) => r.failures).find((f) => f.key === 'rec/truncated.jpg')!;
    expect(records.get('rec/truncated.jpg')).toMatchObject({ status: 'failed', reason: { code: 'decode-failed', message: failure.message }, renditions: [] });
    const skip = first.resize.flatMap((r) => r.skipped).find((s) => s.key === 'rec/huge.jpg')!;
    expect(records.get('rec/huge.jpg')).toMatchObject({ status: 'skipped', reason: { code: 'too-large', message: skip.message }, renditions: [] });
    // The collision pair: both rendered, each under its own keys, the owner's as they always were.
    expect(records.get('rec/pair.png')).toMatchObject({ status: 'rendered', width: 200, height: 300, format: 'png' });
    expect(records.get('rec/pair.jpg')!.renditions.map((x) => x.key)).toEqual(expect.arrayContaining(['thumb/rec/pair.webp']));
    for (const x of records.get('rec/pair.png')!.renditions) expect(x.key).toBe(`${x.preset}/rec/pair.png/.${x.format}`);
    expect(first.resize.flatMap((r) => r.skipped).map((s) => s.key)).toEqual(['rec/huge.jpg']);
    for (const [key, r] of records) expect({ key, etag: r.etag, runId: r.runId }).toEqual({ key, etag: etags.get(key), runId: 'run-1' });
    // Every rendition listed is in the bucket with that size and ETag, and every one of the image's is listed.
    for (const r of records.values()) {
      if (r.status !== 'rendered') continue;
      expect(r.renditions).toHaveLength(configCount());
      for (const x of r.renditions) {
        const head = await s3.send(new HeadObjectCommand({ Bucket: buckets.renditions, Key: x.key }));
        expect({ bytes: x.bytes, etag: x.etag, width: x.width, height: x.height, url: x.url }).toEqual({
          bytes: head.ContentLength,
          etag: head.ETag,
          width: Number(head.Metadata!.width),
          height: Number(head.Metadata!.height),
          url: `${DELIVERY}${x.key}`,
        });
      }
    }
  });

  it('lists every new record in the shards\' change lines, counted in their results', async () => {
    const lines = await changeLines('run-1', first.plan.shardCount);
    expect(new Map(lines.map((l) => [l.key, l.change]))).toEqual(
      new Map([...etags.keys()].map((k) => [k, k === 'rec/truncated.jpg' ? 'failed' : 'added'])),
    );
    const sum = (f: (r: ShardResult) => number) => first.resize.reduce((a, r) => a + f(r), 0);
    expect(sum((r) => r.records!.written)).toBe(etags.size);
    expect(sum((r) => r.changes!.added)).toBe(etags.size - 1);
    expect(sum((r) => r.changes!.failed)).toBe(1);
    const rotated = lines.find((l) => l.key === 'rec/rotated-6.jpg')!;
    expect(rotated.renditions).toEqual((await record('rec/rotated-6.jpg'))!.renditions.map((x) => x.key));
  });

  it('updates replaced originals\' records (and only them) in the next run', async () => {
    const etag = await put(buckets.corpus, 'rec/alpha.png', await photoPng(90, 60, 11));
    const pair = await put(buckets.corpus, 'rec/pair.png', await photoPng(100, 150, 12));
    const huge = await put(buckets.corpus, 'rec/huge.jpg', await photoJpeg(1200, 900, 10));
    const { plan, resize } = await runPipeline('run-2');
    expect(await record('rec/alpha.png')).toMatchObject({ etag, status: 'rendered', width: 90, height: 60, hasAlpha: false, runId: 'run-2' });
    expect(await record('rec/pair.png')).toMatchObject({ etag: pair, status: 'rendered', width: 100, height: 150, runId: 'run-2' });
    expect(await record('rec/huge.jpg')).toMatchObject({ etag: huge, status: 'skipped', runId: 'run-2' });
    expect(await changeLines('run-2', plan.shardCount)).toEqual([
      expect.objectContaining({ key: 'rec/alpha.png', change: 'updated', etag }),
      expect.objectContaining({ key: 'rec/huge.jpg', change: 'updated', etag: huge }),
      expect.objectContaining({ key: 'rec/pair.png', change: 'updated', etag: pair }),
    ]);
    expect((await record('rec/anim.gif'))!.runId).toBe('run-1');
    expect(resize.reduce((a, r) => a + r.records!.written, 0)).toBe(3);
  });

  it('a redriven older run leaves the newer records (DynamoDB API reference, TransactWriteItems: ConditionExpression)', async () => {
    const newer = await record('rec/alpha.png');
    const newerPair = await record('rec/pair.png');
    const newerHuge = await record('rec/huge.jpg');
    // run-1's shards again, as a Batch retry: its manifest has alpha.png's older ETag and Last-Modified.
    for (let shard = 0; shard < first.plan.shardCount; shard++) {
      const run = await runJob('resize', env('run-1', configInput, { AWS_BATCH_JOB_ARRAY_INDEX: String(shard), AWS_BATCH_JOB_ATTEMPT: '2' }));
      expect({ shard, code: run.code, stderr: run.stderr }).toEqual({ shard, code: 0, stderr: '' });
    }
    // alpha.png's and pair.png's older versions cannot be read (source-changed, retryable: the
    // records stay as they are); huge.jpg's older one is skipped again without a read, and its record put is refused.
    expect(await record('rec/alpha.png')).toEqual(newer);
    expect(await record('rec/pair.png')).toEqual(newerPair);
    expect(await record('rec/huge.jpg')).toEqual(newerHuge);
    const redriven = await resizeResults('run-1', first.plan.shardCount);
    expect(redriven.flatMap((r) => r.failures).map((f) => [f.key, f.code])).toEqual([
      ['rec/alpha.png', 'source-changed'],
      ['rec/pair.png', 'source-changed'],
      ['rec/truncated.jpg', 'decode-failed'],
    ]);
    expect(redriven.reduce((a, r) => a + r.records!.superseded, 0)).toBe(1);
  });

  it('keeps an image\'s record when its work fails for a reason the next run may not meet', async () => {
    const before = await record('rec/pair.jpg');
    // Its renditions' HEADs answer 500 InternalError, every attempt: read-failed (retryable).
    const proxy = await startFaultProxy({ target: s3server.endpoint, rate: 0, fail: (method, path) => method === 'HEAD' && path.startsWith(`/${buckets.renditions}/`) && path.includes('/rec/pair.') });
    try {
      const { plan, resize } = await runPipeline('run-2b', configInput, { full: true }, { AWS_ENDPOINT_URL_S3: proxy.endpoint, NIGHTSHIFT_S3_MAX_ATTEMPTS: '1' });
      // In key order: images finish in any order within a shard (resize.concurrency).
      expect(resize.flatMap((r) => r.failures).map((f) => [f.key, f.code, f.retryable]).sort((a, b) => String(a[0]).localeCompare(String(b[0])))).toEqual([
        ['rec/pair.jpg', 'read-failed', true],
        ['rec/pair.png', 'read-failed', true],
        ['rec/truncated.jpg', 'decode-failed', false],
      ]);
      expect(await record('rec/pair.jpg')).toEqual(before);
      expect((await changeLines('run-2b', plan.shardCount)).map((l) => l.key)).not.toContain('rec/pair.jpg');
    } finally {
      await proxy.close();
    }
  });

  it('removes a deleted original\'s record with its renditions, in a removed change line; a deleted newcomer takes its own renditions, never the owner\'s', async () => {
    const before = (await record('rec/rotated-6.jpg'))!;
    const newcomer = (await record('rec/pair.png'))!;
    const owner = (await record('rec/pair.jpg'))!;
    for (const key of ['rec/rotated-6.jpg', 'rec/pair.png']) await s3.send(new DeleteObjectCommand({ Bucket: buckets.corpus, Key: key }));
    // Two of seventeen is more than renditions.maxPruneShare: confirmed, as an operator would.
    const { plan } = await runPipeline('run-3', configInput, { confirmPrune: true });
    expect(await record('rec/rotated-6.jpg')).toBeUndefined();
    expect(await record('rec/pair.png')).toBeUndefined();
    for (const x of [...before.renditions, ...newcomer.renditions]) await expect(s3.send(new HeadObjectCommand({ Bucket: buckets.renditions, Key: x.key }))).rejects.toMatchObject({ name: 'NotFound' });
    // The owner keeps its record and every rendition, as they were.
    expect(await record('rec/pair.jpg')).toEqual(owner);
    for (const x of owner.renditions) expect((await s3.send(new HeadObjectCommand({ Bucket: buckets.renditions, Key: x.key }))).ETag).toBe(x.etag);
    expect(await changeLines('run-3', plan.shardCount)).toEqual([
      { key: 'rec/pair.png', change: 'removed', etag: newcomer.etag, renditions: newcomer.renditions.map((x) => x.key) },
      { key: 'rec/rotated-6.jpg', change: 'removed', etag: before.etag, renditions: before.renditions.map((x) => x.key) },
    ]);
  });
});

const manyBuckets = { corpus: 'many-corpus', renditions: 'many-renditions', backup: 'many-backup', work: 'many-work' };
const manyConfig: PipelineConfigInput = { buckets: manyBuckets, resize: { webpEffort: 0 } };

describe('60-image shards', () => {
  // Two shards (an array job has 2 children at least) of 60 equal images each.
  const keys = Array.from({ length: 120 }, (_, i) => `many/img-${String(i).padStart(3, '0')}.jpg`);
  let written: Map<string, ImageRecord>;

  beforeAll(async () => {
    const body = await photoJpeg(48, 32, 100);
    for (const key of keys) await put(manyBuckets.corpus, key, body);
  }, 120_000);

  it('write their records in at most 0.05 DynamoDB write requests per image (retries included)', async () => {
    const { resize } = await runPipeline('many-1', manyConfig);
    expect(resize.map((r) => [r.counts.items, r.records!.written])).toEqual([
      [60, 60],
      [60, 60],
    ]);
    for (const r of resize) expect(r.records!.requests / r.counts.items).toBeLessThanOrEqual(0.05);
    written = new Map();
    for (const key of keys) written.set(key, (await record(key))!);
  }, 300_000);

  it('backfills the records of images whose renditions are current, writing no rendition', async () => {
    for (const key of keys) expect(await store.deleteRecord(key, written.get(key)!.etag)).toBe(true);
    // A full run hands every image to resize, whose renditions it finds current.
    const { resize } = await runPipeline('many-2', manyConfig, { full: true });
    expect(resize.reduce((a, r) => a + (r.backfilled ?? 0), 0)).toBe(120);
    expect(resize.reduce((a, r) => a + r.bytesWritten, 0)).toBe(0);
    for (const key of keys) {
      const r = (await record(key))!;
      expect({ key, valid: imageRecordSchema.safeParse(r).error?.issues }).toEqual({ key, valid: undefined });
      // The placeholder comes from the smallest rendition instead of the decoded level: close, not equal.
      const { placeholder: _p, runId, updatedAt: _u, ...rest } = r;
      // A backfill renders nothing, so it cannot say what the rendering policies did: no `rendering`.
      const { placeholder: _q, updatedAt: _v, rendering: _r, ...was } = written.get(key)!;
      expect({ ...rest, runId }).toEqual({ ...was, runId: 'many-2' });
    }
    expect(new Set((await changeLines('many-2', resize.length, manyBuckets.work)).map((l) => l.change))).toEqual(new Set(['added']));
  }, 300_000);

  it('backfills an image handed to resize with no preset due (the catalogue finds its renditions current), HEADing them then', async () => {
    // Shard 0 of many-1 again as run many-3, each item with no preset due (only its backup would be):
    // the shape in which a run hands resize images to backfill. Half of them lack their record.
    const work = manyBuckets.work;
    const plan = await getJson<Plan>(s3, work, runKeys('many-1').plan);
    const items = (await getText(s3, work, runKeys('many-1').shard(0))).split('\n').filter(Boolean).map((l) => ({ ...JSON.parse(l), presets: [], backup: false }) as { key: string });
    const bare = items.filter((_, i) => i % 2 === 0).map((i) => i.key);
    for (const key of bare) expect(await store.deleteRecord(key, written.get(key)!.etag)).toBe(true);
    await s3.send(new PutObjectCommand({ Bucket: work, Key: runKeys('many-3').plan, Body: JSON.stringify({ ...plan, runId: 'many-3' }) }));
    await s3.send(new PutObjectCommand({ Bucket: work, Key: runKeys('many-3').shard(0), Body: items.map((i) => `${JSON.stringify(i)}\n`).join('') }));
    const run = await runJob('resize', env('many-3', manyConfig, { AWS_BATCH_JOB_ARRAY_INDEX: '0', AWS_BATCH_JOB_ATTEMPT: '1' }));
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const [result] = await resizeResults('many-3', 1, work);
    expect({ backfilled: result!.backfilled, written: result!.records!.written, bytesWritten: result!.bytesWritten, skipped: result!.skippedByCode }).toEqual({
      backfilled: bare.length,
      written: bare.length,
      bytesWritten: 0,
      skipped: { 'up-to-date': items.length },
    });
    for (const key of bare) {
      const { placeholder: _p, updatedAt: _u, ...rest } = (await record(key))!;
      const { placeholder: _q, updatedAt: _v, rendering: _r, ...was } = written.get(key)!;
      expect(rest).toEqual({ ...was, runId: 'many-3' });
    }
  }, 300_000);

  it('lists the images whose backfill could not be read in its result, so promotion takes back only their record marker', async () => {
    // Shard 0 of many-1 again as run many-4: each item backfill work, as the catalogue plans it for an image with no record marker.
    const work = manyBuckets.work;
    const plan = await getJson<Plan>(s3, work, runKeys('many-1').plan);
    const items = (await getText(s3, work, runKeys('many-1').shard(0))).split('\n').filter(Boolean).map((l) => ({ ...JSON.parse(l), change: 'unchanged', presets: [], backup: false, backfill: true }) as { key: string });
    const broken = items.slice(0, 4).map((i) => i.key);
    const bare = items.slice(0, 8).map((i) => i.key);
    for (const key of bare) expect(await store.deleteRecord(key, (await record(key))!.etag)).toBe(true);
    // Not dense (no listing): each rendition is HEADed, and only the backfill's GETs of the broken images' renditions fail.
    await s3.send(new PutObjectCommand({ Bucket: work, Key: runKeys('many-4').plan, Body: JSON.stringify({ ...plan, runId: 'many-4', counts: { ...plan.counts, work: 0 } }) }));
    await s3.send(new PutObjectCommand({ Bucket: work, Key: runKeys('many-4').shard(0), Body: items.map((i) => `${JSON.stringify(i)}\n`).join('') }));
    // Their renditions' GETs (`/many-renditions/<preset>/many/img-000.webp`) answer 500 InternalError.
    const stems = broken.map((k) => `/${k.replace(/\.jpg$/, '.')}`);
    const proxy = await startFaultProxy({ target: s3server.endpoint, rate: 0, fail: (method, path) => method === 'GET' && path.startsWith(`/${manyBuckets.renditions}/`) && stems.some((st) => path.includes(st)) });
    try {
      const run = await runJob('resize', env('many-4', manyConfig, { AWS_ENDPOINT_URL_S3: proxy.endpoint, NIGHTSHIFT_S3_MAX_ATTEMPTS: '1', AWS_BATCH_JOB_ARRAY_INDEX: '0', AWS_BATCH_JOB_ATTEMPT: '1' }));
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    } finally {
      await proxy.close();
    }
    const [result] = await resizeResults('many-4', 1, work);
    expect({ backfilled: result!.backfilled, unrecorded: result!.unrecorded, bytesWritten: result!.bytesWritten }).toEqual({ backfilled: bare.length - broken.length, unrecorded: broken, bytesWritten: 0 });
    for (const key of bare) expect({ key, recorded: (await record(key)) !== undefined }).toEqual({ key, recorded: !broken.includes(key) });
    expect(undoneInShard([result]).map(([k, ops]) => [k, [...ops]])).toEqual(broken.map((k) => [k, ['record']]));
  }, 300_000);
});

/** Renditions per image under the default configuration: every preset × format. */
const configCount = () => parsePipelineConfig(configInput).presets.reduce((a, p) => a + p.formats.length, 0);

const stopBuckets = { corpus: 'stop-corpus', renditions: 'stop-renditions', backup: 'stop-backup', work: 'stop-work' };
const stopConfig: PipelineConfigInput = { buckets: stopBuckets, resize: { webpEffort: 0 } };

describe('a resize shard stopped after a batch of records', () => {
  it('exits 143 with no result; its retry writes the result and still lists the records the stopped attempt wrote', async () => {
    const keys = Array.from({ length: 160 }, (_, i) => `stop/img-${String(i).padStart(3, '0')}.jpg`);
    const body = await photoJpeg(600, 400, 5);
    for (const key of keys) await put(stopBuckets.corpus, key, body);
    const runId = 'stop-1';
    expect(await runJob('catalog', env(runId, stopConfig))).toMatchObject({ code: 0, stderr: '' });
    const shardEnv = (attempt: number) => env(runId, stopConfig, { AWS_BATCH_JOB_ARRAY_INDEX: '0', AWS_BATCH_JOB_ATTEMPT: String(attempt), NIGHTSHIFT_GRACE_SECONDS: '0' });
    const manifest = (await getText(s3, stopBuckets.work, runKeys(runId).shard(0))).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { key: string }).key);
    const { child, done } = spawnJob('resize', shardEnv(1));
    // Stop it once its first batch is in the table, with items still to do.
    for (;;) {
      const found = await Promise.all(manifest.slice(0, 40).map((k) => record(k)));
      if (found.filter(Boolean).length >= 25) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGTERM');
    const stopped = await done;
    expect(stopped.code).toBe(143);
    await expect(getText(s3, stopBuckets.work, runKeys(runId).result('resize', 0))).rejects.toMatchObject({ name: 'NoSuchKey' });
    const before = (await Promise.all(manifest.map((k) => record(k)))).filter(Boolean).length;
    expect(before).toBeGreaterThanOrEqual(25);
    expect(before).toBeLessThan(manifest.length);
    const retry = await runJob('resize', shardEnv(2));
    expect({ code: retry.code, stderr: retry.stderr }).toEqual({ code: 0, stderr: '' });
    const [result] = await resizeResults(runId, 1, stopBuckets.work);
    expect(result!.counts.items).toBe(manifest.length);
    const lines = await changeLines(runId, 1, stopBuckets.work);
    expect(lines.map((l) => l.key)).toEqual(manifest);
    // The records the stopped attempt wrote are listed (as updated: whether they were new is no longer known), the rest as added.
    expect(result!.changes!.updated + result!.changes!.added).toBe(manifest.length);
    expect(result!.changes!.updated).toBe(before);
  }, 300_000);
});

describe('without NIGHTSHIFT_IMAGES_TABLE', () => {
  it('writes no record and no change lines, and says so once', async () => {
    const noTable = { ...manyConfig, buckets: stopBuckets };
    const runId = 'plain-1';
    const bare = (extra: Record<string, string> = {}) => ({ ...env(runId, noTable, extra), NIGHTSHIFT_IMAGES_TABLE: undefined }) as unknown as Record<string, string>;
    await put(stopBuckets.corpus, 'plain/new.jpg', await photoJpeg(64, 48, 9));
    expect(await runJob('catalog', bare())).toMatchObject({ code: 0, stderr: '' });
    const { shardCount } = await getJson<Plan>(s3, stopBuckets.work, runKeys(runId).plan);
    for (let shard = 0; shard < shardCount; shard++) {
      const run = await runJob('resize', bare({ AWS_BATCH_JOB_ARRAY_INDEX: String(shard), AWS_BATCH_JOB_ATTEMPT: '1' }));
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      expect(run.logs.filter((l) => String(l.msg).includes('NIGHTSHIFT_IMAGES_TABLE is not set'))).toHaveLength(1);
      await expect(getText(s3, stopBuckets.work, runKeys(runId).changes(shard))).rejects.toMatchObject({ name: 'NoSuchKey' });
    }
    const results = await resizeResults(runId, shardCount, stopBuckets.work);
    expect(results.reduce((a, r) => a + r.counts.processed, 0)).toBeGreaterThan(0);
    for (const r of results) expect(r).not.toHaveProperty('records');
    expect(await record('plain/new.jpg')).toBeUndefined();
  }, 120_000);
});
