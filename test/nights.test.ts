/**
 * Every night after the first, end to end: `nightshift local` configured through a cdk.json, run
 * night after night on the same embedded S3 data while the operator changes presets and the corpus
 * changes under it. What each night did is read back through the S3 API: renditions with their
 * metadata, backups, the promoted catalogue, the report and the email.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { readEml } from './support/eml';
import { runKeys, STATE_CATALOG_KEY } from '../core/keys';
import type { Report } from '../core/report';
import type { Plan } from '../core/plan';
import type { StateRecord } from '../core/state';
import { getJson, getText, listPages } from '../adapters/s3';
import { LOCAL_BUCKETS as B } from '../local/runner';
import { photoJpeg, photoPng } from '../local/sample/images';
import { type CliRun, runCli } from './support/cli';
import { type TestS3, withLocalS3 } from './support/processes';

let dir: string;
const tiny = { name: 'tiny', width: 64, formats: ['jpeg'] };
const mid = { name: 'mid', width: 200, formats: ['webp'] };

/** The operator's cdk.json: what `cdk deploy` would deploy, and what the local run reads. */
function configure(nightshift: Record<string, unknown>): void {
  writeFileSync(join(dir, 'cdk.json'), JSON.stringify({ app: 'npx tsx infra/app.ts', context: { nightshift: { notificationEmails: ['ops@example.com'], ...nightshift } } }));
}

/** One night; `report` is undefined when the plan found nothing to do (no shard ran, nothing to aggregate). */
async function night(extra: string[] = []): Promise<CliRun & { report: Report; email: string; plan: Plan }> {
  const run = await runCli(['local', '--json', '--data-dir', join(dir, '.nightshift'), '--config', join(dir, 'cdk.json'), ...extra], { cwd: dir });
  if (run.code !== 0) throw new Error(`nightshift local ${extra.join(' ')} exited ${run.code}: ${run.stderr.slice(-2000)}`);
  const keys = runKeys(run.json.runId);
  const [plan, report] = await s3((s) => Promise.all([getJson<Plan>(s.s3, B.work, keys.plan), getJson<Report>(s.s3, B.work, keys.report).catch(() => undefined)]));
  return { ...run, plan, report: report!, email: (await readEml(readFileSync(run.json.email!, 'utf8'))).text };
}

/** The embedded server over the nights' data, for the operator's changes and for reading results. */
function s3<T>(fn: (s: TestS3) => Promise<T>): Promise<T> {
  return withLocalS3(join(dir, '.nightshift'), fn);
}

async function keys(s: TestS3, bucket: string): Promise<string[]> {
  const out: string[] = [];
  for await (const page of listPages(s.s3, { bucket })) out.push(...page.objects.map((o) => o.Key!));
  return out.sort();
}

