/**
 * The run report: what aggregate writes as report.json (and renders as report.html and
 * failures.csv), and what the email summarises. Built from the plan and every shard result; an
 * object is counted once per operation as processed, skipped or failed.
 */
import type { ShardOperation } from './input';
import type { InterruptedRun } from './last-run';
import { compareKeys } from './keys';
import { type RunCost, runCost, type StorageClassPriced } from './cost';
import { isDenseWork, NOT_DONE_SKIP_CODES, type Plan, type PlanCounts, type Pruned, type ShardResult, type WouldDo } from './results';

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
}

export interface ReportFailure {
  readonly key: string;
  readonly operation: ShardOperation;
  readonly code: string;
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
  /** Every failure of the run. */
  readonly failures: readonly ReportFailure[];
  /** Whether this run's catalogue became state/catalog.jsonl (the basis of the next diff). */
  readonly catalogPromoted: boolean;
  /** Renditions of deleted originals: what was pruned, in key order, and what the guard held. */
  readonly prune: PruneReport;
  /** What the plan expected: duration on the configured compute, whether it fits, and cost. */
  readonly estimate?: Plan['estimate'];
  /** The run before this one, when it never ended: this run redid its unfinished work. */
  readonly interrupted?: InterruptedRun;
  /** Originals deleted since the last run, named (a sample, and the list of all). */
  readonly deleted?: Plan['deleted'];
  /** A dry run: what a real run started now would do, and what it would take. */
  readonly dryRunPlan?: DryRunPlan;
  /** Objects an operation left alone, named with the reason: up to SKIPS_NAMED per operation and reason (counts in `operations`). */
  readonly skips?: readonly ReportSkip[];
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
export function dryRunPlan(plan: Plan, report: Report, results: readonly ShardResult[], config: { compute: Parameters<typeof runCost>[0]['compute']; backupStorageClass: StorageClassPriced }, list: string): DryRunPlan {
  const total = (action: 'copy' | 'render' | 'prune'): WouldDo =>
    results.reduce<WouldDo>((acc, r) => {
      const w = r.wouldDo?.[action];
      return w ? { objects: acc.objects + w.objects, renditions: acc.renditions + w.renditions, bytes: acc.bytes + w.bytes } : acc;
    }, { objects: 0, renditions: 0, bytes: 0 });
  const [copy, render, prune] = [total('copy'), total('render'), total('prune')];
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
  });
  const current = Object.fromEntries(Object.entries(report.operations).map(([op, t]) => [op, t.skippedByCode['up-to-date'] ?? 0]));
  return { copy, render, prune, current, expectedSeconds: Math.round(plan.estimate.expectedSeconds - longest + Math.max(0, ...scaled)), cost, list };
}

export interface PruneReport {
  /** Deleted originals whose renditions were deleted. */
  readonly originals: number;
  /** Renditions deleted. */
  readonly renditions: number;
  /** Deleted originals whose renditions the guard kept (prune held: confirm with {"confirmPrune": true}). */
  readonly held: number;
  /** The share of the catalogue that was to be pruned, and the configured limit. */
  readonly share: number;
  readonly maxShare: number;
  readonly pruned: readonly Pruned[];
}

export interface ReportMeta {
  readonly trigger: Trigger;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly catalogPromoted: boolean;
  /** The run before this one, when it never ended (core/last-run.ts). */
  readonly interrupted?: InterruptedRun;
}

export function emptyTotals(): OperationTotals {
  return { shards: 0, items: 0, processed: 0, skipped: 0, failed: 0, bytesRead: 0, bytesWritten: 0, shardMs: 0, maxShardMs: 0, skippedByCode: {}, failedByCode: {} };
}

