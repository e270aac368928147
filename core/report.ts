/**
 * The run report: what aggregate writes as report.json (and renders as report.html and
 * failures.csv), and what the email summarises. Built from the plan and every shard result; an
 * object is counted once per operation as processed, skipped or failed.
 */
import type { ShardOperation } from './input';
import type { InterruptedRun } from './last-run';
import { compareKeys, runKeys } from './keys';
import { type RunCost, runCost, type StorageClassPriced } from './cost';
import { isDenseWork, type Plan, type PlanCounts } from './plan';
import type { MetricUnit } from './metrics';
import { adviceOf, explainFailure, NOT_DONE_SKIP_CODES } from './failures';
import { type PlannedAction, type Pruned, type ShardResult, type WouldDo } from './results';
import { CHANGE_KINDS } from './records/changes';
import { n } from './format';
import { addUploadLaneCounts, emptyUploadLaneCounts, uploadLaneWords } from './upload-lane';
import { emptyChangeCounts, type RecordsReport } from './records/feed';

export type Trigger = 'schedule' | 'console' | 'cli' | 'local';

export type RunStatus = 'SUCCEEDED' | 'COMPLETED_WITH_FAILURES' | 'NOTHING_TO_DO';

export interface OperationTotals {
  shards: number;
  items: number;
  processed: number;
  skipped: number;
  failed: number;
  bytesRead: number;
  bytesWritten: number;
  /** Sum of shard durations (compute time, not wall time). */
  shardMs: number;
  /** The slowest shard: the straggler that sets the wall time. */
  maxShardMs: number;
  skippedByCode: Record<string, number>;
  failedByCode: Record<string, number>;
  /** Rendered, with a rendering policy not applied as configured, by reason (ShardResult.notedByCode). */
  notedByCode?: Record<string, number>;
}

export interface ReportFailure {
  readonly key: string;
  readonly operation: ShardOperation;
  readonly code: string;
  /** The known cause (core/failures.ts explainFailure), or the code: what the email and report.html explain. Absent from older reports. */
  readonly cause?: string;
  /** The raw message (libvips', S3's…), kept for the detail. */
  readonly message: string;
  readonly retryable: boolean;
}

export interface Report {
  readonly runId: string;
  readonly status: RunStatus;
  readonly trigger: Trigger;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly dryRun: boolean;
  readonly full: boolean;
  readonly prefix: string;
  readonly presets: readonly string[];
  /** The catalogue side: listed, selected, new, changed, unchanged, deleted, work, skipped by reason. */
  readonly objects: PlanCounts;
  readonly bytes: Plan['bytes'];
  readonly operations: Partial<Record<ShardOperation, OperationTotals>>;
  /** Rendition counts and bytes by `<preset>/<format>`. */
  readonly renditions: Record<string, { count: number; bytes: number }>;
  readonly shards: readonly { operation: ShardOperation; shard: number; attempt: number; durationMs: number; items: number; failed: number }[];
  /** Every failure of the run, counted by reason. */
  readonly failed: FailureSummary;
  /** The first FAILURES_NAMED failures, in key order: the first rows of failures.csv, which lists them all. */
  readonly failures: readonly ReportFailure[];
  /** Whether this run's catalogue became state/catalog.jsonl (the basis of the next diff). */
  readonly catalogPromoted: boolean;
  /** A newer run promoted its catalogue after this run planned: this one's was not promoted (SUPERSEDED_WORDS). */
  readonly superseded?: Superseded;
  /** Renditions of deleted originals: what was pruned, in key order, and what the guard held. */
  readonly prune: PruneReport;
  /** What the plan expected: duration on the configured compute, whether it fits, and cost. */
  readonly estimate?: Plan['estimate'];
  /** Why the work was due (the plan's explanations: core/explain.ts). */
  readonly explain?: Plan['explain'];
  /** The run before this one, when it never ended: this run redid its unfinished work. */
  readonly interrupted?: InterruptedRun;
  /** Originals deleted since the last run, named (a sample, and the list of all). */
  readonly deleted?: Plan['deleted'];
  /** A dry run: what a real run started now would do, and what it would take. */
  readonly dryRunPlan?: DryRunPlan;
  /** Objects an operation left alone, named with the reason: up to SKIPS_NAMED per operation and reason (counts in `operations`). */
  readonly skips?: readonly ReportSkip[];
  /** The image records the run changed, its change feed, and the CDN invalidation (issue 28). Absent from dry runs and older reports. */
  readonly records?: RecordsReport;
  /** The plan's warnings (e.g. a prefix that matched nothing). */
  readonly warnings?: readonly string[];
}