const head = (s: TestS3, bucket: string, key: string) => s.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
const widthOf = async (s: TestS3, key: string) => (await sharp(Buffer.from(await (await s.s3.send(new GetObjectCommand({ Bucket: B.renditions, Key: key }))).Body!.transformToByteArray())).metadata()).width;
const state = (s: TestS3) => getText(s.s3, B.work, STATE_CATALOG_KEY).then((t) => t.trim().split('\n').map((l) => JSON.parse(l) as StateRecord));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nightshift-nights-'));
  mkdirSync(join(dir, 'pics'));
  writeFileSync(join(dir, 'pics', 'a.jpg'), await photoJpeg(400, 300, 31));
  writeFileSync(join(dir, 'pics', 'b.jpg'), await photoJpeg(400, 300, 32));
  writeFileSync(join(dir, 'pics', 'c.png'), await photoPng(300, 400, 33));
  writeFileSync(join(dir, 'pics', 'e.png'), await photoPng(400, 300, 34));
  configure({ presets: [tiny, mid], renditions: { maxPruneShare: 0.5 } });
  const first = await night(['--import', join(dir, 'pics')]);
  expect(first.report.operations.resize).toMatchObject({ processed: 4, failed: 0 });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('every night after the first (embedded runtime, configured through cdk.json)', () => {
  it('re-renders exactly the renditions of a changed preset, and renders a new preset for every image, with no flag', async () => {
    const before = await s3(async (s) => Object.fromEntries(await Promise.all(['mid/a.webp', 'tiny/a.jpeg'].map(async (k) => [k, (await head(s, B.renditions, k)).ETag]))));
    configure({ presets: [{ ...tiny, width: 48 }, mid, { name: 'big', width: 300, formats: ['jpeg'] }], renditions: { maxPruneShare: 0.5 } });
    const changed = await night();
    expect(changed.report.renditions).toEqual({ 'tiny/jpeg': { count: 4, bytes: expect.any(Number) }, 'big/jpeg': { count: 4, bytes: expect.any(Number) } });
    expect(changed.report.operations.backup).toMatchObject({ processed: 0, skipped: 4, skippedByCode: { 'up-to-date': 4 } });
    await s3(async (s) => {
      expect(await widthOf(s, 'tiny/a.jpeg')).toBe(48);
      expect(await widthOf(s, 'big/a.jpeg')).toBe(300);
      const tinyHead = await head(s, B.renditions, 'tiny/a.jpeg');
      expect(tinyHead.Metadata).toMatchObject({ recipe: 'v1 w48 h- inside q80 jpeg colour:auto meta:rights' });
      expect(tinyHead.ETag).not.toBe(before['tiny/a.jpeg']);
      // The unchanged preset was not written again.
      expect((await head(s, B.renditions, 'mid/a.webp')).ETag).toBe(before['mid/a.webp']);
    });
    const quiet = await night();
    expect(quiet.plan).toMatchObject({ nothingToDo: true, counts: { work: 0, unchanged: 4 } });
  }, 120_000);

  it('--full checks every output and rewrites none that is current; --full --force re-encodes every rendition, and copies no backup that is current', async () => {
    const full = await night(['--full']);
    expect(full.report.operations).toMatchObject({ backup: { processed: 0, skippedByCode: { 'up-to-date': 4 } }, resize: { processed: 0, skippedByCode: { 'up-to-date': 4 } } });
    const forced = await night(['--full', '--force']);
    expect(forced.report.operations).toMatchObject({ backup: { processed: 0, failed: 0, skippedByCode: { 'up-to-date': 4 } }, resize: { processed: 4, failed: 0 } });
    expect(Object.fromEntries(Object.entries(forced.report.renditions).map(([k, v]) => [k, v.count]))).toEqual({ 'tiny/jpeg': 4, 'mid/webp': 4, 'big/jpeg': 4 });
  }, 120_000);

  it('prunes a deleted original\'s renditions and keeps its backup; re-renders and re-backs-up a replaced one; renders a newcomer beside the owner, never over it', async () => {
    const replaced = await photoPng(300, 400, 99);
    const owner = await s3(async (s) => {
      await s.s3.send(new DeleteObjectCommand({ Bucket: B.corpus, Key: 'b.jpg' }));
      await s.s3.send(new PutObjectCommand({ Bucket: B.corpus, Key: 'c.png', Body: replaced, ContentType: 'image/png' }));
      // e.jpg sorts before e.png, which has owned <preset>/e.* since the first night.
      await s.s3.send(new PutObjectCommand({ Bucket: B.corpus, Key: 'e.jpg', Body: await photoJpeg(400, 300, 35), ContentType: 'image/jpeg' }));
      return (await head(s, B.corpus, 'e.png')).ETag!.replaceAll('"', '');
    });
    const next = await night();
    const { report } = next;
    expect({ deleted: report.objects.deleted, new: report.objects.new, changed: report.objects.changed, prune: report.objects.prune }).toEqual({ deleted: 1, new: 1, changed: 1, prune: 1 });
    expect(report.prune).toMatchObject({ originals: 1, renditions: 3, held: 0, pruned: [{ key: 'b.jpg', renditions: ['tiny/b.jpeg', 'mid/b.webp', 'big/b.jpeg'] }] });
    // The newcomer is rendered like any image (under its own keys): nothing skipped, nothing failed.
    expect(report.operations.resize).toMatchObject({ failed: 0, skipped: 0 });
    expect(report.operations.backup).toMatchObject({ processed: 2, failed: 0, skippedByCode: { 'original-deleted': 1 } });
    expect(next.email).toMatch(/\n +deleted: "b.jpg"\n/);
    expect(next.email).toContain('Pruned     3 renditions of 1 deleted original deleted (their backups are kept):\n  "b.jpg" (3)');
    expect(readFileSync(next.json.report!, 'utf8')).toContain('<tr><td class="key"><span class="key" title="b.jpg">b.<wbr>jpg</span></td><td>tiny/b.jpeg, mid/b.webp, big/b.jpeg</td></tr>');
    await s3(async (s) => {
      const renditions = await keys(s, B.renditions);
      expect(renditions.filter((k) => k.includes('/b.'))).toEqual([]);
      // e.png keeps <preset>/e.*; e.jpg renders under <preset>/e.jpg/.* (core/keys.ts renditionKey).
      expect(renditions.filter((k) => k.includes('/e.'))).toEqual(['big/e.jpeg', 'big/e.jpg/.jpeg', 'mid/e.jpg/.webp', 'mid/e.webp', 'tiny/e.jpeg', 'tiny/e.jpg/.jpeg']);
      expect((await head(s, B.renditions, 'tiny/e.jpeg')).Metadata?.['source-etag']).toBe(owner);
      expect((await head(s, B.renditions, 'tiny/e.jpg/.jpeg')).Metadata?.['source-etag']).toBe((await head(s, B.corpus, 'e.jpg')).ETag!.replaceAll('"', ''));
      expect(await keys(s, B.backup)).toEqual(['a.jpg', 'b.jpg', 'c.png', 'e.jpg', 'e.png']);
      const corpusC = await head(s, B.corpus, 'c.png');
      expect((await head(s, B.backup, 'c.png')).ETag).toBe(corpusC.ETag);
      expect((await head(s, B.renditions, 'tiny/c.jpeg')).Metadata?.['source-etag']).toBe(corpusC.ETag!.replaceAll('"', ''));
      const catalogue = await state(s);
      expect(catalogue.map((r) => r.key)).toEqual(['a.jpg', 'c.png', 'e.jpg', 'e.png']);
      expect(catalogue.find((r) => r.key === 'e.jpg')).toMatchObject({ collidesWith: 'e.png', done: { backup: true, renditions: expect.any(Object) } });
    });
    // The newcomer stays on its own keys, and out of the owner's, on every night after.
    const after = await night();
    expect(after.plan).toMatchObject({ nothingToDo: true, counts: { work: 0, unchanged: 4 } });
  }, 120_000);

  it('holds a prune of more than renditions.maxPruneShare of the corpus, says so, and prunes when confirmed', async () => {
    const gone = ['a.jpg', 'c.png', 'e.png'];
    const before = await s3(async (s) => {
      const out = { renditions: await keys(s, B.renditions), backups: await keys(s, B.backup), catalogue: (await state(s)).map((r) => r.key) };
      for (const key of gone) await s.s3.send(new DeleteObjectCommand({ Bucket: B.corpus, Key: key }));
      return out;
    });
    const theirs = before.renditions.filter((k) => gone.some((g) => k.endsWith(`/${g.slice(0, -4)}.${k.split('.').at(-1)}`)));
    expect(theirs.length).toBeGreaterThanOrEqual(6);
    const held = await night();
    // Nothing else to do: the plan says so, and the email says why nothing was pruned.
    expect(held.plan).toMatchObject({ nothingToDo: true, prune: { originals: 0, held: 3, share: 3 / before.catalogue.length, maxShare: 0.5 } });
    expect(held.email).toMatch(/Prune +HELD: 3 deleted originals are \d+\.\d% of the catalogue, more than renditions\.maxPruneShare \(50\.0%\); their renditions were kept\./);
    expect(held.email).toContain('start a run with `nightshift local --confirm-prune`'); // a local run: the flag, not the console's input
    expect(held.email).not.toContain('confirmPrune');
    // Each deletion is named, by the run that found it, and in the list beside the report.
    expect(held.plan).toMatchObject({ counts: { deleted: 3 }, deleted: { sample: gone, list: runKeys(held.json.runId).deleted } });
    expect(held.email).toContain('deleted: "a.jpg", "c.png", "e.png"\n');
    const list = await s3((s) => getText(s.s3, B.work, runKeys(held.json.runId).deleted));
    expect(list.trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key)).toEqual(gone);
    await s3(async (s) => expect(await keys(s, B.renditions)).toEqual(before.renditions));
    // Held, not forgotten: the next plain night holds it again, and does not report the deletions again.
    const again = await night();
    expect(again.plan).toMatchObject({ prune: { held: 3 }, counts: { deleted: 0 } });
    expect(again.plan.deleted).toBeUndefined();
    expect(again.email).not.toContain('deleted: "');
    const confirmed = await night(['--confirm-prune']);
    expect(confirmed.report.prune).toMatchObject({ originals: 3, renditions: theirs.length, held: 0 });
    await s3(async (s) => {
      expect(await keys(s, B.renditions)).toEqual(before.renditions.filter((k) => !theirs.includes(k)));
      expect(await keys(s, B.backup)).toEqual(before.backups);
      expect((await state(s)).map((r) => r.key)).toEqual(before.catalogue.filter((k) => !gone.includes(k)));
    });
    // The owner e.png is gone with its renditions; e.jpg keeps its disambiguated keys (stable: an
    // application's stored URLs stay good), and the next night moves nothing.
    expect(before.renditions.filter((k) => k.includes('/e.jpg/.'))).toHaveLength(3);
    const settled = await night();
    expect(settled.plan).toMatchObject({ nothingToDo: true, counts: { work: 0 } });
    await s3(async (s) => expect((await state(s)).find((r) => r.key === 'e.jpg')).toMatchObject({ collidesWith: 'e.png' }));
  }, 300_000);
});
