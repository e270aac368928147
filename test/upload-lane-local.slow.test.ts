import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopyObjectCommand, DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import sharp from 'sharp';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parsePipelineConfig } from '../core/config';
import { imageRecordSchema } from '../core/records/record';
import { decodeEventKey, parseS3EventMessage, type S3EventMessage, type S3EventRecord } from '../core/s3-event';
import { createDynamoClient, ImageRecordStore } from '../adapters/dynamodb';
import { createS3Client, getJson } from '../adapters/s3';
import { runKeys } from '../core/keys';
import { createLogger } from '../adapters/log';
import { LEFT_FOR_NIGHT, uploadHandler, type LaneRecord } from '../functions/on-upload';
import { LOCAL_BUCKETS } from '../local/runner';
import { LANE_REMOVED_PREFIX } from '../core/upload-lane';
import { photoJpeg, tinyPdf } from '../local/sample/images';
import { startServe } from './support/cli';
import { runJob, spawnJob } from './support/processes';
import { startFaultProxy } from './support/fault-proxy';
import { runCli } from './support/cli';
import { readEml } from './support/eml';

const buckets = LOCAL_BUCKETS;
/** The configuration, as a --config file holds it (cdk.json's context.nightshift). */
const configFile = {
  notificationEmails: ['operator@nightshift.local'],
  presets: [
    { name: 'thumb', width: 64, formats: ['jpeg', 'webp'] },
    { name: 'large', width: 320, formats: ['jpeg'] },
  ],
  resize: { webpEffort: 0 },
  filter: { excludePrefixes: ['private/'] },
  onUpload: { enabled: true, maxPixels: 400_000 },
};
const { notificationEmails: _emails, ...pipeline } = configFile;
const config = parsePipelineConfig({ ...pipeline, buckets });
const log = createLogger({}, { write: () => undefined });

interface ServeInfo {
  endpoint: string;
  api: string;
  dynamodb: string;
  uploadLane: string;
}

let dir: string;
let serve: ChildProcess;
let info: ServeInfo;
let s3: S3Client;
let client: DynamoDBClient;
let store: ImageRecordStore<LaneRecord>;
/** Writes this file made to the corpus bucket: each sends one event. */
let corpusWrites = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'upload-lane-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configFile));
  // Its stderr (the lane's log lines) is kept by the helper, not printed among the test results.
  const started = await startServe(join(dir, '.nightshift'), dir, ['--on-upload', '--config', 'config.json']);
  serve = started.child;
  info = started.info as unknown as ServeInfo;
  s3 = createS3Client({ endpoint: info.endpoint, maxAttempts: 3 }, {});
  client = createDynamoClient({ endpoint: info.dynamodb, maxAttempts: 3 }, {});
  store = new ImageRecordStore<LaneRecord>(client, 'nightshift-images');
}, 120_000);

afterAll(async () => {
  client?.destroy();
  s3?.destroy();
  if (serve?.exitCode === null) {
    serve.kill('SIGTERM');
    await once(serve, 'exit');
  }
  rmSync(dir, { recursive: true, force: true });
});

type JournalLine = { sent?: S3EventMessage; messageId?: string; done?: string; dead?: string; retry?: string };
const journal = (): JournalLine[] => (existsSync(info.uploadLane) ? readFileSync(info.uploadLane, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as JournalLine) : []);
/** Every event record the S3 server sent, in order. */
const sentRecords = (): S3EventRecord[] => journal().flatMap((l) => l.sent?.Records ?? []);

/** Waits until the lane has received an event for each corpus write so far and finished every message (done or dead). */
async function settled(): Promise<void> {
  for (;;) {
    const lines = journal();
    const sent = lines.filter((l) => l.sent).map((l) => l.messageId!);
    const finished = new Set(lines.flatMap((l) => [l.done, l.dead]).filter(Boolean));
    if (sent.length >= corpusWrites && sent.every((id) => finished.has(id))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const put = (key: string, body: Buffer) => (corpusWrites++, s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: key, Body: body, ContentType: key.endsWith('.jpg') ? 'image/jpeg' : 'text/plain' })));