export interface ReportSkip {
  readonly operation: ShardOperation;
  readonly code: string;
  readonly key: string;
  readonly message?: string;
}

/** Skipped keys the report names per operation and reason. Skips that mean "nothing to do" (up-to-date) are only counted. */
export const SKIPS_NAMED = 20;
const UNNAMED_SKIPS = new Set(['up-to-date']);

/**
 * A dry run as a plan to approve: per action, what the jobs found a real run would do after
 * checking every output (so a dry --full run counts what is stale, not every listed object),
 * the duration and cost of that work on the configured compute, and the list of its keys.
 */
export interface DryRunPlan {
  readonly copy: WouldDo;
  readonly render: WouldDo;
  readonly prune: WouldDo;
  /** Objects whose outputs are current: a real run would skip them. */
  readonly current: Partial<Record<ShardOperation, number>>;
  readonly expectedSeconds: number;
  readonly cost: RunCost;
  /** runs/<runId>/planned.jsonl: one PlannedAction a line, backup then resize, in key order. */
  readonly list: string;
}

/** The plan's estimate, redone for the work the dry run found (its shards' task time scaled to it). */
export function dryRunPlan(plan: Plan, report: Report, wouldDo: Record<PlannedAction['action'], WouldDo>, config: { compute: Parameters<typeof runCost>[0]['compute']; backupStorageClass: StorageClassPriced; keepsRecords?: boolean }, list: string): DryRunPlan {
  const { copy, render, prune } = wouldDo;
  const share = (op: ShardOperation, objects: number) => (report.operations[op]?.items ? objects / report.operations[op]!.items : 0);
  const ratio = { backup: share('backup', copy.objects), resize: share('resize', render.objects + prune.objects) };
  const jobs = plan.estimate.arrayJobs;
  const longest = Math.max(0, ...Object.values(jobs).map((t) => t.expectedSeconds));
  const scaled = (['backup', 'resize'] as const).map((op) => (jobs[op]?.expectedSeconds ?? 0) * ratio[op]);
  const cost = runCost({
    listed: plan.counts.listed,
    backups: copy.objects,
    images: render.objects,
    renditionsPerImage: render.objects > 0 ? render.renditions / render.objects : 0,
    dense: isDenseWork(plan),
    taskSeconds: { backup: (jobs.backup?.taskSeconds ?? 0) * ratio.backup, resize: (jobs.resize?.taskSeconds ?? 0) * ratio.resize },
    compute: config.compute,
    backupStorageClass: config.backupStorageClass,
    // A record written per image rendered, one deleted per original pruned.
    ...(config.keepsRecords ? { recordWrites: render.objects + prune.objects } : {}),
  });
  const current = Object.fromEntries(Object.entries(report.operations).map(([op, t]) => [op, t.skippedByCode['up-to-date'] ?? 0]));
  return { copy, render, prune, current, expectedSeconds: Math.round(plan.estimate.expectedSeconds - longest + Math.max(0, ...scaled)), cost, list };
}

export interface PruneReport {
  /** Deleted originals whose renditions were deleted. */
  readonly originals: number;
  /** Renditions deleted. */
  readonly renditions: number;
  /** Deleted originals whose renditions the guard kept (prune held: confirm with --confirm-prune, or the console input {"confirmPrune": true}). */
  readonly held: number;
  /** The share of the catalogue that was to be pruned, and the configured limit. */
  readonly share: number;
  readonly maxShare: number;
  /** The first PRUNED_NAMED pruned originals in key order, with their rendition keys. */
  readonly pruned: readonly Pruned[];
}

/**
 * A run superseded by a newer one: state/catalog.jsonl is no longer the version its plan diffed
 * against (another run promoted since), so its catalogue was not promoted and nothing of the newer
 * run's was touched. `by`: the run that wrote the catalogue now in place, when it says so.
 */
