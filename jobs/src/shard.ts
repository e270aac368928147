/**
 * What backup and resize share: read the plan and this child's manifest, work through the items
 * with bounded concurrency, stop taking items on SIGTERM, and write the shard's result only when
 * every item has been accounted for. A stopped job writes no result and exits non-zero, so the
 * retried attempt redoes the shard; every output key is deterministic, so it redoes it in place.
 */
import pLimit from 'p-limit';
import type { WorkItem } from '../../core/catalog';
import { parseRecordLine } from '../../core/catalog';
import type { ShardOperation } from '../../core/input';
import { compareKeys, runKeys } from '../../core/keys';
import { type Plan } from '../../core/plan';
import { ARCHIVED_MESSAGE, failure, type FailureCode } from '../../core/failures';
import { ShardTally, type ShardResult } from '../../core/results';
import { shardOfChild, type ShardList } from '../../core/work-scope';
import { emitMetrics } from '../../adapters/metrics';
import { errorText, getJson, getJsonIfExists, isArchived, isNotFound, isPreconditionFailed, putJson, putText, readLines } from '../../adapters/s3';
import type { JobContext } from './context';
import { UsageError } from '../../core/validation';

export interface ShardWork {
  readonly concurrency: number;
  /**
   * Handles one item and records its outcome on the tally (exactly one of processed/skip/fail),
   * here or in `finish`.
   */
  handle(item: WorkItem, tally: ShardTally): Promise<void>;
  /** After every item was handled (not when stopping), before the result is written: outcomes decided per shard. */
  finish?(tally: ShardTally): Promise<void>;
  /**
   * When stopping, once the grace period is over and just before the process exits: releases what
   * items still running hold that the exit would leave billing (the backup's open multipart uploads).
   */
  abandon?(): Promise<void>;
}

/** How long `abandon` may take: a few requests, well inside Fargate's 30 s between SIGTERM and SIGKILL after the 20 s grace period. */
const ABANDON_MS = 5_000;

/** `pending`: when stopped, how many of the items read were not handled (queued, or still running past the grace period). */
export type ShardOutcome = { readonly status: 'done'; readonly result: ShardResult } | { readonly status: 'stopped'; readonly pending: number };

export async function readPlan(ctx: JobContext): Promise<Plan> {
  const key = runKeys(ctx.runId).plan;
  try {
    return await getJson<Plan>(ctx.s3, ctx.config.buckets.work, key);
  } catch (error) {
    if (isNotFound(error)) throw new Error(`The plan s3://${ctx.config.buckets.work}/${key} does not exist: the catalog job must run first for run ${ctx.runId}.`);
    throw error;
  }
}

/**
 * An error reading an original (GetObject or CopyObject with If-Match on its catalogued ETag), as
 * that object's outcome: changed or deleted since it was catalogued, archived (a skip the next run
 * after a restore redoes), or else `otherwise` with the error's text. One mapping for every job.
 */
export function sourceReadOutcome(tally: ShardTally, key: string, error: unknown, otherwise: FailureCode): void {
  if (isPreconditionFailed(error)) return tally.fail(failure(key, 'source-changed', 'the object changed after it was catalogued'));
  if (isNotFound(error)) return tally.fail(failure(key, 'source-missing', 'the object was deleted after it was catalogued'));
  if (isArchived(error)) return tally.skip(key, 'archived', ARCHIVED_MESSAGE);
  return tally.fail(failure(key, otherwise, errorText(error)));
}

/**
 * The shard this array child works on (core/work-scope.ts): its index, or the index-th entry of a
 * redrive's list; undefined for the child that only pads an array of one shard to Batch's minimum of 2.
 */
export async function childShard(ctx: JobContext): Promise<number | undefined> {
  if (ctx.shardList === undefined) return ctx.shard;
  return shardOfChild(ctx.shard, await getJson<ShardList>(ctx.s3, ctx.config.buckets.work, ctx.shardList));
}

