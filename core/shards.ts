/**
 * Splits the work list into shards balanced by object count and bytes. Shards are contiguous runs
 * of the key-ordered work list (so a shard's outputs are a key range, and the plan is the same
 * every time it is computed), cut where the running share of work crosses a shard boundary.
 */
import type { ShardRules } from './config';

/** AWS Batch array jobs take between 2 and 10,000 children. */
export const MIN_ARRAY_SIZE = 2;
export const MAX_ARRAY_SIZE = 10_000;

/**
 * How many shards a work list needs: enough for the per-shard targets, never more than
 * `maxShards` (≤ 10,000), and at least 2 whenever there is any work (an array job needs 2 children;
 * the second may be empty). Zero when there is nothing to do.
 */
export function shardCount(objects: number, bytes: number, rules: ShardRules): number {
  if (objects <= 0) return 0;
  const wanted = Math.max(Math.ceil(objects / rules.targetObjects), Math.ceil(bytes / rules.targetBytes));
  const cap = Math.min(rules.maxShards, MAX_ARRAY_SIZE, Math.max(MIN_ARRAY_SIZE, objects));
  return Math.max(MIN_ARRAY_SIZE, Math.min(wanted, cap));
}

/**
 * Assigns items, in order, to `count` shards. Each item weighs half its share of the objects plus
 * half its share of the bytes; it goes to the shard in which the midpoint of its weight falls.
 */
export class ShardCutter {
  private cumulative = 0;
  constructor(
    private readonly count: number,
    private readonly totalObjects: number,
    private readonly totalBytes: number,
  ) {
    if (count < 1) throw new RangeError(`shard count must be at least 1, received ${count}`);
  }

  /** The shard index of the next item, given its size. */
  next(size: number): number {
    const weight = this.totalBytes > 0 ? 0.5 / this.totalObjects + (0.5 * size) / this.totalBytes : 1 / this.totalObjects;
    const midpoint = this.cumulative + weight / 2;
    this.cumulative += weight;
    return Math.min(this.count - 1, Math.floor(midpoint * this.count));
  }
}
