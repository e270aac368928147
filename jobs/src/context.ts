/**
 * The job contract: everything a job needs comes from its environment (as AWS Batch sets it, or the
 * local executor imitates it) and from the run's plan.json. Parsed once, at start-up; a missing or
 * bad variable stops the job with exit code 2 and a message naming it.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { S3Client } from '@aws-sdk/client-s3';
import { JOB_DEFAULTS, parsePipelineConfig, type PipelineConfig } from '../../core/config';
import { JOB_NAMES, type JobName } from '../../core/jobs';
import { assertRunId, runKeys } from '../../core/keys';
import { ALL_SHARDS } from '../../core/work-scope';
import { showValue, UsageError, ValidationError } from '../../core/validation';
import type { Logger } from '../../adapters/log';
import { CONFIG_POINTER_ENV, ConfigObjectError, readPipelineConfigObject } from '../../adapters/pipeline-config';

export interface JobContext {
  readonly job: JobName;
  readonly runId: string;
  readonly config: PipelineConfig;
  /** Raw run input (catalog validates it against the configuration). */
  readonly input: unknown;
  /**
   * The shard this child works on: its array index (AWS_BATCH_JOB_ARRAY_INDEX), or after a
   * redrive the index-th entry of the list NIGHTSHIFT_SHARDS names (jobs/src/shard.ts childShard); 0 for the catalog job.
   */
  readonly shard: number;
  /** NIGHTSHIFT_SHARDS: the work bucket key of a redrive's shard list (core/work-scope.ts); undefined when the children are the shards. */
  readonly shardList?: string;
  /** 1 on the first attempt (AWS_BATCH_JOB_ATTEMPT). */
  readonly attempt: number;
  readonly tmpDir: string;
  readonly sortMemoryBytes: number;
  /** The task's memory in MiB (NIGHTSHIFT_JOB_MEMORY_MIB, which the job definition sets from its own size; else the configuration's compute.resize.memoryMiB): what the resize job budgets images from. */
  readonly memoryMiB: number;
  /** After SIGTERM, how long in-flight objects may take to finish before the job exits anyway. */
  readonly graceMs: number;
  /** At most one progress log line per this many milliseconds. */
  readonly progressMs: number;
  readonly s3MaxAttempts: number;
  readonly attemptTimeoutMs: number;
  readonly stopMarginMs: number;
  readonly s3: S3Client;
  readonly log: Logger;
  /** Aborted on SIGTERM: jobs stop taking new objects. */
  readonly signal: AbortSignal;
}

/** Exit codes, also used by the Batch retry strategy: 1 is worth a retry, 2 is not. */
export const EXIT = { ok: 0, failed: 1, usage: 2, terminated: 143 } as const;

/**
 * When a job stops itself, in milliseconds from its start: AWS Batch does not retry an attempt it
 * killed for exceeding its timeout (AWS Batch user guide, "Job timeouts"), so the job stops first
 * — takes no new objects, gives those in flight `graceMs`, and exits 143, which the retry strategy
 * retries — `marginMs` before the kill would come. Never before half the timeout; undefined
 * when no timeout is known.
 */
export function selfDeadlineMs(attemptTimeoutMs: number, graceMs: number, marginMs: number): number | undefined {
  if (attemptTimeoutMs <= 0) return undefined;
  return Math.max(attemptTimeoutMs - graceMs - marginMs, attemptTimeoutMs / 2);
}

/**
 * The configuration NIGHTSHIFT_CONFIG_S3 names (the object the deployment writes to the work bucket;
 * a job definition's environment is bounded by Batch's 24 KiB), read before the environment is
 * parsed. Undefined without a pointer: NIGHTSHIFT_CONFIG or NIGHTSHIFT_CONFIG_FILE then (local runs, tests).
 * A bad pointer, a missing object or an invalid configuration is a UsageError (exit 2: a retry
 * reads the same); S3 unreachable is not (exit 1, retried).
 */
export async function loadJobConfig(job: string | undefined, env: NodeJS.ProcessEnv): Promise<PipelineConfig | undefined> {
  const pointer = env[CONFIG_POINTER_ENV];
  if (!pointer) return undefined;
  // What is wrong without reading anything is said first, as parseJobEnvironment would (exit 2).
  assertJobName(job);
  const maxAttempts = intVar(env, 'NIGHTSHIFT_S3_MAX_ATTEMPTS', 8, 1, 100);
  try {
    return await readPipelineConfigObject(pointer, env, { maxAttempts });
  } catch (error) {
    if (error instanceof ValidationError || (error instanceof ConfigObjectError && error.notFound)) throw new UsageError(error.message);
    throw error;
  }
}

function assertJobName(job: string | undefined): asserts job is JobName {
  if (!job || !(JOB_NAMES as readonly string[]).includes(job)) {
    throw new UsageError(`Unknown job ${showValue(job)}: expected one of ${JOB_NAMES.join(', ')} as the first argument (e.g. \`node dist/main.js resize\` in the job image, \`npm run job -- resize\` from a checkout).`);
  }
}

