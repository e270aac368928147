/**
 * The Batch container's one entry point: `main.js catalog|backup|resize`.
 *
 * Exit codes (the Batch retry strategy keys on them):
 *   0    the job did its work; per-object failures are in its result file, not in the exit code
 *   1    it could not do its work (e.g. S3 unreachable, manifest unreadable): worth a retry
 *   2    bad configuration or environment: a retry would fail the same way
 *   143  stopped before finishing, by SIGTERM (Spot reclaim, a cancelled job) or by itself just
 *        before its attempt timeout (which Batch would not retry): the retry redoes the shard
 */
// First, before anything else loads: the stop signals' handlers (see stop-signals.ts).
import { STOP_SIGNALS, stopController } from './stop-signals';
import { createLogger } from '../../adapters/log';
import { createS3Client, errorText } from '../../adapters/s3';
import { backupJob } from './backup';
import { catalogJob } from './catalog';
import { EXIT, type JobContext, loadJobConfig, parseJobEnvironment, selfDeadlineMs } from './context';
import { UsageError } from '../../core/validation';
import { childShard, readPlan } from './shard';

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const job = argv[0] ?? env.NIGHTSHIFT_JOB;
  const bootLog = createLogger({ job }, {}, env);
  let parsed;
  try {
    // The configuration object first (NIGHTSHIFT_CONFIG_S3), then the variables.
    parsed = parseJobEnvironment(job, env, await loadJobConfig(job, env));
  } catch (error) {
    bootLog.error((error as Error).message);
    return error instanceof UsageError ? EXIT.usage : EXIT.failed;
  }
  const stop = stopController;
  const ctx: JobContext = {
    ...parsed,
    s3: createS3Client({ maxSockets: Math.max(64, parsed.config.backup.concurrency * 2), maxAttempts: parsed.s3MaxAttempts }, env),
    log: createLogger({ job: parsed.job, runId: parsed.runId, attempt: parsed.attempt }, {}, env),
    signal: stop.signal,
  };
  const onStop = () => {
    if ((STOP_SIGNALS as readonly unknown[]).includes(stop.signal.reason)) ctx.log.warn(`${String(stop.signal.reason)} received: taking no new objects`);
  };
  if (stop.signal.aborted) {
    // During start-up: the handler was there (stop-signals.ts); nothing was started, so nothing to finish.
    ctx.log.warn(`${String(stop.signal.reason)} received during start-up: exiting for a retry`);
    ctx.s3.destroy();
    return EXIT.terminated;
  }
  stop.signal.addEventListener('abort', onStop, { once: true });
  const started = Date.now();
  const deadline = selfDeadlineMs(parsed.attemptTimeoutMs, parsed.graceMs, parsed.stopMarginMs);
  const timer =
    deadline === undefined
      ? undefined
      : setTimeout(() => {
          ctx.log.warn('attempt timeout near: taking no new objects, exiting for a retry', { attemptTimeoutMs: parsed.attemptTimeoutMs, stopAfterMs: deadline });
          stop.abort('attempt timeout');
        }, deadline).unref();
  const stopped = new Promise<'stopped'>((resolve) => stop.signal.addEventListener('abort', () => resolve('stopped'), { once: true }));
  try {
    return await runJob(ctx, stopped, started);
  } catch (error) {
    if (error instanceof UsageError) {
      ctx.log.error(error.message);
      return EXIT.usage;
    }
    ctx.log.error(`job failed: ${errorText(error)}`, { error });
    return stop.signal.aborted ? EXIT.terminated : EXIT.failed;
  } finally {
    clearTimeout(timer);
    stop.signal.removeEventListener('abort', onStop);
    ctx.s3.destroy();
    ctx.log.info('job finished', { ms: Date.now() - started, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) });
  }
}

/** The job itself, once its context is set: the catalog's one pass, or an array child's shard. */
async function runJob(ctx: JobContext, stopped: Promise<'stopped'>, started: number): Promise<number> {
  if (ctx.job === 'catalog') {
    // The catalog's work is one pass that a retry redoes from the start: stopping it early only
    // has to make sure the attempt ends as a retryable exit, not as a Batch timeout.
    const pass = catalogJob(ctx);
    if ((await Promise.race([pass, stopped])) === 'stopped') {
      // Its multipart uploads abort on the signal (adapters/s3.ts): let them, within the grace
      // period, rather than leave their parts billed until the lifecycle rule.
      await Promise.race([pass.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, ctx.graceMs).unref())]);
      ctx.log.warn('stopped before the plan was written; exiting for a retry', { ms: Date.now() - started });
      return EXIT.terminated;
    }
    return EXIT.ok;
  }
  const shard = await childShard(ctx);
  if (shard === undefined) {
    ctx.log.info('nothing to do: this child pads a redrive of one shard to the array minimum of 2', { arrayIndex: ctx.shard, shardList: ctx.shardList });
    return EXIT.ok;
  }
  const child: JobContext = { ...ctx, shard };
  const plan = await readPlan(child);
  // The resize job is loaded only where it runs: it brings sharp and libvips, which the other jobs'
  // start-up would otherwise pay for.
  const outcome = ctx.job === 'backup' ? await backupJob(child, plan) : await (require('./resize') as typeof import('./resize')).resizeJob(child, plan);
  if (outcome.status === 'stopped') {
    ctx.log.warn('stopped before the shard was done; exiting for a retry', { notHandled: outcome.pending, ms: Date.now() - started });
    return EXIT.terminated;
  }
  return EXIT.ok;
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
      // A stop signal after the job ended (while sockets close) changes nothing: the outcome stands.
      for (const name of STOP_SIGNALS) process.on(name, () => process.exit(code));
      // Stopped: work still in flight past its grace period must not keep the process alive
      // until Batch kills it, which would turn a retryable exit into an unretried timeout.
      if (code === EXIT.terminated) process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(`nightshift job crashed: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}
