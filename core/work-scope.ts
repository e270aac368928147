/**
 * What the Work state's array jobs run. The first time, every shard of the plan. After a redrive,
 * only the shards without a result: a resubmitted child that finds its result exits at once, but
 * it is still a Fargate task started and billed for a minute, and a 10,000-shard Work with one
 * failed child would otherwise start 20,000 of them (about ten hours on the default 32 vCPUs).
 */
import { MIN_ARRAY_SIZE } from './shards';
import type { ShardOperation } from './input';
import type { Plan } from './plan';

/** NIGHTSHIFT_SHARDS when the children are the plan's shards 0…n-1, one each. */
export const ALL_SHARDS = 'all';

/** One array job of Work: whether it runs, its size, and which shard each child works on. */
export interface ArrayScope {
  readonly run: boolean;
  /** The array job's size: the shards to run, and never below AWS Batch's minimum of 2. */
  readonly arraySize: number;
  /** ALL_SHARDS, or the key of a ShardList in the work bucket: child i works on shards[i]. */
  readonly shards: string;
  /** Shards this array job runs (arraySize less any padding child). */
  readonly count: number;
}

export type WorkScope = Record<ShardOperation, ArrayScope>;

/** runs/<runId>/scope/<operation>-<redrive>.json: the shards a redriven array job runs, in order. */
export interface ShardList {
  readonly shards: readonly number[];
}

/**
 * Each array job's scope, given the shards that already have a result. `listKey` names where a
 * partial list goes; the lists to write are returned beside the scope.
 */
export function workScope(plan: Pick<Plan, 'shardCount' | 'arrayJobs'>, done: Readonly<Record<ShardOperation, ReadonlySet<number>>>, listKey: (op: ShardOperation) => string): { scope: WorkScope; lists: Partial<Record<ShardOperation, ShardList>> } {
  const lists: Partial<Record<ShardOperation, ShardList>> = {};
  const one = (op: ShardOperation): ArrayScope => {
    if (!plan.arrayJobs[op]) return { run: false, arraySize: 0, shards: ALL_SHARDS, count: 0 };
    const missing = Array.from({ length: plan.shardCount }, (_, shard) => shard).filter((shard) => !done[op].has(shard));
    if (missing.length === plan.shardCount) return { run: true, arraySize: plan.shardCount, shards: ALL_SHARDS, count: missing.length };
    if (missing.length === 0) return { run: false, arraySize: 0, shards: ALL_SHARDS, count: 0 };
    lists[op] = { shards: missing };
    return { run: true, arraySize: Math.max(MIN_ARRAY_SIZE, missing.length), shards: listKey(op), count: missing.length };
  };
  return { scope: { backup: one('backup'), resize: one('resize') }, lists };
}

/** The shard an array child works on: its index, or the index-th entry of the list; undefined for a padding child. */
export function shardOfChild(index: number, list: ShardList | undefined): number | undefined {
  return list === undefined ? index : list.shards[index];
}
