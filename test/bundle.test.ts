/**
 * The container runs the esbuild bundle, not the TypeScript sources. Docker is not available
 * here, so this builds the bundle exactly as jobs/Dockerfile does and runs jobs from it against
 * the embedded S3 server: if bundling breaks (ESM-only deps, dynamic requires), this fails.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runKeys } from '../core/keys';
import type { Plan } from '../core/plan';
import type { ShardResult } from '../core/results';
import { getJson } from '../adapters/s3';
import { buildJobBundle } from '../jobs/build';
import { heicPhoto, photoJpeg } from '../local/sample/images';
import { ROOT, startTestS3, type TestS3 } from './support/processes';

const outDir = join(ROOT, 'dist', 'bundle-test');
const bundle = join(outDir, 'main.js');
const buckets = { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' };
let server: TestS3;

beforeAll(async () => {
  server = await startTestS3(Object.values(buckets));
  await buildJobBundle(bundle);
});
afterAll(async () => {
  await server.stop();
  rmSync(outDir, { recursive: true, force: true });
});

async function runBundled(job: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  // As jobs/Dockerfile runs it: MALLOC_ARENA_MAX=2, NODE_OPTIONS=--enable-source-maps.
  const child = spawn(process.execPath, [bundle, job], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--enable-source-maps', ...env } });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stderr, stdout };
}

it('the bundled entry point runs catalog and resize, HEIC included (heic-decode stays outside the bundle, as sharp does)', async () => {
  for (const [i, key] of ['a/1.jpg', 'b/2.jpg'].entries()) await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: key, Body: await photoJpeg(640, 480, i) }));
  await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: 'b/3.heic', Body: heicPhoto(), ContentType: 'image/heic' }));
  const env = { AWS_ENDPOINT_URL_S3: server.endpoint, NIGHTSHIFT_RUN_ID: 'bundled', NIGHTSHIFT_CONFIG: JSON.stringify({ buckets }), NIGHTSHIFT_INPUT: '{"operations":["resize"]}' };
  expect(await runBundled('catalog', env)).toMatchObject({ code: 0, stderr: '' });
  const plan = await getJson<Plan>(server.s3, 'work', runKeys('bundled').plan);
  expect(plan.shardCount).toBe(2);
  for (const shard of ['0', '1']) expect(await runBundled('resize', { ...env, AWS_BATCH_JOB_ARRAY_INDEX: shard })).toMatchObject({ code: 0, stderr: '' });
  const results = await Promise.all([0, 1].map((i) => getJson<ShardResult>(server.s3, 'work', runKeys('bundled').result('resize', i))));
  expect(results.reduce((n, r) => n + r.counts.processed, 0)).toBe(3);
});

it("a job's stack trace points at the TypeScript: the source map sits beside the bundle, as the image ships it", async () => {
  expect(existsSync(`${bundle}.map`)).toBe(true);
  // No plan for this run: readPlan throws an ordinary error, which the job logs with its stack.
  const env = { AWS_ENDPOINT_URL_S3: server.endpoint, NIGHTSHIFT_RUN_ID: 'no-such-run', NIGHTSHIFT_CONFIG: JSON.stringify({ buckets }), AWS_BATCH_JOB_ARRAY_INDEX: '0', NIGHTSHIFT_LOG_FORMAT: 'json' };
  const { code, stdout } = await runBundled('resize', env);
  expect(code).toBe(1);
  const failed = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; error?: { stack?: string } }).find((l) => l.msg.startsWith('job failed'));
  expect(failed?.error?.stack).toMatch(/at readPlan \(.*jobs\/src\/shard\.ts:\d+:\d+\)/);
});

it('only the resize job loads sharp: the catalog and backup jobs start without libvips', async () => {
  // Reports, as the process exits, whether any of sharp's modules were loaded.
  const hook = join(outDir, 'report-sharp.js');
  writeFileSync(hook, "process.on('exit', () => process.stderr.write(`sharp loaded: ${Object.keys(require.cache).some((k) => k.includes('/node_modules/sharp/'))}\\n`));\n");
  // Two images under their own prefix, so that each of the two shards has one, whatever ran before.
  for (const [i, key] of ['c/3.jpg', 'c/4.jpg'].entries()) await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: key, Body: await photoJpeg(320, 240, 3 + i) }));
  const env = { AWS_ENDPOINT_URL_S3: server.endpoint, NIGHTSHIFT_RUN_ID: 'sharp-loading', NIGHTSHIFT_CONFIG: JSON.stringify({ buckets }), NIGHTSHIFT_INPUT: '{"operations":["backup","resize"],"prefix":"c/"}', NODE_OPTIONS: `--enable-source-maps --require ${hook}` };
  expect(await runBundled('catalog', env)).toMatchObject({ code: 0, stderr: 'sharp loaded: false\n' });
  expect(await runBundled('backup', { ...env, AWS_BATCH_JOB_ARRAY_INDEX: '0' })).toMatchObject({ code: 0, stderr: 'sharp loaded: false\n' });
  expect(await runBundled('resize', { ...env, AWS_BATCH_JOB_ARRAY_INDEX: '0' })).toMatchObject({ code: 0, stderr: 'sharp loaded: true\n' });
});