export interface Superseded {
  readonly by?: string;
}

/** The outcome's words, in the email, report.html and the logs alike. */
export const SUPERSEDED_WORDS = "superseded by a newer run: its catalogue was not promoted; the newer run's catalogue stands";

/** What became of the run's catalogue, in one phrase (the email's and report.html's). */
export function catalogueOutcome(r: Pick<Report, 'catalogPromoted' | 'superseded'>): string {
  if (r.superseded) return `${SUPERSEDED_WORDS}${r.superseded.by ? ` (${r.superseded.by})` : ''}; tomorrow compares against it`;
  return r.catalogPromoted ? 'promoted: tomorrow compares against this run' : 'not promoted: tomorrow compares against the previous catalogue';
}

export interface ReportMeta {
  readonly trigger: Trigger;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly catalogPromoted: boolean;
  readonly superseded?: Superseded;
  /** The run before this one, when it never ended (core/last-run.ts). */
  readonly interrupted?: InterruptedRun;
}

export function emptyTotals(): OperationTotals {
  return { shards: 0, items: 0, processed: 0, skipped: 0, failed: 0, bytesRead: 0, bytesWritten: 0, shardMs: 0, maxShardMs: 0, skippedByCode: {}, failedByCode: {} };
}

/** Failures report.json names, in key order: the first rows of failures.csv, which has them all. */
export const FAILURES_NAMED = 5_000;
/** Pruned originals report.json names, in key order (the counts are complete). */
export const PRUNED_NAMED = 1_000;
/** Example keys kept per failure reason. */
const REASON_EXAMPLES = 3;

/** Why objects failed: one entry per operation and cause, most frequent first. */
export interface FailureReason {
  readonly operation: ShardOperation;
  readonly code: string;
  /** The cause's stable code, and its one sentence with what to do. */
  readonly cause: string;
  readonly advice: string;
  readonly count: number;
  /** The first keys that failed so, in key order. */
  readonly examples: readonly string[];
}

/** Every failure of the run, counted; `failures` names the first FAILURES_NAMED of them. */
export interface FailureSummary {
  /** Failures, one per object and operation. */
  readonly total: number;
  /** Objects that failed at least one operation. */
  readonly objects: number;
  /** Failures a rerun may fix (transient). */
  readonly retryable: number;
  readonly reasons: readonly FailureReason[];
}

/**
 * Folds shard results into a report one shard at a time, in shard order, keeping only bounded
 * state: totals, per-shard figures (at most 10,000 shards), and samples of keys. Shards are key
 * ranges of one work list, the same for every operation, so shard order is key order and the
 * failures a shard returns from `add` are the next rows of failures.csv.
 */
export class ReportFold {
  private readonly operations: Partial<Record<ShardOperation, OperationTotals>> = {};
  private readonly renditions: Record<string, { count: number; bytes: number }> = {};
  private readonly shards: Report['shards'][number][] = [];
  private readonly failures: ReportFailure[] = [];
  private readonly reasons = new Map<string, { operation: ShardOperation; code: string; cause: string; advice: string; count: number; examples: string[] }>();
  private readonly failed = { total: 0, objects: 0, retryable: 0 };
  private readonly skips: ReportSkip[] = [];
  private readonly named = new Map<string, number>();
  private readonly pruned: Pruned[] = [];
  private readonly prunedCount = { originals: 0, renditions: 0 };
  private readonly changes = emptyChangeCounts();
  private readonly recordWrites = { written: 0, superseded: 0, requests: 0 };
  private readonly uploadLane = emptyUploadLaneCounts();
  private backfilled = 0;
  private readonly would: Record<PlannedAction['action'], WouldDo> = { copy: emptyWould(), render: emptyWould(), prune: emptyWould() };
  /** The first missing results per operation (shard numbers), and how many in all. */
  private readonly missing: Partial<Record<ShardOperation, number[]>> = {};
  private missingCount = 0;
  private nextShard = 0;
  /** A dry run's per-shard lists, by operation in shard order. */
  readonly plannedLists: Partial<Record<ShardOperation, string[]>> = {};

  constructor(private readonly plan: Plan) {}

