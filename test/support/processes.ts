/**
 * Real processes for tests: the embedded S3 server on loopback, and the jobs' entry point run the
 * way AWS Batch runs it (a process with an environment), never a mocked client.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../adapters/s3';

export const ROOT = join(__dirname, '..', '..');
const TSX = require.resolve('tsx/cli');

export interface TestS3 {
  readonly endpoint: string;
  readonly s3: S3Client;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The embedded S3 server over a local run's data (`<nightshiftDir>/s3`, as `nightshift local
 * --data-dir <nightshiftDir>` keeps it), for `fn` to read or change through the S3 API; stopped
 * after, so that the next run has the data to itself.
 */
export async function withLocalS3<T>(nightshiftDir: string, fn: (s: TestS3) => Promise<T>): Promise<T> {
  const server = await startTestS3([], join(nightshiftDir, 's3'));
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** Starts the embedded S3 server in its own process on 127.0.0.1 with the given buckets. */
export async function startTestS3(buckets: readonly string[], dataDir?: string): Promise<TestS3> {
  const args = [TSX, join(ROOT, 'local/serve.ts'), ...buckets.flatMap((b) => ['--bucket', b]), ...(dataDir ? ['--data-dir', dataDir] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => line as string),
    once(child, 'exit').then(([code]) => {
      throw new Error(`embedded S3 server exited with ${code}: ${stderr}`);
    }),
  ]);
  const { endpoint } = JSON.parse(first) as { endpoint: string };
  const s3 = createS3Client({ endpoint, maxAttempts: 3 }, {});
  for (const bucket of buckets) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    endpoint,
    s3,
    process: child,
    async stop() {
      s3.destroy();
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}

export interface JobRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON log lines. */
  readonly logs: Record<string, unknown>[];
}

/** Spawns the job entry point (`jobs/src/main.ts <job>`) with an environment like the one Batch gives. */
export function spawnJob(job: string, env: Record<string, string | undefined>): { child: ChildProcess; done: Promise<JobRun> } {
  const child = spawn(process.execPath, [TSX, join(ROOT, 'jobs/src/main.ts'), job], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_NO_WARNINGS: '1', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
    stdout,
    stderr,
    logs: stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  }));
  return { child, done };
}

export function runJob(job: string, env: Record<string, string | undefined>): Promise<JobRun> {
  return spawnJob(job, env).done;
}
