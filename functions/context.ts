/**
 * What every function shares: the pipeline configuration (validated once per container), the S3
 * and SNS clients, and links for the email.
 *
 * The configuration is an object in the work bucket that the deployment writes, named by
 * NIGHTSHIFT_CONFIG_S3 (`s3://<work bucket>/config/pipeline-<digest>.json`), read once per
 * container by the handler's wrapper (withPipelineConfig; functions/entry/*.ts), not the
 * environment itself: Lambda allows 4 KB of environment variables per function, all of them
 * together (Lambda developer guide, "Lambda quotas"), which a few dozen excludePrefixes fill. A new
 * configuration has a new name, so a changed pointer reaches every container and a cached one is
 * never stale. NIGHTSHIFT_CONFIG (the JSON itself) is still read when no pointer is set (tests).
 *
 * Environment: NIGHTSHIFT_CONFIG_S3 or NIGHTSHIFT_CONFIG (one required), NIGHTSHIFT_TOPIC_ARN (notify, notify-failure),
 * NIGHTSHIFT_SCHEDULE_CRON and NIGHTSHIFT_SCHEDULE_TIME_ZONE (prepare), AWS_REGION (set by Lambda),
 * NIGHTSHIFT_LINKS=local to link reports as local files (the embedded runtime), NIGHTSHIFT_METRICS=off
 * to skip the embedded-metric-format lines.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { parsePipelineConfig, type PipelineConfig } from '../core/config';
import type { EmailLinks } from '../core/email';
import { runKeys } from '../core/keys';
import { createLogger, type Logger } from '../adapters/log';
import { readPipelineConfigObject } from '../adapters/pipeline-config';
import { createS3Client } from '../adapters/s3';

export interface FunctionContext {
  readonly config: PipelineConfig;
  readonly s3: S3Client;
  readonly sns: SNSClient;
  readonly log: Logger;
  readonly env: NodeJS.ProcessEnv;
}

let cached: FunctionContext | undefined;

/** The environment a local run gives its functions (withFunctionEnvironment), in place of process.env. */
const scopedEnv = new AsyncLocalStorage<NodeJS.ProcessEnv>();

/**
 * Runs `fn` (a handler call) with `env` as the functions' environment instead of process.env: the
 * local runtime gives its functions their settings without changing the process's own.
 */
export function withFunctionEnvironment<T>(env: NodeJS.ProcessEnv, fn: () => Promise<T>): Promise<T> {
  return scopedEnv.run(env, fn);
}

const currentEnv = () => scopedEnv.getStore() ?? process.env;

/** Configurations read from S3, by their NIGHTSHIFT_CONFIG_S3 pointer: one read per container and pointer. */
const loaded = new Map<string, PipelineConfig>();

/**
 * Reads the configuration NIGHTSHIFT_CONFIG_S3 names (adapters/pipeline-config.ts), once per
 * pointer: a warm container does no request. Nothing to do when the JSON is in NIGHTSHIFT_CONFIG instead.
 */
export async function loadPipelineConfig(env: NodeJS.ProcessEnv = currentEnv()): Promise<void> {
  const pointer = env.NIGHTSHIFT_CONFIG_S3;
  if (!pointer || loaded.has(pointer)) return;
  loaded.set(pointer, await readPipelineConfigObject(pointer, env));
}

/** A handler that runs once its configuration is loaded: what Lambda calls (functions/entry/*.ts). */
export function withPipelineConfig<E, R>(handler: (event: E) => Promise<R>): (event: E) => Promise<R> {
  return async (event: E) => {
    await loadPipelineConfig();
    return handler(event);
  };
}

function configOf(env: NodeJS.ProcessEnv): PipelineConfig {
  if (env.NIGHTSHIFT_CONFIG_S3) {
    const config = loaded.get(env.NIGHTSHIFT_CONFIG_S3);
    if (!config) throw new Error(`NIGHTSHIFT_CONFIG_S3=${env.NIGHTSHIFT_CONFIG_S3} is not loaded yet: call the handler through withPipelineConfig (functions/entry/).`);
    return config;
  }
  if (!env.NIGHTSHIFT_CONFIG) throw new Error('NIGHTSHIFT_CONFIG_S3 is not set: expected s3://<bucket>/<key> of the pipeline configuration (or NIGHTSHIFT_CONFIG, the JSON itself).');
  return parsePipelineConfig(JSON.parse(env.NIGHTSHIFT_CONFIG), 'NIGHTSHIFT_CONFIG');
}

/** Where the functions' log lines go: stdout (CloudWatch Logs in Lambda) unless a test or the local runtime keeps them. */
let logWrite: ((line: string) => void) | undefined;

/** For tests and the local runtime: send the functions' log lines to `write` (undefined: stdout again). */
export function setFunctionLogWrite(write: ((line: string) => void) | undefined): void {
  logWrite = write;
  cached = undefined;
}

/** One context per Lambda container (or per local run); `env` is read on first use. */
export function functionContext(env: NodeJS.ProcessEnv = currentEnv()): FunctionContext {
  if (cached && cached.env === env) return cached;
  const config = configOf(env);
  const endpoint = env.AWS_ENDPOINT_URL_SNS ?? env.AWS_ENDPOINT_URL;
  cached = {
    config,
    s3: createS3Client({}, env),
    sns: new SNSClient({ region: env.AWS_REGION ?? 'us-east-1', maxAttempts: 5, ...(endpoint ? { endpoint } : {}), ...(endpoint && !env.AWS_ACCESS_KEY_ID ? { credentials: { accessKeyId: 'nightshift', secretAccessKey: 'nightshift' } } : {}) }),
    log: createLogger({ function: env.AWS_LAMBDA_FUNCTION_NAME ?? 'local' }, logWrite ? { write: logWrite } : {}, env),
    env,
  };
  return cached;
}

/** For tests and the local runtime: forget the cached context and the configurations read. */
export function resetFunctionContext(): void {
  cached = undefined;
  loaded.clear();
}

/** Links in the email: the AWS consoles, or files on disk for a local run. */
export function emailLinks(ctx: FunctionContext, runId: string, executionArn: string | undefined, withReport: boolean): EmailLinks {
  const keys = runKeys(runId);
  const bucket = ctx.config.buckets.work;
  if (ctx.env.NIGHTSHIFT_LINKS === 'local') {
    const dir = ctx.env.NIGHTSHIFT_LOCAL_REPORTS ?? '.nightshift/reports';
    return withReport ? { execution: executionArn, report: `${dir}/${runId}/report.html`, failuresCsv: `${dir}/${runId}/failures.csv`, changes: `${dir}/${runId}/changes.jsonl` } : { execution: executionArn };
  }
  const region = ctx.env.AWS_REGION ?? 'us-east-1';
  const object = (key: string) => `https://${region}.console.aws.amazon.com/s3/object/${bucket}?region=${region}&prefix=${encodeURIComponent(key)}`;
  return {
    execution: executionArn ? `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}` : undefined,
    ...(withReport ? { report: object(keys.reportHtml), reportJson: `s3://${bucket}/${keys.report}`, failuresCsv: object(keys.failuresCsv), changes: `s3://${bucket}/${keys.changeFeed}` } : {}),
  };
}