  /**
   * One shard's results, one per operation of the plan (undefined: that result is missing).
   * Returns the shard's failures in key order (on one key, in the plan's operation order).
   */
  add(shard: number, results: readonly (ShardResult | undefined)[]): ReportFailure[] {
    if (shard !== this.nextShard++) throw new RangeError(`shard results folded out of order: shard ${shard}, expected ${this.nextShard - 1}`);
    const mine: ReportFailure[] = [];
    this.plan.shardOperations.forEach((op, i) => {
      const r = results[i];
      if (r === undefined) {
        const missing = (this.missing[op] ??= []);
        if (missing.length < 10) missing.push(shard);
        this.missingCount++;
        return;
      }
      this.addResult(r);
      for (const f of r.failures) mine.push({ key: f.key, operation: r.operation, code: f.code, cause: explainFailure(f).cause, message: f.message, retryable: f.retryable });
    });
    const order = this.plan.shardOperations;
    mine.sort((a, b) => compareKeys(a.key, b.key) || order.indexOf(a.operation) - order.indexOf(b.operation));
    mine.forEach((f, i) => {
      this.failed.total++;
      if (f.retryable) this.failed.retryable++;
      if (i === 0 || mine[i - 1]!.key !== f.key) this.failed.objects++;
      if (this.failures.length < FAILURES_NAMED) this.failures.push(f);
      const cause = f.cause ?? f.code;
      const id = `${f.operation}\u0000${cause}`;
      const reason = this.reasons.get(id) ?? { operation: f.operation, code: f.code, cause, advice: adviceOf(cause), count: 0, examples: [] };
      reason.count++;
      if (reason.examples.length < REASON_EXAMPLES) reason.examples.push(f.key);
      this.reasons.set(id, reason);
    });
    return mine;
  }

  private addResult(r: ShardResult): void {
    const t = (this.operations[r.operation] ??= emptyTotals());
    t.shards++;
    t.items += r.counts.items;
    t.processed += r.counts.processed;
    t.skipped += r.counts.skipped;
    t.failed += r.counts.failed;
    t.bytesRead += r.bytesRead;
    t.bytesWritten += r.bytesWritten;
    t.shardMs += r.durationMs;
    t.maxShardMs = Math.max(t.maxShardMs, r.durationMs);
    // Counted by the shard (its `skipped` list is a sample); results without counts list every skip.
    const byCode = r.skippedByCode ?? r.skipped.reduce<Record<string, number>>((acc, s) => ((acc[s.code] = (acc[s.code] ?? 0) + 1), acc), {});
    for (const [code, count] of Object.entries(byCode)) t.skippedByCode[code] = (t.skippedByCode[code] ?? 0) + count;
    for (const f of r.failures) t.failedByCode[f.code] = (t.failedByCode[f.code] ?? 0) + 1;
    for (const [code, count] of Object.entries(r.notedByCode ?? {})) (t.notedByCode ??= {})[code] = (t.notedByCode[code] ?? 0) + count;
    for (const [name, o] of Object.entries(r.outputs ?? {})) {
      const acc = (this.renditions[name] ??= { count: 0, bytes: 0 });
      acc.count += o.count;
      acc.bytes += o.bytes;
    }
    for (const s of r.skipped) {
      if (UNNAMED_SKIPS.has(s.code)) continue;
      const id = `${r.operation} ${s.code}`;
      const count = this.named.get(id) ?? 0;
      if (count >= SKIPS_NAMED) continue;
      this.named.set(id, count + 1);
      this.skips.push({ operation: r.operation, code: s.code, key: s.key, ...(s.message ? { message: s.message } : {}) });
    }
    for (const p of [...(r.pruned ?? [])].sort((a, b) => compareKeys(a.key, b.key))) {
      this.prunedCount.originals++;
      this.prunedCount.renditions += p.renditions.length;
      if (this.pruned.length < PRUNED_NAMED) this.pruned.push(p);
    }
    for (const action of ['copy', 'render', 'prune'] as const) {
      const w = r.wouldDo?.[action];
      if (!w) continue;
      this.would[action].objects += w.objects;
      this.would[action].renditions += w.renditions;
      this.would[action].bytes += w.bytes;
    }
    if (r.plannedList) (this.plannedLists[r.operation] ??= []).push(r.plannedList);
    // Results written before the records existed have neither: they count 0.
    for (const kind of CHANGE_KINDS) this.changes[kind] += r.changes?.[kind] ?? 0;
    this.recordWrites.written += r.records?.written ?? 0;
    this.recordWrites.superseded += r.records?.superseded ?? 0;
    this.recordWrites.requests += r.records?.requests ?? 0;
    addUploadLaneCounts(this.uploadLane, r.uploadLane);
    this.backfilled += r.backfilled ?? 0;
    this.shards.push({ operation: r.operation, shard: r.shard, attempt: r.attempt, durationMs: r.durationMs, items: r.counts.items, failed: r.counts.failed });
  }

