/**
 * Upgrading costs nothing by surprise: renditions made before the rendering policies existed
 * (their recipe is the bare base recipe) stay current until the operator asks for the new ones.
 * The catalog and resize jobs run in this process through their real entry point (jobs/src/main.ts)
 * against the embedded S3 server, so that a stand-in policy (core/recipe.ts recipePolicy: a suffix
 * on every recipe) reaches them, as a real policy will.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopyObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runKeys, STATE_CATALOG_KEY } from '../core/keys';
import type { Plan } from '../core/plan';
import type { StateRecord } from '../core/state';
import { baseRecipe, recipePolicy } from '../core/recipe';
import { parsePipelineConfig } from '../core/config';
import { getJson, getText, putText } from '../adapters/s3';
import { photoJpeg } from '../local/sample/images';
import { main } from '../jobs/src/main';
import { startTestS3, type TestS3 } from './support/processes';

const buckets = { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' };
const presets = [{ name: 'thumb', width: 64, height: 64, formats: ['jpeg', 'webp'] }];
const policy = { ...recipePolicy };
let server: TestS3;
let tmp: string;

const jobEnv = (runId: string, renditions: object, input: object, configured: object[] = presets) => ({
  AWS_ENDPOINT_URL_S3: server.endpoint,
  AWS_REGION: 'us-east-1',
  NIGHTSHIFT_RUN_ID: runId,
  NIGHTSHIFT_CONFIG: JSON.stringify({ buckets, presets: configured, renditions }),
  NIGHTSHIFT_TMPDIR: tmp,
  NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['resize'], ...input }),
});

/**
 * A job through its entry point in this process. Its log (JSON lines on stdout, as CloudWatch
 * reads them) is kept for the test, not printed beside a passing run.
 */
async function job(name: 'catalog' | 'resize', env: NodeJS.ProcessEnv): Promise<{ code: number; log: string[] }> {
  const log: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => (log.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    return { code: await main([name], env), log };
  } finally {
    process.stdout.write = write;
  }
}

/** Exit 0, or the end of the job's log in the failure. */
async function succeeds(name: 'catalog' | 'resize', env: NodeJS.ProcessEnv): Promise<void> {
  const run = await job(name, env);
  expect({ code: run.code, log: run.code === 0 ? [] : run.log.slice(-10) }).toEqual({ code: 0, log: [] });
}

async function night(runId: string, renditions: object = {}, input: object = {}): Promise<Plan> {
  const env = jobEnv(runId, renditions, input);
  await succeeds('catalog', env);
  const plan = await getJson<Plan>(server.s3, 'work', runKeys(runId).plan);
  for (let i = 0; i < plan.shardCount; i++) await succeeds('resize', { ...env, AWS_BATCH_JOB_ARRAY_INDEX: String(i) });
  // Every item succeeded: promotion is the run's catalogue as it is (functions/aggregate.ts).
  await server.s3.send(new CopyObjectCommand({ Bucket: 'work', Key: STATE_CATALOG_KEY, CopySource: `work/${runKeys(runId).catalog}` }));
  return plan;
}

const head = (key: string) => server.s3.send(new HeadObjectCommand({ Bucket: 'renditions', Key: key }));
const state = async () => (await getText(server.s3, 'work', STATE_CATALOG_KEY)).trim().split('\n').map((l) => JSON.parse(l) as StateRecord);

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-legacy-'));
  server = await startTestS3(Object.values(buckets));
  for (const [i, key] of ['a.jpg', 'b.jpg'].entries()) await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: key, Body: await photoJpeg(200, 150, 40 + i), ContentType: 'image/jpeg' }));
  // Night 1, before the policies: the recipe is the base recipe alone.
  recipePolicy.suffix = () => '';
  await night('legacy-1');
  Object.assign(recipePolicy, policy);
}, 120_000);
afterEach(() => Object.assign(recipePolicy, policy));
afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('renditions made before the rendering policies', () => {
  it('stay current after the upgrade, even when a lost state makes the job check them; new images get the new recipe; the plan prices adopting the rest', async () => {
    const thumb = parsePipelineConfig({ buckets, presets }).presets[0]!;
    const before = (await head('thumb/a.jpeg')).LastModified;
    expect((await head('thumb/a.jpeg')).Metadata?.recipe).toBe(baseRecipe(thumb, 'jpeg', { webpEffort: 4, avifEffort: 4 }));
    recipePolicy.suffix = () => ' cAuto';
    // a.jpg's state lost its renditions (a failed render is taken back so): the job HEADs its renditions and must accept them.
    const lines = (await state()).map((r) => (r.key === 'a.jpg' ? { ...r, done: {} } : r));
    await putText(server.s3, 'work', STATE_CATALOG_KEY, lines.map((l) => `${JSON.stringify(l)}\n`).join(''), 'application/x-ndjson');
    await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: 'c.jpg', Body: await photoJpeg(200, 150, 43), ContentType: 'image/jpeg' }));

    const upgraded = await night('legacy-2');
    // Not rewritten (the same pixels would give the same ETag: the recipe it carries tells).
    expect((await head('thumb/a.jpeg')).Metadata?.recipe).toBe(baseRecipe(thumb, 'jpeg', { webpEffort: 4, avifEffort: 4 }));
    expect((await head('thumb/a.jpeg')).LastModified).toEqual(before);
    expect((await head('thumb/c.jpeg')).Metadata?.recipe).toBe(`${baseRecipe(thumb, 'jpeg', { webpEffort: 4, avifEffort: 4 })} cAuto`);
    expect(upgraded.explain?.adoption).toMatchObject({ images: 1, renditions: 2, seconds: expect.any(Number), usd: expect.any(Number) });
    expect(upgraded.counts.work).toBe(2);

    // Adoption asked: the legacy renditions are re-rendered with the new recipe, and only those.
    const adopted = await night('legacy-3', { adoptPolicies: true });
    expect(adopted.counts.work).toBe(1);
    expect(adopted.explain?.presetChanges).toEqual([expect.objectContaining({ preset: 'thumb', change: 'adopting the rendering policies', images: 1 })]);
    expect((await head('thumb/b.jpeg')).Metadata?.recipe).toBe(`${baseRecipe(thumb, 'jpeg', { webpEffort: 4, avifEffort: 4 })} cAuto`);
  }, 120_000);
});

describe('the catalog job and a preset dropped from the configuration', () => {
  it('refuses a dry run (exit 2, one line naming the confirmation) and holds the renditions in a run', async () => {
    const other = [{ name: 'other', width: 32, formats: ['jpeg'] }];
    const { code, log } = await job('catalog', jobEnv('dropped-dry', {}, { dryRun: true }, other));
    expect(code).toBe(2);
    const error = log.map((l) => JSON.parse(l) as { level: string; msg: string }).find((l) => l.level === 'error')!;
    expect(error.msg).toMatch(/^presets: the configuration drops "thumb", which still has renditions \("thumb" has renditions of 3 images\): to delete them, set renditions.removePresets: \["thumb"\]/);
    await succeeds('catalog', jobEnv('dropped-run', {}, {}, other));
    const plan = await getJson<Plan>(server.s3, 'work', runKeys('dropped-run').plan);
    expect(plan.explain?.removedPresets).toEqual([{ preset: 'thumb', images: 3, action: 'held' }]);
  }, 60_000);
});