export function buildReport(plan: Plan, results: readonly ShardResult[], meta: ReportMeta): Report {
  const operations: Partial<Record<ShardOperation, OperationTotals>> = {};
  const renditions: Record<string, { count: number; bytes: number }> = {};
  const failures: ReportFailure[] = [];
  const shards: Report['shards'][number][] = [];
  const pruned: Pruned[] = [];
  for (const r of results) {
    pruned.push(...(r.pruned ?? []));
    const t = (operations[r.operation] ??= emptyTotals());
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
    for (const f of r.failures) {
      t.failedByCode[f.code] = (t.failedByCode[f.code] ?? 0) + 1;
      failures.push({ key: f.key, operation: r.operation, code: f.code, message: f.message, retryable: f.retryable });
    }
    for (const [name, o] of Object.entries(r.outputs ?? {})) {
      const acc = (renditions[name] ??= { count: 0, bytes: 0 });
      acc.count += o.count;
      acc.bytes += o.bytes;
    }
    shards.push({ operation: r.operation, shard: r.shard, attempt: r.attempt, durationMs: r.durationMs, items: r.counts.items, failed: r.counts.failed });
  }
  const skips: ReportSkip[] = [];
  const named = new Map<string, number>();
  for (const r of results) {
    for (const s of r.skipped) {
      if (UNNAMED_SKIPS.has(s.code)) continue;
      const id = `${r.operation} ${s.code}`;
      const count = named.get(id) ?? 0;
      if (count >= SKIPS_NAMED) continue;
      named.set(id, count + 1);
      skips.push({ operation: r.operation, code: s.code, key: s.key, ...(s.message ? { message: s.message } : {}) });
    }
  }
  skips.sort((a, b) => (a.operation === b.operation ? (a.code === b.code ? compareKeys(a.key, b.key) : a.code < b.code ? -1 : 1) : a.operation < b.operation ? -1 : 1));
  shards.sort((a, b) => (a.operation === b.operation ? a.shard - b.shard : a.operation < b.operation ? -1 : 1));
  // Within a shard failures arrive in completion order; the report lists them in key order.
  failures.sort((a, b) => (a.operation === b.operation ? compareKeys(a.key, b.key) : a.operation < b.operation ? -1 : 1));
  const status: RunStatus = plan.nothingToDo ? 'NOTHING_TO_DO' : failures.length > 0 ? 'COMPLETED_WITH_FAILURES' : 'SUCCEEDED';
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
    operations,
    renditions,
    shards,
    failures,
    catalogPromoted: meta.catalogPromoted,
    estimate: plan.estimate,
    ...(meta.interrupted ? { interrupted: meta.interrupted } : {}),
    ...(plan.deleted ? { deleted: plan.deleted } : {}),
    ...(skips.length ? { skips } : {}),
    prune: {
      originals: pruned.length,
      renditions: pruned.reduce((sum, p) => sum + p.renditions.length, 0),
      held: plan.prune?.held ?? 0,
      share: plan.prune?.share ?? 0,
      maxShare: plan.prune?.maxShare ?? 0,
      pruned: pruned.sort((a, b) => compareKeys(a.key, b.key)),
    },
  };
}

/**
 * Checks that the results cover the plan: one result per shard and operation, and per operation
 * as many objects as the work list holds. A gap means a shard's result is missing or wrong, and
 * the report would silently under-count.
 */
export function checkCoverage(plan: Plan, results: readonly ShardResult[]): string[] {
  const problems: string[] = [];
  for (const op of plan.shardOperations) {
    const mine = results.filter((r) => r.operation === op);
    const seen = new Set(mine.map((r) => r.shard));
    for (let i = 0; i < plan.shardCount; i++) if (!seen.has(i)) problems.push(`${op}: no result for shard ${i}`);
    const items = mine.reduce((n, r) => n + r.counts.items, 0);
    if (seen.size === plan.shardCount && items !== plan.counts.work) problems.push(`${op}: results account for ${items} objects, the plan has ${plan.counts.work}`);
  }
  return problems;
}

/**
 * What this run did not finish, by key and operation, so that promotion takes that state back and
 * tomorrow does it again: retryable failures, and skips that are not done work (an archived object).
 */
export function undoneWork(results: readonly ShardResult[]): Map<string, Set<ShardOperation>> {
  const undone = new Map<string, Set<ShardOperation>>();
  const add = (key: string, op: ShardOperation) => {
    const ops = undone.get(key);
    if (ops) ops.add(op);
    else undone.set(key, new Set([op]));
  };
  for (const r of results) {
    for (const f of r.failures) if (f.retryable) add(f.key, r.operation);
    for (const s of r.skipped) if (NOT_DONE_SKIP_CODES.has(s.code)) add(s.key, r.operation);
  }
  return undone;
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

/** failures.csv, in the columns of an S3 Batch Operations completion report. */
export function failuresCsv(report: Pick<Report, 'failures'>, bucket: string): string {
  return [...failuresCsvRows(report, bucket)].join('');
}

/** failures.csv row by row (CRLF-terminated), for a streamed upload: no single string of the whole file. */
export function* failuresCsvRows(report: Pick<Report, 'failures'>, bucket: string): Generator<string> {
  yield 'Bucket,Key,Operation,ErrorCode,Message\r\n';
  for (const f of report.failures) yield `${[bucket, f.key, f.operation, f.code, f.message].map(csvField).join(',')}\r\n`;
}

/** Failure reasons, most frequent first, with up to `examples` keys each. */
export function topFailureReasons(failures: readonly ReportFailure[], limit = 10, examples = 3): { operation: ShardOperation; code: string; count: number; examples: string[] }[] {
  const groups = new Map<string, { operation: ShardOperation; code: string; count: number; examples: string[] }>();
  for (const f of failures) {
    const id = `${f.operation}\u0000${f.code}`;
    const g = groups.get(id) ?? { operation: f.operation, code: f.code, count: 0, examples: [] };
    g.count++;
    if (g.examples.length < examples) g.examples.push(f.key);
    groups.set(id, g);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)).slice(0, limit);
}

/**
 * The run's figures as published to CloudWatch (embedded metric format, by aggregate) and printed
 * by a local run: one definition, so the dashboard and the terminal never disagree.
 */
export function runMetrics(report: Report): Record<string, { value: number; unit: 'Count' | 'Bytes' | 'Seconds' }> {
  const resize = report.operations.resize;
  const backup = report.operations.backup;
  return {
    // A pruned original is processed work for resize, but not an image rendered.
    ImagesProcessed: { value: (resize?.processed ?? 0) - report.prune.originals, unit: 'Count' },
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