export async function runShard(ctx: JobContext, operation: ShardOperation, plan: Plan, work: ShardWork): Promise<ShardOutcome> {
  const keys = runKeys(ctx.runId);
  const startedAt = new Date();
  if (ctx.shard >= plan.shardCount) {
    throw new UsageError(`AWS_BATCH_JOB_ARRAY_INDEX=${ctx.shard} but the plan of run ${ctx.runId} has ${plan.shardCount} shard(s): the array job's size must come from plan.shardCount.`);
  }
  const log = ctx.log.child({ shard: ctx.shard, operation });
  // A first attempt that finds its shard's result is a resubmission: a redrive reruns only the
  // shards without a result (ScopeWork), but the Work state's Retry on a Batch service error
  // submits an array job whole again. The result is written last, after all of the shard's work:
  // the shard is done, and one GET says so (instead of checking every output).
  if (ctx.attempt === 1) {
    const done = await getJsonIfExists<ShardResult>(ctx.s3, ctx.config.buckets.work, keys.result(operation, ctx.shard));
    if (done) {
      log.info('shard already done: its result is written (a redrive resubmits every shard)', { attempt: done.value.attempt, finishedAt: done.value.finishedAt });
      return { status: 'done', result: done.value };
    }
  }
  // One line per failed object, with its key: what an operator searches CloudWatch for.
  const tally = new ShardTally((f) => log.warn('object failed', { key: f.key, code: f.code, message: f.message, retryable: f.retryable }));
  if (plan.shardOperations.includes(operation)) {
    const pending = await workThrough(ctx, work, tally, log);
    if (pending !== undefined) return { status: 'stopped', pending };
  } else {
    log.info('operation not requested for this run: nothing to do', { requested: plan.shardOperations });
  }
  const result = shardResult(ctx, operation, plan, tally, startedAt);
  // A dry run's list first: a result names only a list that exists.
  if (plan.dryRun) await putText(ctx.s3, ctx.config.buckets.work, keys.plannedShard(operation, ctx.shard), tally.planned.sort((a, b) => compareKeys(a.key, b.key)).map((a) => `${JSON.stringify(a)}\n`).join(''), 'application/x-ndjson');
  // The last moment a stop signal can still say "no result": from here on the shard is done.
  if (ctx.signal.aborted) return { status: 'stopped', pending: 0 };
  await putJson(ctx.s3, ctx.config.buckets.work, keys.result(operation, ctx.shard), result);
  reportDone(ctx, operation, result, log);
  return { status: 'done', result };
}

/** The shard's closing log line and metrics, from its result. */
function reportDone(ctx: JobContext, operation: ShardOperation, result: ShardResult, log: JobContext['log']): void {
  log.info('shard done', { counts: result.counts, bytesRead: result.bytesRead, bytesWritten: result.bytesWritten, durationMs: result.durationMs });
  emitMetrics(
    {
      ShardSeconds: { value: result.durationMs / 1000, unit: 'Seconds' },
      ShardProcessed: { value: result.counts.processed, unit: 'Count' },
      ShardFailed: { value: result.counts.failed, unit: 'Count' },
      ShardBytesRead: { value: result.bytesRead, unit: 'Bytes' },
      ShardBytesWritten: { value: result.bytesWritten, unit: 'Bytes' },
    },
    { Operation: operation, runId: ctx.runId, shard: ctx.shard, attempt: ctx.attempt },
    process.env,
    ['Operation'],
  );
}

/**
 * Works through the shard's manifest with `work.concurrency` items in flight, reading it just
 * ahead of the work. Returns undefined when every item was handled and `finish` ran with no stop
 * signal before the result's write; otherwise how many items were not handled. A stop may come at
 * any moment, also after the manifest's last line was read with items still queued: a queued item
 * is then not handled, and a result without it would be a shard reported done with work missing.
 * So whatever the moment, a signal before the result is written means no result (the retry redoes
 * the shard): items already running get `graceMs` to finish, the rest are left.
 */