const remove = (key: string) => (corpusWrites++, s3.send(new DeleteObjectCommand({ Bucket: buckets.corpus, Key: key })));
/** The local image API's status for `key` (what an application asks). */
const api = async (key: string) => ({ statusCode: (await fetch(`${info.api}images/${key}`)).status });
const renditionsOf = async (stem: string) => {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: buckets.renditions }));
  return (out.Contents ?? []).map((o) => o.Key!).filter((k) => k.includes(stem)).sort();
};
const sourceEtagOf = async (key: string) => (await s3.send(new HeadObjectCommand({ Bucket: buckets.renditions, Key: key }))).Metadata?.['source-etag'];
const eventsOf = (key: string) => sentRecords().filter((r) => decodeEventKey(r.s3.object.key) === key);
const message = (records: readonly S3EventRecord[]) => JSON.stringify({ Records: records });

describe('S3 event notifications from the embedded S3 server', () => {
  // S3 user guide, "Event message structure" (version 2.1): Records[], eventVersion "2.1", eventSource
  // "aws:s3", eventName without the "s3:" prefix, s3.object.key URL-encoded (a space is "+"),
  // size and eTag for ObjectCreated only, a hexadecimal sequencer.
  test('PUT, copy, multipart completion and DELETE each send one v2.1 record of the documented shape', async () => {
    const before = sentRecords().length;
    const body = await photoJpeg(40, 30, 1);
    await put('shape/a photo.jpg', body);
    corpusWrites++;
    await s3.send(new CopyObjectCommand({ Bucket: buckets.corpus, Key: 'shape/copy.jpg', CopySource: `${buckets.corpus}/shape/a%20photo.jpg` }));
    corpusWrites++;
    await new Upload({ client: s3, params: { Bucket: buckets.corpus, Key: 'shape/big.jpg', Body: Buffer.concat([body, Buffer.alloc(6 * 1024 * 1024)]) }, partSize: 5 * 1024 * 1024 }).done();
    await remove('shape/copy.jpg');
    await s3.send(new PutObjectCommand({ Bucket: buckets.renditions, Key: 'not-notified.jpg', Body: body }));
    await settled();
    const records = sentRecords().slice(before);
    expect(records.map((r) => [r.eventName, r.s3.object.key])).toEqual([
      ['ObjectCreated:Put', 'shape/a+photo.jpg'],
      ['ObjectCreated:Copy', 'shape/copy.jpg'],
      ['ObjectCreated:CompleteMultipartUpload', 'shape/big.jpg'],
      ['ObjectRemoved:Delete', 'shape/copy.jpg'],
    ]);
    const head = await s3.send(new HeadObjectCommand({ Bucket: buckets.corpus, Key: 'shape/big.jpg' }));
    const big = records[2]!;
    expect(big).toMatchObject({ eventVersion: '2.1', eventSource: 'aws:s3', s3: { s3SchemaVersion: '1.0', bucket: { name: buckets.corpus, arn: `arn:aws:s3:::${buckets.corpus}` }, object: { size: head.ContentLength, eTag: head.ETag!.replaceAll('"', '') } } });
    expect(big.s3.object.eTag).toMatch(/^[0-9a-f]{32}-2$/);
    expect(records[3]!.s3.object).not.toHaveProperty('eTag');
    expect(Number.isNaN(Date.parse(big.eventTime))).toBe(false);
    const sequencers = records.map((r) => r.s3.object.sequencer);
    expect(sequencers.every((s) => /^[0-9A-F]+$/.test(s))).toBe(true);
    expect([...sequencers].sort()).toEqual(sequencers);
    expect(parseS3EventMessage(message([records[0]!]))).toEqual([{ kind: 'created', bucket: buckets.corpus, key: 'shape/a photo.jpg', etag: expect.stringMatching(/^".+"$/), eventTime: records[0]!.eventTime }]);
  });

  test('the s3:TestEvent message is acknowledged and does nothing', async () => {
    const handler = uploadHandler({ s3, records: store, config, log });
    const test = { Service: 'Amazon S3', Event: 's3:TestEvent', Time: '2026-12-04T10:00:00.000Z', Bucket: buckets.corpus, RequestId: 'r', HostId: 'h' };
    expect(await handler({ Records: [{ messageId: 'm1', body: JSON.stringify(test) }, { messageId: 'm2', body: 'not json' }] })).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
  });
});

