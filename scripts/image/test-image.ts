/**
 * `npm run test:image`: the job image as Batch runs it. Builds jobs/Dockerfile (BuildKit), then runs
 * catalog, backup and resize in containers against the embedded S3 server on the host network
 * (it listens on 127.0.0.1 only), checks what they wrote, and sends one SIGTERM to a running
 * container, which must exit 143 (the code the Batch retry strategy retries; infra/compute.ts).
 * Without a Docker engine it says so in one line and exits 0. Not part of `npm test`.
 *
 * With no registry reachable and no base image present, it builds a stand-in for the base
 * (scripts/image/stand-in-base.sh: Debian bookworm and this project's Node) first.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { runKeys } from '../../core/keys';
import type { Plan } from '../../core/plan';
import { createS3Client, getJson } from '../../adapters/s3';
import { photoJpeg, photoPng } from '../../local/sample/images';
import { startEmbeddedS3 } from '../../local/s3-server';

const ROOT = join(__dirname, '..', '..');
const BASE = 'public.ecr.aws/docker/library/node:24-bookworm-slim';
const TAG = 'nightshift-job:test-image';
const BUCKETS = { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' };
const SIGTERM_EXIT = 143;

const docker = (args: string[], quiet = true) => spawnSync('docker', args, { cwd: ROOT, encoding: 'utf8', stdio: quiet ? 'pipe' : 'inherit', env: { ...process.env, DOCKER_BUILDKIT: '1' } });

function fail(message: string): never {
  process.stderr.write(`test:image: FAILED: ${message}\n`);
  process.exit(1);
}

/** The base image: present, pulled, or (no registry reachable) the local stand-in. */
function ensureBase(): void {
  if (docker(['image', 'inspect', BASE]).status === 0) return;
  if (docker(['pull', BASE]).status === 0) return;
  process.stdout.write(`test:image: ${BASE} cannot be pulled; building the local stand-in (scripts/image/stand-in-base.sh)\n`);
  const built = spawnSync(join(__dirname, 'stand-in-base.sh'), { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) fail('the stand-in base image could not be built');
}

/**
 * Runs one job in a container on the host network; its exit code and output. Asynchronous: the
 * embedded S3 server it talks to runs in this process.
 */
async function runContainer(job: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn('docker', ['run', '--rm', '--network', 'host', ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), TAG, job], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output };
}

async function keys(s3: S3Client, bucket: string): Promise<string[]> {
  return ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();
}

/** catalog, then every shard of backup and resize, each in its own container; their results checked. */
async function runJobs(s3: S3Client, baseEnv: Record<string, string>): Promise<void> {
  // A HEIC too: heic-decode is one of the two packages the slim runtime stage installs.
  const originals = ['photos/a.jpg', 'photos/b.jpg', 'photos/c.png', 'photos/d.heic'];
  await s3.send(new PutObjectCommand({ Bucket: BUCKETS.corpus, Key: originals[0], Body: await photoJpeg(640, 480, 1), ContentType: 'image/jpeg' }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKETS.corpus, Key: originals[1], Body: await photoJpeg(480, 640, 2), ContentType: 'image/jpeg' }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKETS.corpus, Key: originals[2], Body: await photoPng(300, 200, 3), ContentType: 'image/png' }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKETS.corpus, Key: originals[3], Body: readFileSync(join(ROOT, 'local/sample/heic/photo.heic')), ContentType: 'image/heic' }));
  const runId = 'image-1';
  const env = { ...baseEnv, NIGHTSHIFT_RUN_ID: runId, NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['backup', 'resize'] }) };
  const catalog = await runContainer('catalog', env);
  if (catalog.code !== 0) fail(`catalog exited ${catalog.code}:\n${catalog.output}`);
  const plan = await getJson<Plan>(s3, BUCKETS.work, runKeys(runId).plan);
  if (plan.counts.work !== originals.length) fail(`the plan has ${plan.counts.work} objects to work on, expected ${originals.length}`);
  for (const job of plan.shardOperations) {
    for (let shard = 0; shard < plan.shardCount; shard++) {
      const run = await runContainer(job, { ...env, AWS_BATCH_JOB_ARRAY_INDEX: String(shard) });
      if (run.code !== 0) fail(`${job} shard ${shard} exited ${run.code}:\n${run.output}`);
    }
  }
  const backups = await keys(s3, BUCKETS.backup);
  if (JSON.stringify(backups) !== JSON.stringify(originals)) fail(`backup holds ${JSON.stringify(backups)}, expected ${JSON.stringify(originals)}`);
  const renditions = await keys(s3, BUCKETS.renditions);
  const missing = originals.filter((key) => !renditions.some((r) => r.includes(key.replace(/\.[^.]+$/, ''))));
  if (renditions.length === 0 || missing.length > 0) fail(`renditions missing for ${JSON.stringify(missing)} (renditions: ${JSON.stringify(renditions)})`);
  process.stdout.write(`test:image: catalog, ${plan.shardOperations.join(' and ')} ran in containers: ${backups.length} backups, ${renditions.length} renditions\n`);
}