/** The job's environment, parsed; `loaded` is the configuration loadJobConfig read, if any (else NIGHTSHIFT_CONFIG). */
export function parseJobEnvironment(job: string | undefined, env: NodeJS.ProcessEnv, loaded?: PipelineConfig) {
  assertJobName(job);
  const runId = required(env, 'NIGHTSHIFT_RUN_ID', 'the run id, e.g. the Step Functions execution name');
  try {
    assertRunId(runId);
  } catch (error) {
    throw new UsageError(`NIGHTSHIFT_RUN_ID: ${(error as Error).message}`);
  }
  const config = loaded ?? parseConfigFromEnv(env);
  const input = env.NIGHTSHIFT_INPUT ? parseJsonVar(env, 'NIGHTSHIFT_INPUT') : {};
  const shard = job === 'catalog' ? 0 : intVar(env, 'AWS_BATCH_JOB_ARRAY_INDEX', undefined, 0, 9_999);
  const shardList = env.NIGHTSHIFT_SHARDS && env.NIGHTSHIFT_SHARDS !== ALL_SHARDS ? env.NIGHTSHIFT_SHARDS : undefined;
  if (shardList !== undefined && !shardList.startsWith(`${runKeys(runId).base}/scope/`)) {
    throw new UsageError(`NIGHTSHIFT_SHARDS=${showValue(shardList)}: expected "${ALL_SHARDS}" or a shard list under ${runKeys(runId).base}/scope/ (the ScopeWork state sets it).`);
  }
  return {
    ...(shardList ? { shardList } : {}),
    job: job as JobName,
    runId,
    config,
    input,
    shard,
    attempt: intVar(env, 'AWS_BATCH_JOB_ATTEMPT', 1, 1, 10),
    tmpDir: env.NIGHTSHIFT_TMPDIR || tmpdir(),
    sortMemoryBytes: intVar(env, 'NIGHTSHIFT_SORT_MEMORY_MB', 128, 1, 65_536) * 1024 * 1024,
    memoryMiB: intVar(env, 'NIGHTSHIFT_JOB_MEMORY_MIB', job === 'catalog' ? JOB_DEFAULTS.catalog.memoryMiB : config.compute[job as 'backup' | 'resize'].memoryMiB, 1, 1_048_576),
    graceMs: intVar(env, 'NIGHTSHIFT_GRACE_SECONDS', 20, 0, 3_600) * 1000,
    progressMs: intVar(env, 'NIGHTSHIFT_PROGRESS_MS', 30_000, 0, 3_600_000),
    /** The job definition's attempt timeout (the stack sets it); 0: none known, no self-deadline. */
    attemptTimeoutMs: intVar(env, 'NIGHTSHIFT_ATTEMPT_TIMEOUT_SECONDS', 0, 0, 14 * 24 * 3600) * 1000,
    /** How long before the attempt timeout, besides the grace period, the job stops itself. */
    stopMarginMs: intVar(env, 'NIGHTSHIFT_STOP_MARGIN_SECONDS', 60, 0, 3_600) * 1000,
    /** Attempts per S3 request, including the first (adapters/s3.ts). */
    s3MaxAttempts: intVar(env, 'NIGHTSHIFT_S3_MAX_ATTEMPTS', 8, 1, 100),
  };
}

function parseConfigFromEnv(env: NodeJS.ProcessEnv): PipelineConfig {
  let raw: unknown;
  if (env.NIGHTSHIFT_CONFIG) raw = parseJsonVar(env, 'NIGHTSHIFT_CONFIG');
  else if (env.NIGHTSHIFT_CONFIG_FILE) {
    try {
      raw = JSON.parse(readFileSync(env.NIGHTSHIFT_CONFIG_FILE, 'utf8'));
    } catch (error) {
      throw new UsageError(`NIGHTSHIFT_CONFIG_FILE: cannot read ${env.NIGHTSHIFT_CONFIG_FILE} as JSON: ${(error as Error).message}`);
    }
  } else throw new UsageError('NIGHTSHIFT_CONFIG is not set: expected the pipeline configuration as JSON (or NIGHTSHIFT_CONFIG_FILE, a path to it; in AWS the stack sets NIGHTSHIFT_CONFIG_S3, its object in the work bucket).');
  try {
    return parsePipelineConfig(raw, 'NIGHTSHIFT_CONFIG');
  } catch (error) {
    if (error instanceof ValidationError) throw new UsageError(error.message);
    throw error;
  }
}

function required(env: NodeJS.ProcessEnv, name: string, what: string): string {
  const value = env[name];
  if (!value) throw new UsageError(`${name} is not set: expected ${what}.`);
  return value;
}

function parseJsonVar(env: NodeJS.ProcessEnv, name: string): unknown {
  try {
    return JSON.parse(env[name]!);
  } catch (error) {
    throw new UsageError(`${name} is not valid JSON (${(error as Error).message}): received ${showValue(env[name])}`);
  }
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number | undefined, min: number, max: number): number {
  const value = env[name];
  if (value === undefined || value === '') {
    if (fallback === undefined) throw new UsageError(`${name} is not set: expected a whole number from ${min} to ${max} (AWS Batch sets it for array job children).`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, received ${showValue(value)}`);
  return n;
}
