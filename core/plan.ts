/**
 * The plan: what the catalog job decided for a run (plan.json), read by the workflow, the jobs,
 * aggregate and the email: counts, shards, the prune guard's decision, the expected duration and
 * cost. Written last, so a plan in S3 always describes artefacts that are all there.
 */
import type { Operation, ShardOperation } from './input';
import type { RunCost } from './cost';
import type { PlanTiming } from './timing';
import type { Explanation } from './explain';
import { count } from './format';

export interface PlanCounts {
  /** Objects listed under the run's prefix. */
  listed: number;
  /** Listed objects that passed the filter rules (the catalogue). */
  selected: number;
  new: number;
  changed: number;
  unchanged: number;
  /** In the last catalogue, no longer listed. */
  deleted: number;
  /** Objects in the work list: those with anything to back up or render (every selected object on a full run), and the prunes. */
  work: number;
  /** Deleted originals whose renditions this run prunes (part of `work`). */
  prune?: number;
  /** Images whose renditions are current but that have no record yet: recorded without re-rendering (part of `work`). */
  backfill?: number;
  /** Listed objects left alone by the filter, by reason. */
  skipped: Record<string, number>;
}

export interface Plan {
  readonly runId: string;
  readonly createdAt: string;
  readonly prefix: string;
  readonly dryRun: boolean;
  readonly full: boolean;
  /** With `full`: outputs are rewritten even when current. */
  readonly force?: boolean;
  readonly operations: readonly Operation[];
  /** The shard operations the workflow runs as array jobs (those requested, when there is work). */
  readonly shardOperations: readonly ShardOperation[];
  /** The same as booleans, for the workflow's Choice states (JSONPath cannot test array membership). */
  readonly arrayJobs: Readonly<Record<ShardOperation, boolean>>;
  readonly presets: readonly string[];
  /** 0 when there is nothing to do, else 2..10,000 (an array job's size). */
  readonly shardCount: number;
  readonly counts: PlanCounts;
  readonly bytes: { readonly listed: number; readonly selected: number; readonly work: number };
  /** The catalogue was diffed against this many records of the last good catalogue (0 on a first run). */
  readonly previousCatalogRecords: number;
  /**
   * The ETag of the state/catalog.jsonl the diff read, or null when there was none. Promotion
   * writes over exactly this version (If-Match; If-None-Match: * for null), so a run whose base
   * another run has replaced since ends superseded instead of overwriting the newer catalogue.
   * Absent from plans written before it was recorded.
   */
  readonly stateCatalogEtag?: string | null;
  /** Renditions of deleted originals: how many this run prunes, and how many the guard held. */
  readonly prune?: PrunePlan;
  /** Why the work is due: changed presets (what changed, images, time, cost), retries, legacy renditions kept, removed presets. Absent from older plans. */
  readonly explain?: Explanation;
  /** True when there is no work for any requested shard operation. */
  readonly nothingToDo: boolean;
  /** What the operator should know before trusting the run (e.g. a prefix that matched nothing). */
  readonly warnings?: readonly string[];
  /** Where the catalogue came from: a listing, or an S3 Inventory delivery (its manifest and when it was taken). */
  readonly source?: { readonly kind: 'listing' | 'inventory'; readonly manifest?: string; readonly createdAt?: string };
  /** Originals deleted since the last run (`counts.deleted` of them): the first few by key, and the list of all. */
  readonly deleted?: DeletedOriginals;
  /** Each array job's state timeout in seconds (the workflow's TimeoutSecondsPath reads it). */
  readonly timeouts: Readonly<Record<ShardOperation, number>>;
  /** How long the run should take on the configured compute, and whether it fits the execution's limit. */
  readonly estimate: Omit<PlanTiming, 'timeouts'> & { readonly cost?: RunCost };
}

export interface DeletedOriginals {
  /** The first DELETED_SAMPLE keys, in key order. */
  readonly sample: readonly string[];
  /** runs/<runId>/deleted.jsonl: every one, `{key, size, etag}` a line. */
  readonly list: string;
}

/** Deleted keys named in the plan, the email and the report; the full list is deleted.jsonl. */
export const DELETED_SAMPLE = 20;

export interface PrunePlan {
  /** renditions.pruneDeleted. */
  readonly enabled: boolean;
  /** Deleted originals whose renditions this run prunes. */
  readonly originals: number;
  /** Deleted originals whose renditions the guard kept tonight (more than `maxShare` of the catalogue). */
  readonly held: number;
  /** The share of last night's catalogue whose renditions were to be pruned. */
  readonly share: number;
  readonly maxShare: number;
}

/**
 * Work is dense when at least this share of the catalogue is in it (a first or full run). Jobs
 * then list a shard's key range (1,000 keys a request) rather than send a HeadObject per key: a
 * listing of the range costs at most 1/(1000 × share) requests per work item.
 */
export const DENSE_WORK_SHARE = 0.05;

export function isDenseWork(plan: Pick<Plan, 'full' | 'counts'>): boolean {
  return plan.full || plan.counts.work >= DENSE_WORK_SHARE * plan.counts.selected;
}

/** The plan's backfill (counts.backfill), as the plan's log and the email say it. */
export function backfillWords(images: number): string {
  return `${count(images, 'image')} ${images === 1 ? 'gets its' : 'get their'} details recorded without re-rendering (backfill)`;
}