describe('the lane', () => {
  test('upload → renditions and a rendered record; replace → new renditions, record updated', async () => {
    const first = await put('lane/one.jpg', await photoJpeg(400, 300, 2));
    await settled();
    const record = await store.getRecord('lane/one.jpg');
    expect(imageRecordSchema.parse(record)).toMatchObject({ status: 'rendered', etag: first.ETag, runId: 'upload-lane', width: 400, height: 300 });
    expect(await renditionsOf('lane/one.')).toEqual(['large/lane/one.jpeg', 'thumb/lane/one.jpeg', 'thumb/lane/one.webp']);
    expect(await sourceEtagOf('thumb/lane/one.webp')).toBe(first.ETag!.replaceAll('"', ''));
    expect((await api('lane/one.jpg')).statusCode).toBe(200);

    const second = await put('lane/one.jpg', await photoJpeg(300, 400, 3));
    await settled();
    expect(await store.getRecord('lane/one.jpg')).toMatchObject({ status: 'rendered', etag: second.ETag, width: 300, height: 400 });
    for (const key of await renditionsOf('lane/one.')) expect(await sourceEtagOf(key)).toBe(second.ETag!.replaceAll('"', ''));
  });

  test('a stale event (its ETag no longer current) and a removal of an object that exists again do nothing', async () => {
    const old = await put('lane/stale.jpg', await photoJpeg(200, 150, 4));
    await settled();
    const staleEvent = eventsOf('lane/stale.jpg');
    const current = await put('lane/stale.jpg', await photoJpeg(150, 200, 5));
    await settled();
    const before = await store.getRecord('lane/stale.jpg');
    expect(before).toMatchObject({ etag: current.ETag });
    expect(old.ETag).not.toBe(current.ETag);
    // The old version's ObjectCreated again (a duplicate, late), and a removal event while the object exists.
    const removal = { ...staleEvent[0]!, eventName: 'ObjectRemoved:Delete', s3: { ...staleEvent[0]!.s3, object: { key: staleEvent[0]!.s3.object.key, sequencer: '0' } } };
    const handler = uploadHandler({ s3, records: store, config, log });
    expect(await handler({ Records: [{ messageId: 'a', body: message(staleEvent) }, { messageId: 'b', body: message([removal]) }] })).toEqual({ batchItemFailures: [] });
    expect(await store.getRecord('lane/stale.jpg')).toEqual(before);
    for (const key of await renditionsOf('lane/stale.')) expect(await sourceEtagOf(key)).toBe(current.ETag!.replaceAll('"', ''));
  });

  test('delete → the API answers 404 at once (a tombstone); a restore brings the record back', async () => {
    await put('lane/gone.jpg', await photoJpeg(200, 150, 6));
    await settled();
    await remove('lane/gone.jpg');
    await settled();
    expect(await store.getRecord('lane/gone.jpg')).toMatchObject({ status: 'removed' });
    expect((await api('lane/gone.jpg')).statusCode).toBe(404);
    expect(await renditionsOf('lane/gone.')).toHaveLength(3); // left for the night's prune
    const restored = await put('lane/gone.jpg', await photoJpeg(200, 150, 6));
    await settled();
    expect(await store.getRecord('lane/gone.jpg')).toMatchObject({ status: 'rendered', etag: restored.ETag });
  });

  test('above maxPixels, above maxBytes, undecodable, or on its last receive: a skipped record left for the night, with the measured size', async () => {
    await put('lane/huge.jpg', await photoJpeg(800, 600, 7));
    await put('lane/broken.jpg', tinyPdf());
    await settled();
    expect(await store.getRecord('lane/huge.jpg')).toMatchObject({ status: 'skipped', reason: { code: LEFT_FOR_NIGHT, message: expect.stringContaining('800×600 (480000 pixels), above onUpload.maxPixels (400000)') } });
    expect(await store.getRecord('lane/broken.jpg')).toMatchObject({ status: 'skipped', reason: { code: LEFT_FOR_NIGHT } });
    expect(await renditionsOf('lane/huge.')).toEqual([]);

    const small = parsePipelineConfig({ ...config, onUpload: { enabled: true, maxBytes: 1000 } });
    const body = await photoJpeg(100, 80, 8);
    const head = await put('lane/bytes.jpg', body);
    await settled();
    const bodyOf = message(eventsOf('lane/bytes.jpg').filter((r) => r.s3.object.eTag === head.ETag!.replaceAll('"', '')));
    await uploadHandler({ s3, records: store, config: small, log })({ Records: [{ messageId: 'x', body: bodyOf }] });
    // The same version as the lane rendered: a record of the same version is replaced (adapters/dynamodb.ts).
    expect(await store.getRecord('lane/bytes.jpg')).toMatchObject({ status: 'skipped', reason: { code: LEFT_FOR_NIGHT, message: expect.stringContaining(`${body.length} bytes, above onUpload.maxBytes (1000)`) } });
    await uploadHandler({ s3, records: store, config, log })({ Records: [{ messageId: 'y', body: bodyOf, attributes: { ApproximateReceiveCount: '3' } }] });
    expect(await store.getRecord('lane/bytes.jpg')).toMatchObject({ status: 'skipped', reason: { code: LEFT_FOR_NIGHT, message: expect.stringContaining('receive 3') } });
  });

  test('an image that shares its rendition keys with another (a.png beside a.jpg) is left for the night, the other\'s renditions untouched', async () => {
    await put('pair/a.jpg', await photoJpeg(120, 90, 10));
    await settled();
    const owner = await renditionsOf('pair/a.');
    expect(owner.length).toBeGreaterThan(0);
    const etags = await Promise.all(owner.map(sourceEtagOf));
    await s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: 'pair/a.png', Body: await sharp({ create: { width: 60, height: 40, channels: 4, background: '#0a0' } }).png().toBuffer(), ContentType: 'image/png' }));
    corpusWrites++;
    await settled();
    expect(await store.getRecord('pair/a.png')).toMatchObject({ status: 'skipped', reason: { code: LEFT_FOR_NIGHT, message: expect.stringContaining('"pair/a.jpg" renders to the same keys') } });
    expect(await Promise.all(owner.map(sourceEtagOf))).toEqual(etags);
  });

  test('objects the night would not select are not handled (filter, excludePrefixes)', async () => {
    await put('private/x.jpg', await photoJpeg(40, 30, 9));
    await put('lane/notes.txt', Buffer.from('hello'));
    await settled();
    expect(eventsOf('private/x.jpg')).toHaveLength(1);
    expect(await store.getRecord('private/x.jpg')).toBeUndefined();
    expect(await store.getRecord('lane/notes.txt')).toBeUndefined();
    expect(await renditionsOf('private/x.')).toEqual([]);
  });
});

