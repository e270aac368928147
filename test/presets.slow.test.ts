/**
 * Presets that cannot surprise, end to end: `nightshift local` configured through a cdk.json, night
 * after night on the same embedded S3 data. A changed preset is named in plain words with what it
 * re-renders before a run does it; a dropped preset that still has renditions is refused (locally
 * and in dry runs), held by a run that cannot ask (the deployed behaviour: the catalog job), and
 * pruned once renditions.removePresets confirms it, while the mass-delete guard still holds
 * vanished originals.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { readEml } from './support/eml';
import { runKeys, STATE_CATALOG_KEY, STATE_PRESETS_KEY } from '../core/keys';
import type { Plan } from '../core/plan';
import type { StateRecord } from '../core/state';
import type { PresetsState } from '../core/explain';
import { getJson, getText, listPages } from '../adapters/s3';
import { LOCAL_BUCKETS as B } from '../local/runner';
import { photoJpeg, photoPng } from '../local/sample/images';
import { runCli } from './support/cli';
import { type TestS3, withLocalS3 } from './support/processes';

let dir: string;
const tiny = { name: 'tiny', width: 64, height: 64, formats: ['jpeg'] };
const mid = { name: 'mid', width: 200, formats: ['webp'] };

function configure(nightshift: Record<string, unknown>): void {
  writeFileSync(join(dir, 'cdk.json'), JSON.stringify({ app: 'npx tsx infra/app.ts', context: { nightshift: { notificationEmails: ['ops@example.com'], renditions: { maxPruneShare: 0.5 }, ...nightshift } } }));
}

const local = (extra: string[] = []) => runCli(['local', '--json', '--data-dir', join(dir, '.nightshift'), '--config', join(dir, 'cdk.json'), ...extra], { cwd: dir });

async function night(extra: string[] = []): Promise<{ plan: Plan; email: string }> {
  const run = await local(extra);
  if (run.code !== 0) throw new Error(`nightshift local ${extra.join(' ')} exited ${run.code}: ${run.stderr.slice(-2000)}`);
  const plan = await s3((s) => getJson<Plan>(s.s3, B.work, runKeys(run.json.runId).plan));
  return { plan, email: (await readEml(readFileSync(run.json.email!, 'utf8'))).text };
}

function s3<T>(fn: (s: TestS3) => Promise<T>): Promise<T> {
  return withLocalS3(join(dir, '.nightshift'), fn);
}

async function renditions(s: TestS3): Promise<string[]> {
  const out: string[] = [];
  for await (const page of listPages(s.s3, { bucket: B.renditions })) out.push(...page.objects.map((o) => o.Key!));
  return out.sort();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nightshift-presets-'));
  mkdirSync(join(dir, 'pics'));
  writeFileSync(join(dir, 'pics', 'a.jpg'), await photoJpeg(400, 300, 51));
  writeFileSync(join(dir, 'pics', 'b.jpg'), await photoJpeg(300, 400, 52));
  writeFileSync(join(dir, 'pics', 'c.png'), await photoPng(400, 300, 53));
  configure({ presets: [tiny, mid] });
  await night(['--import', join(dir, 'pics')]);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('presets that cannot surprise (embedded runtime, configured through cdk.json)', () => {
  it('names a changed preset in plain words, with the images it re-renders, their time and cost, in the dry run\'s plan and email', async () => {
    configure({ presets: [{ ...tiny, height: undefined }, mid] });
    const dry = await night(['--dry-run']);
    expect(dry.plan.explain?.presetChanges).toEqual([{ preset: 'tiny', change: 'bound was the long side 64, now the width 64', images: 3, seconds: expect.any(Number), usd: expect.any(Number) }]);
    expect(dry.email).toMatch(/\nPresets +tiny: bound was the long side 64, now the width 64: re-renders 3 images, about \d+ s and \$[\d.]+\n/);
    configure({ presets: [tiny, mid] });
  }, 120_000);

  it('refuses, in one line with exit 2, a local or dry run that drops a preset with renditions', async () => {
    configure({ presets: [tiny] });
    const before = await s3(renditions);
    for (const extra of [[], ['--dry-run']]) {
      const refused = await local(extra);
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toContain('the configuration drops "mid", which still has renditions ("mid" has 3 renditions): to delete them, set renditions.removePresets: ["mid"] in the configuration');
    }
    expect(await s3(renditions)).toEqual(before);
  }, 120_000);

  it('holds them where the run cannot ask (the catalog job, as deployed), says so in the email, and keeps them in the state', async () => {
    configure({ presets: [tiny] });
    // A catalogue promoted before state/presets.json existed: only the catalog job, as in AWS, can tell.
    const before = await s3(async (s) => {
      await s.s3.send(new DeleteObjectCommand({ Bucket: B.work, Key: STATE_PRESETS_KEY }));
      await s.s3.send(new PutObjectCommand({ Bucket: B.corpus, Key: 'd.jpg', Body: await photoJpeg(400, 300, 54), ContentType: 'image/jpeg' }));
      return renditions(s);
    });
    const held = await night();
    expect(held.plan.explain?.removedPresets).toEqual([{ preset: 'mid', images: 3, action: 'held' }]);
    expect(held.email).toMatch(/\nHELD +preset "mid" dropped from presets: its renditions of 3 images held; to delete them, add renditions.removePresets: \["mid"\] to the configuration\n/);
    await s3(async (s) => {
      expect(await renditions(s)).toEqual([...before, 'tiny/d.jpeg'].sort());
      const state = (await getText(s.s3, B.work, STATE_CATALOG_KEY)).trim().split('\n').map((l) => JSON.parse(l) as StateRecord);
      expect(state.filter((r) => r.done?.renditions?.mid !== undefined).map((r) => r.key)).toEqual(['a.jpg', 'b.jpg', 'c.png']);
      expect((await getJson<PresetsState>(s.s3, B.work, STATE_PRESETS_KEY)).images).toEqual({ tiny: 4, mid: 3 });
    });
  }, 120_000);

  it('prunes a confirmed removal in that run and names it, while the guard still holds the renditions of vanished originals', async () => {
    configure({ presets: [tiny], renditions: { maxPruneShare: 0.4, removePresets: ['mid'] } });
    // Two of four originals vanish: more than maxPruneShare, so their prune is held.
    await s3(async (s) => {
      for (const key of ['b.jpg', 'c.png']) await s.s3.send(new DeleteObjectCommand({ Bucket: B.corpus, Key: key }));
    });
    const confirmed = await night();
    expect(confirmed.plan.prune).toMatchObject({ held: 2, originals: 0 });
    // (Its definition is unknown here: state/presets.json was gone when it was dropped; the count is of images then.)
    expect(confirmed.plan.explain?.removedPresets).toEqual([{ preset: 'mid', images: 1, action: 'pruned' }]);
    expect(confirmed.email).toMatch(/\nRemoved +preset "mid" removed \(renditions.removePresets\): its renditions of 1 image pruned\n/);
    expect(confirmed.email).toMatch(/Prune +HELD: 2 deleted originals/);
    await s3(async (s) => {
      // a.jpg's mid rendition is gone; the vanished originals keep theirs until the guard is confirmed.
      expect(await renditions(s)).toEqual(['mid/b.webp', 'mid/c.webp', 'tiny/a.jpeg', 'tiny/b.jpeg', 'tiny/c.jpeg', 'tiny/d.jpeg']);
      const state = (await getText(s.s3, B.work, STATE_CATALOG_KEY)).trim().split('\n').map((l) => JSON.parse(l) as StateRecord);
      expect(state.find((r) => r.key === 'a.jpg')?.done?.renditions).toEqual({ tiny: expect.any(String) });
    });
    // Confirmed once: the next night asks nothing more, and prunes the rest with the guard confirmed.
    const after = await night(['--confirm-prune']);
    expect(after.plan.prune).toMatchObject({ originals: 2, held: 0 });
    await s3(async (s) => expect(await renditions(s)).toEqual(['tiny/a.jpeg', 'tiny/d.jpeg']));
  }, 180_000);
});