  /**
   * What keeps the results from covering the plan: a missing result, or an operation whose
   * results account for another number of objects than the work list holds. A gap means the
   * report would silently under-count.
   */
  gaps(): string[] {
    const problems = this.plan.shardOperations.flatMap((op) => (this.missing[op] ?? []).map((shard) => `${op}: no result for shard ${shard}`));
    if (this.missingCount > problems.length) problems.push(`and ${this.missingCount - problems.length} more results missing`);
    if (this.nextShard !== this.plan.shardCount) problems.push(`${this.nextShard} of ${this.plan.shardCount} shards read`);
    for (const op of this.plan.shardOperations) {
      const t = this.operations[op];
      if (t?.shards === this.plan.shardCount && t.items !== this.plan.counts.work) problems.push(`${op}: results account for ${t.items} objects, the plan has ${this.plan.counts.work}`);
    }
    return problems;
  }

  /** What the dry run's shards found a real run would do, by action. */
  wouldDo(): Record<PlannedAction['action'], WouldDo> {
    return { copy: { ...this.would.copy }, render: { ...this.would.render }, prune: { ...this.would.prune } };
  }

  report(meta: ReportMeta): Report {
    const { plan } = this;
    const skips = [...this.skips].sort((a, b) => (a.operation === b.operation ? (a.code === b.code ? compareKeys(a.key, b.key) : a.code < b.code ? -1 : 1) : a.operation < b.operation ? -1 : 1));
    const shards = [...this.shards].sort((a, b) => (a.operation === b.operation ? a.shard - b.shard : a.operation < b.operation ? -1 : 1));
    const reasons = [...this.reasons.values()].sort((a, b) => b.count - a.count || a.operation.localeCompare(b.operation) || a.cause.localeCompare(b.cause));
    const status: RunStatus = plan.nothingToDo ? 'NOTHING_TO_DO' : this.failed.total > 0 ? 'COMPLETED_WITH_FAILURES' : 'SUCCEEDED';
    return {
      runId: plan.runId,
      status,
      trigger: meta.trigger,
      startedAt: meta.startedAt,
      finishedAt: meta.finishedAt,
      durationMs: Date.parse(meta.finishedAt) - Date.parse(meta.startedAt),
      dryRun: plan.dryRun,
      full: plan.full,
      prefix: plan.prefix,
      presets: plan.presets,
      objects: plan.counts,
      bytes: plan.bytes,
      operations: this.operations,
      renditions: this.renditions,
      shards,
      failed: { ...this.failed, reasons },
      failures: this.failures,
      catalogPromoted: meta.catalogPromoted,
      ...(meta.superseded ? { superseded: meta.superseded } : {}),
      estimate: plan.estimate,
      ...(plan.explain ? { explain: plan.explain } : {}),
      ...(meta.interrupted ? { interrupted: meta.interrupted } : {}),
      ...(plan.deleted ? { deleted: plan.deleted } : {}),
      ...(plan.warnings?.length ? { warnings: plan.warnings } : {}),
      ...(skips.length ? { skips } : {}),
      // A dry run writes no records.
      ...(plan.dryRun ? {} : { records: { changes: { ...this.changes }, ...this.recordWrites, ...(this.backfilled ? { backfilled: this.backfilled } : {}), feed: runKeys(plan.runId).changeFeed, ...(uploadLaneWords(this.uploadLane) ? { uploadLane: this.uploadLane } : {}) } }),
      prune: {
        originals: this.prunedCount.originals,
        renditions: this.prunedCount.renditions,
        held: plan.prune?.held ?? 0,
        share: plan.prune?.share ?? 0,
        maxShare: plan.prune?.maxShare ?? 0,
        pruned: this.pruned,
      },
    };
  }
}