async function workThrough(ctx: JobContext, work: ShardWork, tally: ShardTally, log: JobContext['log']): Promise<number | undefined> {
  const manifest = runKeys(ctx.runId).shard(ctx.shard);
  const limit = pLimit(work.concurrency);
  const inFlight = new Set<Promise<void>>();
  const lines = await readLines(ctx.s3, ctx.config.buckets.work, manifest);
  const progress = progressLog(ctx, tally, log);
  let read = 0;
  let handled = 0;
  for await (const line of lines) {
    if (ctx.signal.aborted) break;
    read++;
    const item = parseRecordLine<WorkItem>(line, `${manifest} line ${read}`);
    const task = limit(async () => {
      if (ctx.signal.aborted) return; // not started: the retry does it
      try {
        await work.handle(item, tally);
      } catch (error) {
        log.error('unexpected error on one object', { key: item.key, error });
        tally.fail(failure(item.key, 'internal-error', errorText(error)));
      }
      handled++;
      progress();
    }).finally(() => inFlight.delete(task));
    inFlight.add(task);
    // Keep the manifest read just ahead of the work instead of queueing the whole shard.
    while (limit.pendingCount > work.concurrency) await Promise.race(inFlight);
  }
  if (!ctx.signal.aborted) log.info('manifest read to the end', { items: read, inFlight: limit.activeCount, queued: limit.pendingCount });
  await settle(ctx, inFlight, log, () => ({ inFlight: limit.activeCount, notStarted: limit.pendingCount }));
  if (ctx.signal.aborted) {
    if (work.abandon) await Promise.race([work.abandon(), new Promise((resolve) => setTimeout(resolve, ABANDON_MS).unref())]);
    return read - handled;
  }
  await work.finish?.(tally);
  // A signal during `finish` (or just before this check) still stops: no result, the retry redoes it.
  return ctx.signal.aborted ? read - handled : undefined;
}

/** Waits for every item in flight; once a stop signal came, for at most `graceMs` more (queued items see the signal and return at once). */
async function settle(ctx: JobContext, inFlight: ReadonlySet<Promise<void>>, log: JobContext['log'], counts: () => { inFlight: number; notStarted: number }): Promise<void> {
  let onStop = () => {};
  const grace = new Promise<void>((resolve) => {
    onStop = () => {
      log.warn('stopping: finishing objects in flight, leaving the rest to the retry', { ...counts(), graceMs: ctx.graceMs });
      setTimeout(resolve, ctx.graceMs).unref();
    };
  });
  if (ctx.signal.aborted) onStop();
  else ctx.signal.addEventListener('abort', onStop, { once: true });
  try {
    await Promise.race([Promise.all(inFlight), grace]);
  } finally {
    ctx.signal.removeEventListener('abort', onStop);
  }
}

/** Progress for people watching (the local runner draws it; in AWS it is a log line now and then). */
function progressLog(ctx: JobContext, tally: ShardTally, log: JobContext['log']): () => void {
  let last = Date.now();
  return () => {
    if (Date.now() - last < ctx.progressMs) return;
    last = Date.now();
    log.info('progress', { done: tally.counts.items, failed: tally.counts.failed });
  };
}

function shardResult(ctx: JobContext, operation: ShardOperation, plan: Plan, tally: ShardTally, startedAt: Date): ShardResult {
  const finishedAt = new Date();
  return {
    runId: ctx.runId,
    operation,
    shard: ctx.shard,
    attempt: ctx.attempt,
    dryRun: plan.dryRun,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    counts: tally.counts,
    bytesRead: tally.bytesRead,
    bytesWritten: tally.bytesWritten,
    ...(operation === 'resize' ? { outputs: tally.outputs, pruned: tally.pruned } : {}),
    skippedByCode: tally.skippedByCode,
    skipped: tally.skipped,
    failures: tally.failures,
    ...(Object.keys(tally.notedByCode).length > 0 ? { notedByCode: tally.notedByCode, noted: tally.noted } : {}),
    ...(tally.records
      ? {
          records: tally.records.counts,
          changes: tally.records.changes,
          backfilled: tally.records.backfilled,
          ...(tally.records.unrecorded.length ? { unrecorded: tally.records.unrecorded } : {}),
          ...(tally.records.uploadLane ? { uploadLane: tally.records.uploadLane } : {}),
        }
      : {}),
    ...(plan.dryRun ? { wouldDo: tally.wouldDo, plannedList: runKeys(ctx.runId).plannedShard(operation, ctx.shard) } : {}),
  };
}