interface NightReport {
  operations: { resize?: { processed: number; skippedByCode: Record<string, number>; bytesWritten: number } };
  renditions: Record<string, { count: number }>;
  prune: { originals: number; pruned: { key: string; renditions: string[] }[]; held: number };
}

/** A night on the embedded runtime, beside the serve (it uses the serve's servers). */
async function night(...flags: string[]): Promise<{ report?: NightReport; email: string }> {
  const run = await runCli(['local', '--json', '--config', 'config.json', '--data-dir', join(dir, '.nightshift'), ...flags], { cwd: dir });
  expect({ code: run.code, status: run.json?.status }).toEqual({ code: 0, status: 'SUCCEEDED' });
  const report = run.json.report ? (JSON.parse(readFileSync(run.json.report.replace(/\.html$/, '.json'), 'utf8')) as NightReport) : undefined;
  return { ...(report ? { report } : {}), email: run.json.email ? (await readEml(readFileSync(run.json.email, 'utf8'))).text : '' };
}

describe('the night after the lane', () => {
  test('renders and writes nothing for images done on upload, renders those left for the night, prunes the renditions of tombstoned images (also never catalogued ones) and drops their tombstones', async () => {
    await put('night/done.jpg', await photoJpeg(300, 200, 20));
    await put('night/huge.jpg', await photoJpeg(800, 600, 21));
    await put('night/brief.jpg', await photoJpeg(200, 200, 22)); // uploaded and deleted the same day: no catalogue lists it
    await settled();
    await remove('night/brief.jpg');
    await settled();
    const done = await store.getRecord('night/done.jpg');
    const doneHeads = await Promise.all((await renditionsOf('night/done.')).map((k) => s3.send(new HeadObjectCommand({ Bucket: buckets.renditions, Key: k }))));
    expect(await store.getRecord('night/huge.jpg')).toMatchObject({ status: 'skipped', reason: { code: LEFT_FOR_NIGHT } });
    expect(await store.getRecord('night/brief.jpg')).toMatchObject({ status: 'removed' });
    expect(await renditionsOf('night/brief.')).toHaveLength(3);
    const markers = async () => ((await s3.send(new ListObjectsV2Command({ Bucket: buckets.work, Prefix: LANE_REMOVED_PREFIX }))).Contents ?? []).map((o) => o.Key);
    expect(await markers()).toContain(`${LANE_REMOVED_PREFIX}night/brief.jpg`);

    const { report, email } = await night();
    // One line, derived from the shards' counts: done.jpg rendered on upload, huge.jpg left for the night (brief.jpg is gone).
    // (Run alone: 1 and 1; after the lane tests above, their images too.)
    expect(email).toMatch(/\nOn upload {2}\d+ images? rendered on upload since the last run; \d+ left for the night \([^)]*\b\d+ above onUpload\.maxPixels[^)]*\)\n/);
    // Done on upload: the same record (the lane's), the same rendition objects.
    expect(await store.getRecord('night/done.jpg')).toEqual(done);
    const after = await Promise.all((await renditionsOf('night/done.')).map((k) => s3.send(new HeadObjectCommand({ Bucket: buckets.renditions, Key: k }))));
    expect(after.map((h) => h.ETag)).toEqual(doneHeads.map((h) => h.ETag));
    expect(after.map((h) => h.LastModified)).toEqual(doneHeads.map((h) => h.LastModified));
    // Left for the night: rendered now.
    expect(await store.getRecord('night/huge.jpg')).toMatchObject({ status: 'rendered', width: 800, height: 600 });
    expect(await renditionsOf('night/huge.')).toHaveLength(3);
    // Tombstoned: renditions pruned, tombstone gone (the API still answers 404).
    expect(await renditionsOf('night/brief.')).toEqual([]);
    expect(report?.prune.pruned.map((p) => p.key)).toContain('night/brief.jpg');
    expect(await store.getRecord('night/brief.jpg')).toBeUndefined();
    expect((await api('night/brief.jpg')).statusCode).toBe(404);
    expect(await markers()).not.toContain(`${LANE_REMOVED_PREFIX}night/brief.jpg`);

    // A catalogued image deleted: 404 at once, its renditions pruned by the next night, which counts no lane image again.
    await remove('night/done.jpg');
    await settled();
    expect((await api('night/done.jpg')).statusCode).toBe(404);
    expect(await renditionsOf('night/done.')).toHaveLength(3);
    // One of the two catalogued images deleted is beyond renditions.maxPruneShare: the guard holds it unless confirmed.
    const second = await night('--confirm-prune');
    expect(await renditionsOf('night/done.')).toEqual([]);
    expect(await store.getRecord('night/done.jpg')).toBeUndefined();
    expect(await markers()).not.toContain(`${LANE_REMOVED_PREFIX}night/done.jpg`);
    expect(second.email).not.toContain('On upload');
  });
});

