/**
 * What a run writes about itself: the plan (catalog's output, read by the workflow) and one result
 * per shard and operation (read by aggregate). Every object a job is given ends up counted exactly
 * once as processed, skipped or failed; skips and failures carry a reason code.
 */
import type { Operation, ShardOperation } from './input';
import type { RunCost } from './cost';
import type { PlanTiming } from './timing';

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
  /** Renditions of deleted originals: how many this run prunes, and how many the guard held. */
  readonly prune?: PrunePlan;
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

/** Reason codes of per-object failures. `retryable` failures are worth another attempt tomorrow. */
export const FAILURE_CODES = {
  'source-missing': { retryable: true, hint: 'the object was deleted after it was listed' },
  'source-changed': { retryable: true, hint: 'the object changed after it was listed; the next run picks up the new version' },
  'read-failed': { retryable: true, hint: 'the object could not be read from S3' },
  'write-failed': { retryable: true, hint: 'an output could not be written to S3' },
  'copy-failed': { retryable: true, hint: 'the server-side copy failed' },
  'verify-failed': { retryable: true, hint: 'the copy did not match its source after writing' },
  'prune-failed': { retryable: true, hint: 'a rendition of a deleted original could not be deleted; the next run tries again' },
  'unsupported-format': { retryable: false, hint: 'the content is not an image format nightshift renders (sniffed from the bytes, not the name)' },
  'content-type': { retryable: false, hint: 'the object\'s Content-Type is not an accepted image type' },
  'too-many-pixels': { retryable: false, hint: 'width × height exceeds filter.maxPixels' },
  'decode-failed': { retryable: false, hint: 'the image is corrupt or truncated' },
  'encode-failed': { retryable: false, hint: 'a rendition could not be encoded' },
  'internal-error': { retryable: true, hint: 'an unexpected error in nightshift itself: see the job log for the stack trace' },
} as const;
export type FailureCode = keyof typeof FAILURE_CODES;

/**
 * Skips that are not done work: the object could not be read yet (an archive tier answers GET and
 * CopyObject with InvalidObjectState; Intelligent-Tiering's archive tiers cannot be told from the
 * listing). Aggregate leaves these out of the promoted catalogue, so the next run after a restore
 * finds them new again.
 */
export const NOT_DONE_SKIP_CODES: ReadonlySet<string> = new Set(['archived']);

export const ARCHIVED_MESSAGE = 'the object is in an archive tier (S3 Glacier, or Intelligent-Tiering Archive Access / Deep Archive Access): restore it first; the next run after the restore picks it up';

export interface Failure {
  readonly key: string;
  readonly code: FailureCode;
  readonly message: string;
  readonly retryable: boolean;
}

export interface Skip {
  readonly key: string;
  readonly code: string;
  readonly message?: string;
}

export interface ShardResult {
  readonly runId: string;
  readonly operation: ShardOperation;
  readonly shard: number;
  readonly attempt: number;
  readonly dryRun: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly counts: { items: number; processed: number; skipped: number; failed: number };
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Output bytes by `<preset>/<format>` (resize only). */
  readonly outputs?: Record<string, { count: number; bytes: number }>;
  /** Deleted originals whose renditions were pruned, with the rendition keys deleted (resize only). */
  readonly pruned?: readonly Pruned[];
  /** Every skip, counted by reason. */
  readonly skippedByCode?: Readonly<Record<string, number>>;
  /**
   * Skipped keys: every skip that is not done work (NOT_DONE_SKIP_CODES: the next run redoes
   * them), and a sample of SKIP_SAMPLE_PER_CODE keys for each other reason. A dry or full run
   * over a whole corpus skips almost every object: listing them all would grow with the corpus.
   */
  readonly skipped: readonly Skip[];
  readonly failures: readonly Failure[];
  /** A dry run: what a real run would do in this shard, by action (every key in `plannedList`). */
  readonly wouldDo?: Partial<Record<PlannedAction['action'], WouldDo>>;
  /** A dry run: runs/<runId>/planned/<operation>/<shard>.jsonl, one PlannedAction a line. */
  readonly plannedList?: string;
}

/** What a dry run found a real run would do: objects acted on, renditions written, bytes read or copied. */
export interface WouldDo {
  objects: number;
  renditions: number;
  bytes: number;
}

/** One line of a dry run's list: what a real run would do to one object. */
export interface PlannedAction {
  readonly key: string;
  readonly operation: ShardOperation;
  /** copy: back up; render: write renditions; prune: delete a deleted original's renditions. */
  readonly action: 'copy' | 'render' | 'prune';
  /** Bytes copied (backup) or read (render). */
  readonly bytes: number;
  /** Renditions written (render) or deleted (prune). */
  readonly renditions?: number;
}

/** Keys a shard result keeps per skip reason (the counts are complete). */
export const SKIP_SAMPLE_PER_CODE = 20;

export interface Pruned {
  readonly key: string;
  readonly renditions: readonly string[];
}

export function failure(key: string, code: FailureCode, message: string): Failure {
  return { key, code, message, retryable: FAILURE_CODES[code].retryable };
}

/** Accumulates one shard's outcome, one call per object. */
export class ShardTally {
  readonly counts = { items: 0, processed: 0, skipped: 0, failed: 0 };
  bytesRead = 0;
  bytesWritten = 0;
  readonly skipped: Skip[] = [];
  readonly skippedByCode: Record<string, number> = {};
  readonly failures: Failure[] = [];
  readonly outputs: Record<string, { count: number; bytes: number }> = {};
  readonly pruned: Pruned[] = [];
  /** A dry run's actions (a shard's worth, at most its manifest) and their totals. */
  readonly planned: PlannedAction[] = [];
  readonly wouldDo: Partial<Record<PlannedAction['action'], WouldDo>> = {};

  /** `onFailure` sees each failure as it is recorded (the jobs log it with its key). */
  constructor(private readonly onFailure?: (failure: Failure) => void) {}

  processed(): void {
    this.counts.items++;
    this.counts.processed++;
  }

  skip(key: string, code: string, message?: string): void {
    this.counts.items++;
    this.counts.skipped++;
    const seen = (this.skippedByCode[code] = (this.skippedByCode[code] ?? 0) + 1);
    if (seen <= SKIP_SAMPLE_PER_CODE || NOT_DONE_SKIP_CODES.has(code)) this.skipped.push(message === undefined ? { key, code } : { key, code, message });
  }

  /** A dry run found work a real run would do: skipped (code dry-run), counted, and listed. */
  would(action: PlannedAction, message: string): void {
    this.skip(action.key, 'dry-run', message);
    this.planned.push(action);
    const w = (this.wouldDo[action.action] ??= { objects: 0, renditions: 0, bytes: 0 });
    w.objects++;
    w.renditions += action.renditions ?? 0;
    w.bytes += action.bytes;
  }

  fail(f: Failure): void {
    this.counts.items++;
    this.counts.failed++;
    this.failures.push(f);
    this.onFailure?.(f);
  }

  /** A deleted original's renditions were deleted: the item is done (processed). */
  prunedRenditions(key: string, renditions: readonly string[]): void {
    this.pruned.push({ key, renditions });
    this.processed();
  }

  output(name: string, bytes: number): void {
    const o = (this.outputs[name] ??= { count: 0, bytes: 0 });
    o.count++;
    o.bytes += bytes;
    this.bytesWritten += bytes;
  }
}