/** An S3 endpoint that accepts connections and never answers: a job against it is still running when the signal comes. */
async function silentEndpoint(): Promise<{ endpoint: string; server: Server }> {
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { endpoint: `http://127.0.0.1:${port}`, server };
}

/** One SIGTERM to a running container (as Fargate stops a task): the job must exit 143. */
async function sigterm(baseEnv: Record<string, string>): Promise<void> {
  const { endpoint, server } = await silentEndpoint();
  try {
    const env = { ...baseEnv, AWS_ENDPOINT_URL_S3: endpoint, NIGHTSHIFT_RUN_ID: 'image-term', NIGHTSHIFT_GRACE_SECONDS: '1' };
    const started = docker(['run', '-d', '--network', 'host', ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), TAG, 'catalog']);
    if (started.status !== 0) throw new Error(`could not start a container: ${started.stderr}`);
    const id = started.stdout.trim();
    try {
      // Whenever it comes (during start-up too), the job must stop with 143: under tini the signal
      // reaches node, whose handler or default action ends it; node as PID 1 would drop it.
      if (docker(['kill', '--signal', 'TERM', id]).status !== 0) throw new Error('docker kill --signal TERM failed');
      const waited = spawnSync('docker', ['wait', id], { encoding: 'utf8', timeout: 60_000 });
      if (waited.status !== 0) throw new Error('the job was still running 60 s after SIGTERM: the signal was lost (is node PID 1 without an init?)');
      const code = Number(waited.stdout.trim());
      if (code !== SIGTERM_EXIT) throw new Error(`after SIGTERM the job exited ${code}, expected ${SIGTERM_EXIT}:\n${docker(['logs', id]).stdout}${docker(['logs', id]).stderr}`);
      process.stdout.write(`test:image: SIGTERM to a running job: exit ${code}\n`);
    } finally {
      docker(['rm', '-f', id]);
    }
  } finally {
    server.close();
  }
}

async function main(): Promise<void> {
  if (docker(['info']).status !== 0) {
    process.stdout.write('test:image: skipped: no Docker engine (`docker info` failed)\n');
    return;
  }
  ensureBase();
  process.stdout.write(`test:image: building ${TAG} from jobs/Dockerfile (BuildKit)\n`);
  if (docker(['build', '--network', 'host', '-f', 'jobs/Dockerfile', '-t', TAG, '.'], false).status !== 0) fail('docker build failed');
  const server = await startEmbeddedS3({ buckets: Object.values(BUCKETS) });
  const s3 = createS3Client({ endpoint: server.endpoint, maxAttempts: 3 }, {});
  try {
    const baseEnv = {
      AWS_ENDPOINT_URL_S3: server.endpoint,
      AWS_REGION: server.region,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      NIGHTSHIFT_CONFIG: JSON.stringify({ buckets: BUCKETS, presets: [{ name: 'thumb', width: 160, formats: ['jpeg', 'webp'] }] }),
      NIGHTSHIFT_LOG_FORMAT: 'json',
      NIGHTSHIFT_TMPDIR: '/tmp',
    };
    await runJobs(s3, baseEnv);
    await sigterm(baseEnv);
    process.stdout.write('test:image: passed\n');
  } finally {
    s3.destroy();
    await server.stop();
  }
}

main().catch((error: unknown) => fail((error as Error).message ?? String(error)));