/** What a night's images must end with: record and every rendition of the current original. */
async function expectNewest(key: string, width: number): Promise<void> {
  const current = (await s3.send(new HeadObjectCommand({ Bucket: buckets.corpus, Key: key }))).ETag!;
  expect({ key, record: await store.getRecord(key) }).toMatchObject({ key, record: { status: 'rendered', etag: current, width } });
  const renditions = await renditionsOf(key.replace(/\.jpg$/, '.'));
  expect(renditions).toHaveLength(3);
  for (const r of renditions) expect({ r, source: await sourceEtagOf(r) }).toEqual({ r, source: current.replaceAll('"', '') });
}

describe('an upload while the night renders the same key', () => {
  test('the lane replaced between its render and its writes: it renders the newest again (deterministic moment)', async () => {
    const key = 'race/self.jpg';
    const a = await put(key, await photoJpeg(400, 300, 60));
    await settled();
    const eventA = eventsOf(key).filter((r) => r.s3.object.eTag === a.ETag!.replaceAll('"', ''));
    // The serve's lane handled A; this handler gets A's event again and, at the moment between its
    // render and its writes, B arrives and the serve's lane renders it completely.
    const handler = uploadHandler({ s3, records: store, config, log, beforeWrite: async () => {
      if (corpusWrites > 0 && (await s3.send(new HeadObjectCommand({ Bucket: buckets.corpus, Key: key }))).ETag === a.ETag) {
        await put(key, await photoJpeg(300, 200, 61));
        await settled();
      }
    } });
    expect(await handler({ Records: [{ messageId: 'self', body: message(eventA) }] })).toEqual({ batchItemFailures: [] });
    await expectNewest(key, 300);
  });

  test('the night held at its rendition writes while the lane renders a newer original: the lane\'s stay (deterministic moment)', async () => {
    const keys = ['race2/k0.jpg', 'race2/k1.jpg', 'race2/k2.jpg'];
    for (const [i, key] of keys.entries()) await put(key, await photoJpeg(1600, 1200, 70 + i)); // above maxPixels: the night renders them
    await settled();
    const proxy = await startFaultProxy({ target: info.endpoint, rate: 0, hold: (method, path) => method === 'PUT' && path.startsWith(`/${buckets.renditions}/`) && path.includes('/race2/') });
    try {
      const runId = `race-${Date.now()}`;
      const env = (extra: Record<string, string> = {}) => ({ AWS_ENDPOINT_URL_S3: proxy.endpoint, AWS_ENDPOINT_URL_DYNAMODB: info.dynamodb, NIGHTSHIFT_IMAGES_TABLE: 'nightshift-images', NIGHTSHIFT_RUN_ID: runId, NIGHTSHIFT_CONFIG: JSON.stringify(config), NIGHTSHIFT_TMPDIR: dir, ...extra });
      expect(await runJob('catalog', env({ NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['resize'], prefix: 'race2/' }) }))).toMatchObject({ code: 0 });
      const plan = await getJson<{ shardCount: number }>(s3, buckets.work, runKeys(runId).plan);
      const shards = Array.from({ length: plan.shardCount }, (_, i) => spawnJob('resize', env({ AWS_BATCH_JOB_ARRAY_INDEX: String(i), AWS_BATCH_JOB_ATTEMPT: '1' })).done);
      while (proxy.stats.held === 0) await new Promise((r) => setTimeout(r, 20));
      for (const [i, key] of keys.entries()) await put(key, await photoJpeg(300, 200, 80 + i));
      await settled();
      proxy.open();
      for (const run of await Promise.all(shards)) expect(run.code).toBe(0);
    } finally {
      await proxy.close();
    }
    for (const key of keys) await expectNewest(key, 300);
  });


  // Newest wins whichever finishes last: the lane checks the original after writing and renders
  // again if it was replaced; the night's rendition PUTs are conditional on what its HEAD saw (S3
  // user guide, "How to prevent object overwrites with conditional writes"), and the record keeps
  // the newer Last-Modified (adapters/dynamodb.ts).
  test('several keys replaced at several moments of the night (and after it): renditions and record of the newest original', async () => {
    const keys = [0, 1, 2, 3, 4, 5].map((i) => `race/k${i}.jpg`);
    for (const [i, key] of keys.entries()) await put(key, await photoJpeg(1600, 1200, 30 + i)); // above maxPixels: the night renders them
    await settled();
    const nightDone = night();
    const newer = await Promise.all(keys.slice(0, 5).map((k) => photoJpeg(300, 200, 40 + keys.indexOf(k))));
    const moments = [0, 250, 700, 1500, 3000];
    await Promise.all(moments.map(async (ms, i) => (await new Promise((r) => setTimeout(r, ms)), put(keys[i]!, newer[i]!))));
    await nightDone;
    await put(keys[5]!, await photoJpeg(300, 200, 50)); // the last moment: after the night
    await settled();
    for (const key of keys) await expectNewest(key, 300);
  });
});
