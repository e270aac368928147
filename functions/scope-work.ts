/**
 * ScopeWork: just before Work, renews the run lease for the plan's time budget (core/lease.ts)
 * and decides what each array job runs (core/work-scope.ts). The first
 * time, every shard; when a redrive resumes at Work, only the shards without a result, listed in
 * runs/<runId>/scope/<operation>-<redrive>.json for the children to read.
 */
import { runKeys } from '../core/keys';
import { LEASE_KEY, workBudgetSeconds } from '../core/lease';
import type { ShardOperation } from '../core/input';
import type { Plan } from '../core/plan';
import { type WorkScope, workScope } from '../core/work-scope';
import { getJson, listPages, putJson } from '../adapters/s3';
import { type FunctionContext, functionContext } from './context';
import { takeLease } from './lease';

export interface ScopeWorkEvent {
  readonly runId: string;
  /** The execution: the run lease is renewed for it (or taken again, after a redrive). */
  readonly executionArn?: string;
  /** `$$.Execution.RedriveCount`: 0 on the first pass. */
  readonly redriveCount?: number;
}

export async function handler(event: ScopeWorkEvent): Promise<WorkScope> {
  const ctx = functionContext();
  const { work } = ctx.config.buckets;
  const keys = runKeys(event.runId);
  const plan = await getJson<Plan>(ctx.s3, work, keys.plan);
  if (event.executionArn) await holdLease(ctx, { executionArn: event.executionArn, runId: event.runId }, plan);
  const redrive = event.redriveCount ?? 0;
  const done = { backup: await shardsWithResult(ctx, plan, 'backup'), resize: await shardsWithResult(ctx, plan, 'resize') };
  const { scope, lists } = workScope(plan, done, (op) => keys.scope(op, redrive));
  // The lists go first: a scope names only lists that exist.
  for (const [op, list] of Object.entries(lists)) await putJson(ctx.s3, work, keys.scope(op, redrive), list);
  ctx.log.info('work scoped', { runId: event.runId, redrive, shards: plan.shardCount, backup: scope.backup.count, resize: scope.resize.count });
  return scope;
}

/** Another run holds the run lease: a redrive that resumes here must wait until that run ends. */
export class AnotherRunActive extends Error {
  override readonly name = 'AnotherRunActive';
}

/**
 * The plan is known: the run lease now lasts the array jobs' timeouts and the states after them.
 * After a redrive (NotifyFailure released the lease) it is taken again, unless another run holds it.
 */
async function holdLease(ctx: FunctionContext, self: { executionArn: string; runId: string }, plan: Plan): Promise<void> {
  const lease = await takeLease(ctx, self, workBudgetSeconds(plan));
  if (!lease.held) {
    const { holder } = lease;
    throw new AnotherRunActive(`run ${holder.runId} holds the run lease (s3://${ctx.config.buckets.work}/${LEASE_KEY}) until ${holder.expiresAt}: redrive this execution after it ends (${holder.executionArn}).`);
  }
}

/** The shards of an operation whose result is written (one LIST page per 1,000 shards; none on a first pass). */
async function shardsWithResult(ctx: FunctionContext, plan: Plan, op: ShardOperation): Promise<Set<number>> {
  const done = new Set<number>();
  if (!plan.arrayJobs[op]) return done;
  const prefix = runKeys(plan.runId).resultsPrefix(op);
  for await (const page of listPages(ctx.s3, { bucket: ctx.config.buckets.work, prefix })) {
    for (const o of page.objects) {
      const match = /^(\d{5})\.json$/.exec(o.Key!.slice(prefix.length));
      if (match) done.add(Number(match[1]));
    }
  }
  return done;
}