const emptyWould = (): WouldDo => ({ objects: 0, renditions: 0, bytes: 0 });

/** A fold of results held in memory, in any order (tests, and callers with a handful of shards). */
export function foldResults(plan: Plan, results: readonly ShardResult[]): ReportFold {
  const fold = new ReportFold(plan);
  const at = new Map(results.map((r) => [`${r.operation} ${r.shard}`, r]));
  for (let shard = 0; shard < plan.shardCount; shard++) fold.add(shard, plan.shardOperations.map((op) => at.get(`${op} ${shard}`)));
  return fold;
}

export function buildReport(plan: Plan, results: readonly ShardResult[], meta: ReportMeta): Report {
  return foldResults(plan, results).report(meta);
}

/** Checks that the results cover the plan (ReportFold.gaps). */
export function checkCoverage(plan: Plan, results: readonly ShardResult[]): string[] {
  return foldResults(plan, results).gaps();
}

/**
 * What one shard's results left undone, by key and operation, in key order, so that promotion
 * takes that state back and tomorrow does it again: retryable failures, skips that are not
 * done work (an archived object), and backfills that could not make the image's record (`record`).
 */
export function undoneInShard(results: readonly (ShardResult | undefined)[]): [string, Set<ShardOperation | 'record'>][] {
  const undone = new Map<string, Set<ShardOperation | 'record'>>();
  const add = (key: string, op: ShardOperation | 'record') => {
    const ops = undone.get(key);
    if (ops) ops.add(op);
    else undone.set(key, new Set([op]));
  };
  for (const r of results) {
    if (!r) continue;
    for (const f of r.failures) if (f.retryable) add(f.key, r.operation);
    for (const s of r.skipped) if (NOT_DONE_SKIP_CODES.has(s.code)) add(s.key, r.operation);
    for (const key of r.unrecorded ?? []) add(key, 'record');
  }
  return [...undone].sort((a, b) => compareKeys(a[0], b[0]));
}

/**
 * Whether a run's catalogue is promoted (becomes the basis of tomorrow's diff): always, but for a
 * dry run, which did nothing. Each record says what was done for it (core/state.ts), so a run
 * limited by operations or presets records what it did and leaves the rest for tomorrow.
 */
export function shouldPromoteCatalog(plan: Pick<Plan, 'dryRun'>): boolean {
  return !plan.dryRun;
}

/** RFC 4180 field: quoted when it holds a comma, quote, CR or LF. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** failures.csv, in the columns of an S3 Batch Operations completion report (a report's named failures). */
export function failuresCsv(report: Pick<Report, 'failures'>, bucket: string): string {
  return [FAILURES_CSV_HEADER, ...report.failures.map((f) => failureCsvRow(f, bucket))].join('');
}

export const FAILURES_CSV_HEADER = 'Bucket,Key,Operation,ErrorCode,Message\r\n';

/** One failures.csv row (CRLF-terminated), for a streamed upload: no single string of the whole file. */
export function failureCsvRow(f: ReportFailure, bucket: string): string {
  return `${[bucket, f.key, f.operation, f.code, f.message].map(csvField).join(',')}\r\n`;
}

/**
 * The run's counts, computed once from the report: the email, report.html, the terminal, `status`
 * and `history` all say these. Images, not work items: a deleted original whose renditions were
 * pruned is processed work for resize, but it is counted as pruned, never as rendered.
 */
export interface RunCounts {
  readonly listed: number;
  /** Images with backup or render work due (the prunes of deleted originals are not among them). */
  readonly due: number;
  readonly rendered: number;
  readonly backedUp: number;
  /** Images whose outputs were already current. */
  readonly current: number;
  /** Images skipped, by reason (too large, a rendition key collision, archived…): not done, not failed. */
  readonly skipped: Readonly<Record<string, number>>;
  /** Images that failed at least one operation. */
  readonly failed: number;
  /** Deleted originals whose renditions were pruned, and those renditions. */
  readonly pruned: number;
  readonly prunedRenditions: number;
  /** Deleted originals whose renditions the prune guard kept. */
  readonly held: number;
}

