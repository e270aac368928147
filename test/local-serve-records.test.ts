/**
 * End to end, as an application sees it (issue 28): `nightshift local serve --json` runs, a
 * `nightshift local` run uses its servers, and the API then answers that run's records: sizes as
 * displayed, renditions that exist in the renditions bucket with the bytes and ETag the record
 * says, a placeholder, the failed image's reason as the report gives it, the folder listing, and the
 * change feed. A deleted original then loses its record, gets a `removed` line and its renditions.
 *
 * Every assertion on records fails when the jobs write none (NIGHTSHIFT_IMAGES_TABLE unset for the
 * job processes in local/runner.ts): the GETs answer 404 and the feed is empty.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { thumbHashToDataURL, thumbHashToRGBA } from 'thumbhash';
import { createS3Client } from '../adapters/s3';
import type { ChangeLine } from '../core/records/changes';
import { type ImageRecord, imageRecordSchema } from '../core/records/record';
import type { Report } from '../core/report';
import { LOCAL_BUCKETS } from '../local/runner';
import { orientedJpeg, photoJpeg, png16WithAlpha } from '../local/sample/images';
import { runCli, startServe } from './support/cli';

interface ServeInfo {
  endpoint: string;
  api: string;
}

const PRESETS = '[{"name":"tiny","width":24,"formats":["webp","jpeg"]}]';
const KEYS = { oriented: 'photos/turned.jpg', alpha: 'photos/alpha.png', truncated: 'photos/truncated.jpg', plain: 'photos/plain.jpg' } as const;
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

let dir: string;
let serve: ChildProcess;
let info: ServeInfo;
let s3: S3Client;

async function writeCorpus(folder: string): Promise<void> {
  mkdirSync(join(folder, 'photos'), { recursive: true });
  // Displayed 60×40; stored 40×60 with EXIF orientation 6 (checked below, so the swap is real).
  const turned = await orientedJpeg(60, 40, 6);
  expect(await sharp(turned).metadata()).toMatchObject({ width: 40, height: 60, orientation: 6 });
  writeFileSync(join(folder, KEYS.oriented), turned);
  writeFileSync(join(folder, KEYS.alpha), await png16WithAlpha(48, 32));
  // Cut as the sample corpus cuts its own (hostile/truncated.jpg), which the report counts as decode-failed.
  const whole = await photoJpeg(800, 600, 3);
  writeFileSync(join(folder, KEYS.truncated), whole.subarray(0, Math.floor(whole.length / 2)));
  writeFileSync(join(folder, KEYS.plain), await photoJpeg(64, 48, 4));
}

const night = (extra: string[]) => runCli(['local', '--json', '--data-dir', join(dir, '.nightshift'), '-c', `nightshift.presets=${PRESETS}`, ...extra], { cwd: dir });

async function getRecord(key: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${info.api}images/${encodeKey(key)}`);
  return { status: res.status, body: await res.json() };
}

const feed = (runId: string): ChangeLine[] =>
  readFileSync(join(dir, '.nightshift', 'reports', runId, 'changes.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ChangeLine);

async function exists(bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (e) {
    if ((e as { name?: string }).name === 'NotFound') return false;
    throw e;
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nightshift-serve-records-'));
  await writeCorpus(join(dir, 'pics'));
  ({ child: serve, info } = await startServe(join(dir, '.nightshift'), dir));
  s3 = createS3Client({ endpoint: info.endpoint });
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  if (serve && serve.exitCode === null) {
    serve.kill('SIGTERM');
    await once(serve, 'exit');
  }
  rmSync(dir, { recursive: true, force: true });
});

let first: Awaited<ReturnType<typeof runCli>>;
const records = new Map<string, ImageRecord>();

it('a run while serve serves: the API answers each image\'s record, in the contract\'s shape', async () => {
  first = await night(['--import', join(dir, 'pics')]);
  expect({ code: first.code, counts: first.json?.counts }).toMatchObject({ code: 0, counts: { listed: 4, rendered: 3, failed: 1 } });
  for (const key of Object.values(KEYS)) {
    const got = await getRecord(key);
    expect({ key, status: got.status }).toEqual({ key, status: 200 });
    const parsed = imageRecordSchema.safeParse(got.body);
    expect(parsed.error?.issues ?? []).toEqual([]);
    expect(parsed.data).toMatchObject({ key, runId: first.json.runId });
    records.set(key, got.body as ImageRecord);
  }
  // As displayed: orientation 6 turns the stored 40×60 a quarter.
  expect(records.get(KEYS.oriented)).toMatchObject({ status: 'rendered', width: 60, height: 40, format: 'jpeg', hasAlpha: false });
  expect(records.get(KEYS.alpha)).toMatchObject({ status: 'rendered', width: 48, height: 32, format: 'png', hasAlpha: true });
  expect(records.get(KEYS.plain)).toMatchObject({ status: 'rendered', width: 64, height: 48 });
}, 300_000);

it('each rendition the record lists exists in the renditions bucket with its bytes, ETag, type and pixel size', async () => {
  for (const key of [KEYS.oriented, KEYS.alpha, KEYS.plain]) {
    const record = records.get(key)!;
    expect(record.renditions.map((r) => `${r.preset}/${r.format}`).sort()).toEqual(['tiny/jpeg', 'tiny/webp']);
    for (const r of record.renditions) {
      const got = await s3.send(new GetObjectCommand({ Bucket: LOCAL_BUCKETS.renditions, Key: r.key }));
      const body = Buffer.from(await got.Body!.transformToByteArray());
      const meta = await sharp(body).metadata();
      expect({ key: r.key, bytes: body.length, etag: got.ETag, contentType: got.ContentType, width: meta.width, height: meta.height, format: meta.format }).toEqual({ key: r.key, bytes: r.bytes, etag: r.etag, contentType: r.contentType, width: r.width, height: r.height, format: r.format });
    }
    // The renditions keep the displayed aspect: the turned image (stored portrait) is landscape.
    if (key === KEYS.oriented) for (const r of record.renditions) expect(r.width).toBeGreaterThan(r.height);
  }
});

it('the placeholder is a ThumbHash of the image (its aspect) and a colour', () => {
  for (const key of [KEYS.oriented, KEYS.alpha, KEYS.plain]) {
    const { placeholder, width, height } = records.get(key)!;
    // Decoded as the README's snippet does in a browser (atob reads base64 without padding).
    const hash = Uint8Array.from(atob(placeholder!.thumbhash), (c) => c.charCodeAt(0));
    expect(thumbHashToDataURL(hash)).toMatch(/^data:image\/png;base64,/);
    const decoded = thumbHashToRGBA(hash);
    // ThumbHash keeps the aspect ratio roughly (its longer side is 32 px).
    expect(Math.abs(decoded.w / decoded.h - width! / height!)).toBeLessThan(0.25);
    expect(placeholder!.color).toMatch(/^#[0-9a-f]{6}$/);
  }
  // The oriented test image is mostly blue (a red top-left quadrant): its average shows it.
  const color = records.get(KEYS.oriented)!.placeholder!.color;
  expect(parseInt(color.slice(5, 7), 16)).toBeGreaterThan(parseInt(color.slice(3, 5), 16));
});

it('the truncated image\'s record is failed, with the code and message report.json gives it (one story)', () => {
  const report = JSON.parse(readFileSync(join(dirname(first.json.report!), 'report.json'), 'utf8')) as Report;
  const failure = report.failures.find((f) => f.key === KEYS.truncated && f.operation === 'resize');
  expect(failure).toBeDefined();
  expect(records.get(KEYS.truncated)).toMatchObject({ status: 'failed', reason: { code: failure!.code, message: failure!.message }, renditions: [] });
});

it('the folder listing answers every image of the folder once, in key order', async () => {
  const res = await fetch(`${info.api}images?prefix=${encodeURIComponent('photos/')}&limit=3`);
  const pageOne = (await res.json()) as { items: ImageRecord[]; cursor: string | null };
  expect(pageOne.cursor).not.toBeNull();
  const pageTwo = (await (await fetch(`${info.api}images?prefix=${encodeURIComponent('photos/')}&limit=3&cursor=${encodeURIComponent(pageOne.cursor!)}`)).json()) as { items: ImageRecord[]; cursor: string | null };
  expect(pageTwo.cursor).toBeNull();
  const listed = [...pageOne.items, ...pageTwo.items];
  expect(listed.map((r) => r.key)).toEqual(Object.values(KEYS).sort());
  for (const r of listed) expect(r).toEqual(records.get(r.key));
});

it('the change feed lists each image once: added, or failed for the truncated one, with the record\'s renditions', () => {
  const lines = feed(first.json.runId);
  const expected = Object.values(KEYS)
    .sort()
    .map((key) => {
      const r = records.get(key)!;
      return { key, change: r.status === 'failed' ? 'failed' : 'added', etag: r.etag, renditions: r.renditions.map((x) => x.key) };
    });
  expect(lines).toEqual(expected);
});

it('an original deleted from the corpus: the next run removes its record (404), says `removed`, and prunes its renditions', async () => {
  const gone = records.get(KEYS.plain)!;
  await s3.send(new DeleteObjectCommand({ Bucket: LOCAL_BUCKETS.corpus, Key: KEYS.plain }));
  // One of four is above renditions.maxPruneShare: the prune is confirmed, as the README says.
  const second = await night(['--confirm-prune']);
  expect({ code: second.code }).toEqual({ code: 0 });
  // One comparison, so that a failure shows all three: the record, the feed's line, the renditions left.
  const left: string[] = [];
  for (const r of gone.renditions) if (await exists(LOCAL_BUCKETS.renditions, r.key)) left.push(r.key);
  expect({ record: await getRecord(KEYS.plain), feed: feed(second.json.runId), renditionsLeft: left }).toEqual({
    record: { status: 404, body: { error: { code: 'not-found', message: `no image record for key "${KEYS.plain}"` } } },
    feed: [{ key: KEYS.plain, change: 'removed', etag: gone.etag, renditions: gone.renditions.map((r) => r.key) }],
    renditionsLeft: [],
  });
  // The others keep their records, unchanged.
  for (const key of [KEYS.oriented, KEYS.alpha, KEYS.truncated]) expect(await getRecord(key)).toEqual({ status: 200, body: records.get(key) });
}, 300_000);
