/**
 * The run ledger in the work bucket (core/last-run.ts): Prepare records the run it lets start and
 * finds the one before it that never ended; Notify and NotifyFailure record the end.
 */
import { type InterruptedRun, interruptedRun, LAST_RUN_KEY, type LastRun, neverEnded, type RunEnd, type RunProgress } from '../core/last-run';
import { runKeys } from '../core/keys';
import type { Plan } from '../core/plan';
import { etagOf, getJsonIfExists, isConditionalConflict, isNotFound, isPreconditionFailed, listPages, putJson } from '../adapters/s3';
import type { FunctionContext } from './context';

/** runs/<runId>/run.json: how the run started, and the interrupted run before it, if any. */
export interface RunStart {
  readonly runId: string;
  readonly startedAt: string;
  readonly interrupted?: InterruptedRun;
}

export const runStartKey = (runId: string) => `${runKeys(runId).base}/run.json`;

/** What a run had written: its plan, its shard results by operation, its report. */
async function progressOf(ctx: FunctionContext, runId: string): Promise<RunProgress> {
  const { work } = ctx.config.buckets;
  const keys = runKeys(runId);
  const plan = (await getJsonIfExists<Plan>(ctx.s3, work, keys.plan))?.value;
  const results: Record<string, number> = {};
  for (const op of plan?.operations ?? []) {
    results[op] = 0;
    for await (const page of listPages(ctx.s3, { bucket: work, prefix: keys.resultsPrefix(op) })) results[op] += page.objects.length;
  }
  return { plan: plan && { work: plan.counts.work, shardCount: plan.shardCount, operations: plan.operations }, results, report: (await etagOf(ctx.s3, work, keys.report)) !== undefined };
}

/**
 * Records this run as the last run and returns the one before it if it was interrupted. A retried
 * Prepare finds itself in the ledger and keeps what its first attempt found.
 */
export async function recordStart(ctx: FunctionContext, self: Omit<LastRun, 'ended'>, running: readonly string[]): Promise<RunStart> {
  const { work } = ctx.config.buckets;
  const retried = await getJsonIfExists<RunStart>(ctx.s3, work, runStartKey(self.runId));
  if (retried) return retried.value;
  const last = await getJsonIfExists<LastRun>(ctx.s3, work, LAST_RUN_KEY);
  const interrupted = neverEnded(last?.value, self.runId, running) ? interruptedRun(last!.value, await progressOf(ctx, last!.value.runId)) : undefined;
  const start: RunStart = { runId: self.runId, startedAt: self.startedAt, ...(interrupted ? { interrupted } : {}) };
  await putJson(ctx.s3, work, runStartKey(self.runId), start);
  await putJson(ctx.s3, work, LAST_RUN_KEY, self);
  return start;
}

/** The run's start record; undefined for runs started before the ledger existed. */
export async function readStart(ctx: FunctionContext, runId: string): Promise<RunStart | undefined> {
  return (await getJsonIfExists<RunStart>(ctx.s3, ctx.config.buckets.work, runStartKey(runId)))?.value;
}

/** Rounds of read-then-write recordEnd gives a ledger that other writers keep changing. */
const END_ROUNDS = 5;

/**
 * Marks the run as ended, unless a later run has taken the ledger (then there is nothing to mark).
 * The write is conditional on the version read; whatever S3 refuses it with, the ledger is read
 * again and the decision made again: 412 (another writer came first), 409
 * ConditionalRequestConflict (another conditional write was in progress; nothing was written), 404
 * (the ledger was deleted: nothing to mark) (S3 user guide, "How to prevent object overwrites with
 * conditional writes", Conditional write behavior).
 */
export async function recordEnd(ctx: FunctionContext, runId: string, outcome: RunEnd): Promise<void> {
  const { work } = ctx.config.buckets;
  for (let round = 1; ; round++) {
    const last = await getJsonIfExists<LastRun>(ctx.s3, work, LAST_RUN_KEY);
    if (!last || last.value.runId !== runId || last.value.ended) return;
    try {
      await putJson(ctx.s3, work, LAST_RUN_KEY, { ...last.value, ended: { at: new Date().toISOString(), outcome } } satisfies LastRun, { ifMatch: last.etag });
      return;
    } catch (error) {
      if (!(isPreconditionFailed(error) || isConditionalConflict(error) || isNotFound(error)) || round >= END_ROUNDS) throw error;
    }
  }
}
