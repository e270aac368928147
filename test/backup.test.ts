/**
 * The backup job's two ways of checking and verifying copies, against the embedded S3 server:
 * listing the shard's key range when the work is dense (a first or full run), HeadObject per key
 * when it is sparse (a nightly run with a few changes). Both must give the same outcomes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopyObjectCommand, GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { runKeys, STATE_CATALOG_KEY } from '../core/keys';
import type { Plan } from '../core/plan';
import type { ShardResult } from '../core/results';
import { getJson, getText } from '../adapters/s3';
import { ListingCursor, listPages } from '../adapters/s3';
import { runJob, spawnJob, startTestS3, type TestS3 } from './support/processes';
import { stopDuringPartUpload } from './support/stop-upload';

const buckets = { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' };
const KEYS = [...Array.from({ length: 40 }, (_, i) => `docs/${String(i).padStart(2, '0')}.jpg`), 'docs/é-NFC.jpg', 'docs/e\u0301-NFD.jpg', 'docs/😀.jpg'];

let server: TestS3;
let tmp: string;

const body = (key: string, version: number) => Buffer.from(`${key} version ${version} `.repeat(50));
const env = (runId: string, extra: Record<string, string> = {}) => ({
  AWS_ENDPOINT_URL_S3: server.endpoint,
  NIGHTSHIFT_RUN_ID: runId,
  NIGHTSHIFT_CONFIG: JSON.stringify({ buckets }),
  NIGHTSHIFT_TMPDIR: tmp,
  ...extra,
});

async function backupRun(runId: string, input: object = {}, extra: Record<string, string> = {}) {
  expect((await runJob('catalog', env(runId, { ...extra, NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['backup'], ...input }) }))).code).toBe(0);
  const plan = await getJson<Plan>(server.s3, buckets.work, runKeys(runId).plan);
  const logs: Record<string, unknown>[] = [];
  const results: ShardResult[] = [];
  for (let shard = 0; shard < plan.shardCount; shard++) {
    const run = await runJob('backup', env(runId, { ...extra, AWS_BATCH_JOB_ARRAY_INDEX: String(shard) }));
    expect({ shard, code: run.code, stderr: run.stderr }).toEqual({ shard, code: 0, stderr: '' });
    logs.push(...run.logs);
    results.push(await getJson<ShardResult>(server.s3, buckets.work, runKeys(runId).result('backup', shard)));
  }
  const total = (field: 'processed' | 'skipped' | 'failed') => results.reduce((n, r) => n + r.counts[field], 0);
  return { plan, metrics: logs.filter((l) => l._aws), mode: logs.map((l) => l.msg as string).filter((m) => /work: checking/.test(m)), processed: total('processed'), skipped: total('skipped'), failed: total('failed'), results };
}

async function text(bucket: string, key: string): Promise<string> {
  return (await server.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-backup-'));
  server = await startTestS3(Object.values(buckets));
  for (const key of KEYS) await server.s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: key, Body: body(key, 1) }));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('backup checks and verification', () => {
  it('lists the key range on a first run (dense work), copies everything and verifies it', async () => {
    const run = await backupRun('run-dense');
    expect(run.mode).toEqual(['dense work: checking and verifying backups by listing', 'dense work: checking and verifying backups by listing']);
    expect({ processed: run.processed, skipped: run.skipped, failed: run.failed }).toEqual({ processed: KEYS.length, skipped: 0, failed: 0 });
    for (const key of KEYS) expect(await text(buckets.backup, key)).toBe(body(key, 1).toString());
    // In the configured storage class (backup.storageClass, STANDARD_IA by default), listed and read back.
    const listed = new Set<string | undefined>();
    for await (const page of listPages(server.s3, { bucket: buckets.backup, prefix: 'docs/' })) for (const o of page.objects) listed.add(o.StorageClass);
    expect([...listed]).toEqual(['STANDARD_IA']);
    expect((await server.s3.send(new HeadObjectCommand({ Bucket: buckets.backup, Key: KEYS[0]! }))).StorageClass).toBe('STANDARD_IA');
    // Each child publishes its shard's figures in embedded metric format, by operation.
    expect(run.metrics).toHaveLength(run.plan.shardCount);
    expect(run.metrics[0]).toMatchObject({ _aws: { CloudWatchMetrics: [{ Namespace: 'Nightshift', Dimensions: [['Operation']] }] }, Operation: 'backup', runId: 'run-dense', shard: 0 });
    expect(run.metrics.reduce((n, m) => n + (m.ShardProcessed as number), 0)).toBe(KEYS.length);
  }, 120_000);

  it('finds every existing backup by listing on a full run, unicode keys included, and copies nothing', async () => {
    const run = await backupRun('run-full', { full: true });
    expect(run.mode[0]).toMatch(/^dense/);
    expect({ processed: run.processed, skipped: run.skipped, failed: run.failed }).toEqual({ processed: 0, skipped: KEYS.length, failed: 0 });
    expect(new Set(run.results.flatMap((r) => r.skipped.map((s) => s.code)))).toEqual(new Set(['up-to-date']));
  }, 120_000);

  it('asks HeadObject per key when a nightly run has a few changes (sparse work)', async () => {
    await server.s3.send(new CopyObjectCommand({ Bucket: buckets.work, Key: STATE_CATALOG_KEY, CopySource: `${buckets.work}/${runKeys('run-dense').catalog}` }));
    await server.s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: 'docs/07.jpg', Body: body('docs/07.jpg', 2) }));
    const run = await backupRun('run-sparse');
    expect(run.plan.counts).toMatchObject({ work: 1, changed: 1 });
    expect(run.mode[0]).toBe('sparse work: checking and verifying backups with HeadObject');
    expect({ processed: run.processed, skipped: run.skipped, failed: run.failed }).toEqual({ processed: 1, skipped: 0, failed: 0 });
    expect(await text(buckets.backup, 'docs/07.jpg')).toBe(body('docs/07.jpg', 2).toString());
  }, 120_000);
});

describe('tags', () => {
  // A backup keeps the original's tags on both copy paths: CopyObject (TaggingDirective COPY) and
  // the multipart UploadPartCopy path (forced here with a 5 MiB threshold and part size).
  it.each([
    ['CopyObject', 'tags/single.jpg', 1024, {}],
    ['UploadPartCopy', 'tags/multipart.jpg', 6 * 1024 * 1024, { multipartThresholdBytes: 5 * 1024 * 1024, partSizeBytes: 5 * 1024 * 1024 }],
  ])('copies the tags of a tagged original through %s', async (_, key, size, backupConfig) => {
    await server.s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: key, Body: Buffer.alloc(size, 7), Tagging: 'owner=studio%20b&retention=7y&formula=a%2Bb' }));
    const runId = `run-tags-${key.includes('multi') ? 'mp' : 'single'}`;
    const run = await backupRun(runId, { prefix: key }, { NIGHTSHIFT_CONFIG: JSON.stringify({ buckets, backup: backupConfig }) });
    expect({ processed: run.processed, failures: run.results.flatMap((r) => r.failures) }).toEqual({ processed: 1, failures: [] });
    const { TagSet } = await server.s3.send(new GetObjectTaggingCommand({ Bucket: buckets.backup, Key: key }));
    // A space and a plus survive both paths: the multipart one writes x-amz-tagging itself, percent-encoded
    // (S3 API reference, CreateMultipartUpload "x-amz-tagging": "encoded as URL Query parameters").
    expect(TagSet).toEqual([{ Key: 'owner', Value: 'studio b' }, { Key: 'retention', Value: '7y' }, { Key: 'formula', Value: 'a+b' }]);
  }, 120_000);
});

describe('sources whose ETag no copy can share', () => {
  // An object uploaded in parts has the ETag "<md5 of part md5s>-N"; one under SSE-KMS an ETag
  // that is not the MD5 of its data. A single-part copy of either gets an ETag of its own, so the
  // backup records the source's ETag in its metadata, and a rerun finds the version backed up.
  it('copies a multipart original once: a full rerun finds its backup up to date', async () => {
    const big = Buffer.alloc(12 * 1024 * 1024, 3);
    await new Upload({ client: server.s3, params: { Bucket: buckets.corpus, Key: 'parts/scan.tif', Body: big, ContentType: 'image/tiff', Metadata: { camera: 'flatbed' } }, partSize: 5 * 1024 * 1024 }).done();
    const source = await server.s3.send(new HeadObjectCommand({ Bucket: buckets.corpus, Key: 'parts/scan.tif' }));
    expect(source.ETag).toMatch(/-3"$/);
    const first = await backupRun('run-parts-1', { prefix: 'parts/' });
    expect({ processed: first.processed, failed: first.failed }).toEqual({ processed: 1, failed: 0 });
    const copy = await server.s3.send(new HeadObjectCommand({ Bucket: buckets.backup, Key: 'parts/scan.tif' }));
    expect(copy.ETag).not.toBe(source.ETag);
    expect({ type: copy.ContentType, meta: copy.Metadata }).toEqual({ type: 'image/tiff', meta: { camera: 'flatbed', 'source-etag': source.ETag!.replaceAll('"', '') } });
    for (const runId of ['run-parts-2', 'run-parts-3']) {
      const again = await backupRun(runId, { prefix: 'parts/', full: true });
      expect({ runId, processed: again.processed, skipped: again.skipped, codes: again.results.flatMap((r) => r.skipped.map((x) => x.code)) }).toEqual({ runId, processed: 0, skipped: 1, codes: ['up-to-date'] });
    }
  }, 120_000);

  // S3 API reference, the Object data type's ETag: an object PUT or copied under SSE-KMS or
  // DSSE-KMS has an ETag that is not the MD5 of its data; under SSE-S3 (every bucket's default) or
  // none, a single-part object's ETag is the MD5. Which one an object has is its own: the
  // uploader's per-object key, or the bucket default when it was written. No configuration says it.
  it.each([
    ['no hint', 'kms/', {}],
    ['the corpus configured as SSE-KMS (HEAD before copying)', 'kms-hint/', { sseKms: true }],
  ])('decides per object from its encryption (%s): SSE-KMS and DSSE-KMS originals record their ETag and are copied once, SSE-S3 ones keep it', async (_, prefix, corpus) => {
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const put = (k: string, sse?: 'aws:kms' | 'aws:kms:dsse') => server.s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: k, Body: body(k, 1), ContentType: 'image/jpeg', ...(sse ? { ServerSideEncryption: sse, SSEKMSKeyId: key } : {}) }));
    await put(`${prefix}a.jpg`, 'aws:kms');
    await put(`${prefix}b.jpg`, 'aws:kms:dsse');
    await put(`${prefix}c.jpg`);
    const heads = Object.fromEntries(await Promise.all(['a', 'b', 'c'].map(async (n) => [n, await server.s3.send(new HeadObjectCommand({ Bucket: buckets.corpus, Key: `${prefix}${n}.jpg` }))] as const)));
    expect({ a: heads.a!.ServerSideEncryption, b: heads.b!.ServerSideEncryption, c: heads.c!.ServerSideEncryption }).toEqual({ a: 'aws:kms', b: 'aws:kms:dsse', c: 'AES256' });
    const run = await backupRun(`run-${prefix.slice(0, -1)}`, { prefix }, { NIGHTSHIFT_CONFIG: JSON.stringify({ buckets, corpus }) });
    expect({ processed: run.processed, failed: run.failed }).toEqual({ processed: 3, failed: 0 });
    for (const n of ['a', 'b']) {
      const copy = await server.s3.send(new HeadObjectCommand({ Bucket: buckets.backup, Key: `${prefix}${n}.jpg` }));
      expect({ n, type: copy.ContentType, meta: copy.Metadata }).toEqual({ n, type: 'image/jpeg', meta: { 'source-etag': heads[n]!.ETag!.replaceAll('"', '') } });
    }
    const plain = await server.s3.send(new HeadObjectCommand({ Bucket: buckets.backup, Key: `${prefix}c.jpg` }));
    expect({ etag: plain.ETag, meta: plain.Metadata }).toEqual({ etag: heads.c!.ETag, meta: {} });
    // Full runs (dense: checked by listing, HEAD where the listed ETag differs) find all three backed up.
    for (const runId of [`run-${prefix.slice(0, -1)}-2`, `run-${prefix.slice(0, -1)}-3`]) {
      const again = await backupRun(runId, { prefix, full: true }, { NIGHTSHIFT_CONFIG: JSON.stringify({ buckets, corpus }) });
      expect({ runId, processed: again.processed, skipped: again.skipped }).toEqual({ runId, processed: 0, skipped: 3 });
    }
  }, 120_000);
});

describe('a multipart copy stopped by SIGTERM', () => {
  // S3 keeps (and bills) the parts of a multipart upload until it is completed or aborted (S3 API
  // reference, AbortMultipartUpload and CreateMultipartUpload). A job stopped with a copy still
  // running after its grace period aborts the upload before it exits, instead of leaving it to the
  // lifecycle rule a week later. Its part copies are held at a loopback proxy, so the copy is
  // running whenever the signal comes.
  it('aborts the upload before exiting 143', async () => {
    const key = 'stopped/scan.tif';
    await server.s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: key, Body: Buffer.alloc(6 * 1024 * 1024, 5) }));
    const config = JSON.stringify({ buckets, backup: { multipartThresholdBytes: 5 * 1024 * 1024, partSizeBytes: 5 * 1024 * 1024 } });
    expect((await runJob('catalog', env('run-stopped', { NIGHTSHIFT_CONFIG: config, NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['backup'], prefix: 'stopped/' }) }))).code).toBe(0);
    const shard = (await Promise.all([0, 1].map((i) => getText(server.s3, buckets.work, runKeys('run-stopped').shard(i))))).findIndex((t) => t.includes(key));
    const stopped = await stopDuringPartUpload(server.endpoint, (endpoint) => spawnJob('backup', env('run-stopped', { NIGHTSHIFT_CONFIG: config, AWS_ENDPOINT_URL_S3: endpoint, AWS_BATCH_JOB_ARRAY_INDEX: String(shard), NIGHTSHIFT_GRACE_SECONDS: '0' })));
    expect(stopped.code).toBe(143);
    expect({ created: stopped.created, aborted: stopped.aborted }).toEqual({ created: 1, aborted: 1 });
  }, 120_000);
});

describe('ListingCursor', () => {
  it('answers keys asked in order from one forward listing, and declines keys asked out of order', async () => {
    const cursor = new ListingCursor(server.s3, buckets.corpus);
    expect((await cursor.find('docs/05.jpg'))?.Key).toBe('docs/05.jpg');
    expect(await cursor.find('docs/05.jpgx')).toBeUndefined();
    expect((await cursor.find('docs/39.jpg'))?.Size).toBe(body('docs/39.jpg', 1).length);
    expect(await cursor.find('docs/00.jpg')).toBeNull(); // behind the cursor: the caller asks HeadObject
    const concurrent = await Promise.all(['docs/e\u0301-NFD.jpg', 'docs/é-NFC.jpg', 'docs/😀.jpg', 'zzz'].map((k) => cursor.find(k)));
    expect(concurrent.map((o) => o?.Key)).toEqual(['docs/e\u0301-NFD.jpg', 'docs/é-NFC.jpg', 'docs/😀.jpg', undefined]);
  });
});
