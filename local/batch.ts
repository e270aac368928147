/**
 * The local AWS Batch: runs a job's real entry point as child processes with the environment
 * Batch gives a container (array index per child, attempt number), at most `concurrency` at once,
 * with the job definition's retry rule (exit 1, 137 and 143 are retried, anything else fails), and
 * each child's output in its own log file.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pLimit from 'p-limit';
import type { JobName } from '../core/jobs';


export interface BatchJobRequest {
  readonly job: JobName;
  readonly environment: Record<string, string>;
  /** Array job size; undefined for a single job. */
  readonly arraySize?: number;
  /** The task's JobQueue and JobDefinition parameters, echoed in the result as Batch does. */
  readonly jobQueue?: string;
  readonly jobDefinition?: string;
}

export interface ChildProgress {
  readonly job: JobName;
  readonly index: number;
  readonly done: number;
  readonly failed: number;
  readonly finished: boolean;
}

export interface LocalBatchOptions {
  /** The job entry point: `node <entry> <job>`. */
  readonly entry: string;
  /** Environment every job gets (config, S3 endpoint…), before the task's overrides. */
  readonly baseEnvironment: Record<string, string>;
  readonly logDir: string;
  /** Children running at once. */
  readonly concurrency: number;
  /** Attempts per child, including the first. */
  readonly attempts: Record<JobName, number>;
  readonly onProgress?: (p: ChildProgress) => void;
  /** Called with each child process, e.g. for fault tests that kill one. */
  readonly onSpawn?: (child: import('node:child_process').ChildProcess, job: JobName, index: number, attempt: number) => void;
  /** Aborting terminates the job as Batch's TerminateJob does: running children get SIGTERM, none start after. */
  readonly signal?: AbortSignal;
}

/** A Batch job that did not succeed, named as Step Functions names it. */
export class BatchJobFailed extends Error {
  override readonly name = 'States.TaskFailed';
}

/** As the job definitions' retry strategy (onExitCode '1*'): 1, 137 (SIGKILL) and 143 (SIGTERM). */
const RETRYABLE_EXIT_CODES = new Set([1, 137, 143]);

/**
 * What `batch:submitJob.sync` returns when the job succeeds: the job's DescribeJobs detail with its
 * members in PascalCase (AWS Batch API reference, DescribeJobs / JobDetail; timestamps in epoch
 * milliseconds). The workflow discards it; the shape is kept so that nothing can start to rely on
 * a field AWS does not send.
 */
export interface BatchJobDetail {
  readonly JobArn: string;
  readonly JobId: string;
  readonly JobName: string;
  readonly JobQueue: string;
  readonly JobDefinition: string;
  readonly Status: 'SUCCEEDED';
  readonly CreatedAt: number;
  readonly StartedAt: number;
  readonly StoppedAt: number;
  readonly ArrayProperties?: { readonly Size: number; readonly StatusSummary: Record<string, number> };
}

export async function runBatchJob(request: BatchJobRequest, options: LocalBatchOptions): Promise<BatchJobDetail> {
  const createdAt = Date.now();
  mkdirSync(options.logDir, { recursive: true });
  const children = request.arraySize ?? 1;
  const limit = pLimit(options.concurrency);
  const outcomes = await Promise.all(Array.from({ length: children }, (_, index) => limit(() => runChild(request, request.arraySize === undefined ? undefined : index, options))));
  const failed = outcomes.filter((o) => o.exitCode !== 0);
  if (failed.length > 0) {
    const first = failed[0]!;
    throw new BatchJobFailed(
      JSON.stringify({
        StatusReason: `${failed.length} of ${children} ${request.job} job(s) failed: essential container exited with code ${first.exitCode} after ${first.attempts} attempt(s)`,
        Container: { ExitCode: first.exitCode, LogStreamName: first.log },
      }),
    );
  }
  const jobId = randomUUID();
  return {
    JobArn: `arn:aws:batch:us-east-1:000000000000:job/${jobId}`,
    JobId: jobId,
    JobName: `nightshift-${request.job}`,
    JobQueue: request.jobQueue ?? 'arn:aws:batch:us-east-1:000000000000:job-queue/nightshift-local',
    JobDefinition: request.jobDefinition ?? `arn:aws:batch:us-east-1:000000000000:job-definition/nightshift-${request.job}:1`,
    Status: 'SUCCEEDED',
    CreatedAt: createdAt,
    StartedAt: createdAt,
    StoppedAt: Date.now(),
    ...(request.arraySize ? { ArrayProperties: { Size: request.arraySize, StatusSummary: { SUCCEEDED: request.arraySize } } } : {}),
  };
}

async function runChild(request: BatchJobRequest, index: number | undefined, options: LocalBatchOptions): Promise<{ exitCode: number; attempts: number; log: string }> {
  const attempts = options.attempts[request.job];
  let exitCode = 0;
  let log = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (options.signal?.aborted) return { exitCode: 143, attempts: attempt - 1, log };
    log = join(options.logDir, `${request.job}${index === undefined ? '' : `-${String(index).padStart(5, '0')}`}-attempt${attempt}.log`);
    exitCode = await spawnOnce(request, index, attempt, log, options);
    if (exitCode === 0 || !RETRYABLE_EXIT_CODES.has(exitCode)) break;
  }
  return { exitCode, attempts, log };
}

async function spawnOnce(request: BatchJobRequest, index: number | undefined, attempt: number, logPath: string, options: LocalBatchOptions): Promise<number> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_NO_WARNINGS: '1',
    MALLOC_ARENA_MAX: '2',
    ...options.baseEnvironment,
    ...request.environment,
    AWS_BATCH_JOB_ATTEMPT: String(attempt),
    ...(index === undefined ? {} : { AWS_BATCH_JOB_ARRAY_INDEX: String(index) }),
  };
  const child = spawn(process.execPath, ['--enable-source-maps', options.entry, request.job], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  options.onSpawn?.(child, request.job, index ?? 0, attempt);
  const terminate = () => child.kill('SIGTERM');
  options.signal?.addEventListener('abort', terminate, { once: true });
  const log = createWriteStream(logPath);
  child.stderr!.pipe(log, { end: false });
  const lines = createInterface({ input: child.stdout! });
  const closed = once(lines, 'close'); // before awaiting the exit: stdout may close first
  lines.on('line', (line) => {
    log.write(`${line}\n`);
    if (!options.onProgress || !line.startsWith('{')) return;
    try {
      const entry = JSON.parse(line) as { msg?: string; done?: number; failed?: number; counts?: { items: number; failed: number } };
      if (entry.msg === 'progress') options.onProgress({ job: request.job, index: index ?? 0, done: entry.done ?? 0, failed: entry.failed ?? 0, finished: false });
      else if (entry.msg === 'shard done' && entry.counts) options.onProgress({ job: request.job, index: index ?? 0, done: entry.counts.items, failed: entry.counts.failed, finished: true });
    } catch {
      // not a log line of ours
    }
  });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  options.signal?.removeEventListener('abort', terminate);
  await closed;
  log.end();
  return code ?? (signal === 'SIGKILL' ? 137 : signal === 'SIGTERM' ? 143 : 1);
}