/** Skip codes that are not a reason to tell: done already, a dry run's "would do", a deleted original's backup (kept). */
const NOT_SKIPS = new Set(['up-to-date', 'dry-run', 'original-deleted']);

/** What an operation did, in the summaries' words: done, already current, skipped (by reason), failed. */
export function operationCounts(t: OperationTotals, prunes = 0): { done: number; current: number; skipped: Record<string, number>; failed: number } {
  const skipped = Object.fromEntries(Object.entries(t.skippedByCode).filter(([code, c]) => !NOT_SKIPS.has(code) && c > 0));
  return { done: t.processed - prunes, current: t.skippedByCode['up-to-date'] ?? 0, skipped, failed: t.failed };
}

export function runCounts(report: Pick<Report, 'objects' | 'operations' | 'prune' | 'failed'>): RunCounts {
  const { resize, backup } = report.operations;
  const r = resize && operationCounts(resize, report.prune.originals);
  const b = backup && operationCounts(backup);
  return {
    listed: report.objects.listed,
    due: report.objects.work - (report.objects.prune ?? 0),
    rendered: r?.done ?? 0,
    backedUp: b?.done ?? 0,
    current: Math.max(r?.current ?? 0, b?.current ?? 0),
    skipped: r?.skipped ?? b?.skipped ?? {},
    failed: report.failed.objects,
    pruned: report.prune.originals,
    prunedRenditions: report.prune.renditions,
    held: report.prune.held,
  };
}

/** A night the plan found nothing to do: the same counts, nothing done. */
export function planRunCounts(plan: Pick<Plan, 'counts' | 'prune'>): RunCounts {
  return { listed: plan.counts.listed, due: plan.counts.work - (plan.counts.prune ?? 0), rendered: 0, backedUp: 0, current: 0, skipped: {}, failed: 0, pruned: 0, prunedRenditions: 0, held: plan.prune?.held ?? 0 };
}

export const skippedTotal = (c: Pick<RunCounts, 'skipped'>) => Object.values(c.skipped).reduce((a, b) => a + b, 0);

/**
 * The outcome the counts give, in one phrase: what `status` and `history` print, and report.html's
 * badge. Never a plain SUCCEEDED for a night with failures or a held prune.
 */
export function outcomeOf(report: Pick<Report, 'status' | 'dryRun' | 'superseded'>, counts: RunCounts): string {
  const held = counts.held > 0 ? ' (prune HELD)' : '';
  if (report.status === 'NOTHING_TO_DO') return `NOTHING TO DO${held}`;
  const base = report.superseded ? 'SUPERSEDED' : report.dryRun ? 'DRY RUN' : 'SUCCEEDED';
  return `${base}${counts.failed > 0 ? ` with ${n(counts.failed)} failed` : ''}${held}`;
}

/**
 * The run's figures as published to CloudWatch (embedded metric format, by aggregate) and printed
 * by a local run: one definition, so the dashboard and the terminal never disagree.
 */
export function runMetrics(report: Report): Record<string, { value: number; unit: MetricUnit }> {
  const resize = report.operations.resize;
  const backup = report.operations.backup;
  return {
    ImagesProcessed: { value: runCounts(report).rendered, unit: 'Count' },
    RenditionsPruned: { value: report.prune.renditions, unit: 'Count' },
    ImagesFailed: { value: resize?.failed ?? 0, unit: 'Count' },
    BackupsCopied: { value: backup?.processed ?? 0, unit: 'Count' },
    BackupsFailed: { value: backup?.failed ?? 0, unit: 'Count' },
    BytesWritten: { value: (resize?.bytesWritten ?? 0) + (backup?.bytesWritten ?? 0), unit: 'Bytes' },
    ObjectsListed: { value: report.objects.listed, unit: 'Count' },
    RunDuration: { value: Math.round(report.durationMs / 1000), unit: 'Seconds' },
    ResizeSlowestShard: { value: Math.round((resize?.maxShardMs ?? 0) / 1000), unit: 'Seconds' },
    BackupSlowestShard: { value: Math.round((backup?.maxShardMs ?? 0) / 1000), unit: 'Seconds' },
  };
}
