/**
 * One result per shard and operation (read by aggregate), and the tally a job keeps while it works.
 * Every object a job is given ends up counted exactly once as processed, skipped or failed; skips
 * and failures carry a reason code (core/failures.ts).
 */
import type { UploadLaneCounts } from './upload-lane';
import type { ShardOperation } from './input';
import { type Failure, NOT_DONE_SKIP_CODES, type Skip } from './failures';

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
  /** Rendered, but a rendering policy could not be applied as configured (e.g. animation-over-budget), by reason (resize only). */
  readonly notedByCode?: Readonly<Record<string, number>>;
  /** A sample of SKIP_SAMPLE_PER_CODE keys for each of those reasons, with the sentence the record carries. */
  readonly noted?: readonly Skip[];
  /** A dry run: what a real run would do in this shard, by action (every key in `plannedList`). */
  readonly wouldDo?: Partial<Record<PlannedAction['action'], WouldDo>>;
  /** A dry run: runs/<runId>/planned/<operation>/<shard>.jsonl, one PlannedAction a line. */
  readonly plannedList?: string;
  /** Image records (resize, when the job has a table): written, left to a newer one, DynamoDB write requests incl. retries. */
  readonly records?: RecordCounts;
  /** The shard's change lines (runKeys changes), by kind. */
  readonly changes?: ChangeCounts;
  /** Images whose renditions were all current but had no record: recorded without re-rendering. */
  readonly backfilled?: number;
  /** Images of the shard the upload lane rendered, or left for the night (core/upload-lane.ts). */
  readonly uploadLane?: UploadLaneCounts;
  /** Images whose backfill failed (a read failed), in key order: not recorded, their `done.record` is taken back (core/report.ts undoneInShard). */
  readonly unrecorded?: readonly string[];
}

export interface RecordCounts {
  written: number;
  superseded: number;
  requests: number;
}

export interface ChangeCounts {
  added: number;
  updated: number;
  removed: number;
  failed: number;
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

/** Accumulates one shard's outcome, one call per object. */
export class ShardTally {
  readonly counts = { items: 0, processed: 0, skipped: 0, failed: 0 };
  bytesRead = 0;
  bytesWritten = 0;
  readonly skipped: Skip[] = [];
  readonly skippedByCode: Record<string, number> = {};
  readonly failures: Failure[] = [];
  readonly noted: Skip[] = [];
  readonly notedByCode: Record<string, number> = {};
  readonly outputs: Record<string, { count: number; bytes: number }> = {};
  readonly pruned: Pruned[] = [];
  /** A dry run's actions (a shard's worth, at most its manifest) and their totals. */
  readonly planned: PlannedAction[] = [];
  readonly wouldDo: Partial<Record<PlannedAction['action'], WouldDo>> = {};
  /** Set by a job that keeps image records (resize with a table). */
  records?: { counts: RecordCounts; changes: ChangeCounts; backfilled: number; unrecorded: readonly string[]; uploadLane?: UploadLaneCounts };

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

  /** A processed item that a rendering policy could not serve as configured: counted by reason, a sample named (the image's record has the rest). */
  note(key: string, code: string, message: string): void {
    const seen = (this.notedByCode[code] = (this.notedByCode[code] ?? 0) + 1);
    if (seen <= SKIP_SAMPLE_PER_CODE) this.noted.push({ key, code, message });
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
