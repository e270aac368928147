/**
 * Aggregate: merges every shard result into report.json, failures.csv and report.html, publishes
 * the run's metrics, and promotes the run's catalogue to state/catalog.jsonl when the run may be
 * the basis of tomorrow's diff. Returns a small summary (the full report stays in S3).
 */
import { pMapIterable } from 'p-map';
import { mergeForPromotion, parseRecordLine, toLine } from '../core/catalog';
import { runKeys, STATE_CATALOG_KEY } from '../core/keys';
import { dryRunPlan, failureCsvRow, FAILURES_CSV_HEADER, type Report, ReportFold, runMetrics, shouldPromoteCatalog, type Trigger, undoneInShard } from '../core/report';
import { promotedRecords, type StateRecord, type UndoneOps } from '../core/state';
import { renderReportHtml } from '../core/report-html';
import type { ShardOperation } from '../core/input';
import type { Plan } from '../core/plan';
import type { ShardResult } from '../core/results';
import { emitMetrics } from '../adapters/metrics';
import { etagOf, getJson, isNotFound, isPreconditionFailed, putText, readLines, readLinesIfExists, uploadStream } from '../adapters/s3';
import { type FunctionContext, functionContext } from './context';
import { collectGallery } from './gallery';
import { readStart } from './ledger';

export interface AggregateEvent {
  readonly runId: string;
  readonly trigger: Trigger;
  readonly startedAt: string;
  /** PromoteCatalogue: a run without work promotes its catalogue and writes no report. */
  readonly promoteOnly?: boolean;
}

export interface AggregateSummary {
  readonly runId: string;
  readonly status: Report['status'];
  readonly work: number;
  readonly failures: number;
  readonly catalogPromoted: boolean;
  readonly reportKey: string;
}

/** Another run promoted state/catalog.jsonl while this one was promoting it: this run's write was refused. */
export class PromotionConflict extends Error {
  override readonly name = 'PromotionConflict';
}

/** The results do not cover the plan: a shard's result is missing or miscounted. */
export class IncompleteResults extends Error {
  override readonly name = 'IncompleteResults';
}

export async function handler(event: AggregateEvent): Promise<AggregateSummary> {
  const ctx = functionContext();
  const { work } = ctx.config.buckets;
  const keys = runKeys(event.runId);
  const plan = await getJson<Plan>(ctx.s3, work, keys.plan);
  if (event.promoteOnly) return promoteWithoutWork(ctx, plan);
  // One pass over the results, shard by shard in key order, streaming failures.csv as it goes:
  // memory holds totals, samples and a few results in flight, whatever the corpus (10,000 shards of 10,000 objects).
  const fold = new ReportFold(plan);
  const rows = (async function* () {
    yield FAILURES_CSV_HEADER;
    for await (const { shard, results } of shardResults(ctx, plan)) for (const f of fold.add(shard, results)) yield failureCsvRow(f, ctx.config.buckets.corpus);
    // Thrown inside the upload, so that results that do not cover the plan leave no failures.csv
    // (a single PUT is never sent; a multipart upload is aborted).
    const gaps = fold.gaps();
    if (gaps.length > 0) throw new IncompleteResults(`Run ${event.runId}: the shard results do not cover the plan: ${gaps.slice(0, 10).join('; ')}`);
  })();
  // Streamed (a multipart upload past 8 MiB): a million failures never become one string.
  await uploadStream(ctx.s3, work, keys.failuresCsv, rows, 'text/csv; charset=utf-8');

  const promote = shouldPromoteCatalog(plan);
  const interrupted = (await readStart(ctx, event.runId))?.interrupted;
  const built = fold.report({ trigger: event.trigger, startedAt: event.startedAt, finishedAt: new Date().toISOString(), catalogPromoted: promote, interrupted });
  // A dry run's report is a plan to approve: what a real run would do, its cost, and its keys.
  const report = plan.dryRun
    ? { ...built, dryRunPlan: dryRunPlan(plan, built, fold.wouldDo(), { compute: ctx.config.compute, backupStorageClass: ctx.config.backup.storageClass }, await writePlannedList(ctx, plan, fold.plannedLists)) }
    : built;
  // The gallery is a nicety: a run's report is written even when its thumbnails cannot be read.
  const gallery = await collectGallery(ctx.s3, ctx.config, plan, report).catch((error: unknown) => {
    ctx.log.warn('report gallery left out: reading renditions failed', { runId: event.runId, error });
    return [];
  });
  await Promise.all([
    // Uploaded in parts past 8 MiB: a report naming FAILURES_NAMED failures with long keys outgrows one PUT of the embedded server (11 MiB).
    uploadStream(ctx.s3, work, keys.report, [`${JSON.stringify(report, null, 2)}\n`], 'application/json; charset=utf-8'),
    putText(ctx.s3, work, keys.reportHtml, renderReportHtml(report, { gallery }), 'text/html'),
  ]);
  // Promotion is the last write: a run that fails before it leaves the last good catalogue as it
  // was, and tomorrow's diff redoes what this run did not finish.
  if (promote) await promoteCatalog(ctx, plan, undone(ctx, plan));
  emitMetrics(runMetrics(report), { runId: report.runId, status: report.status, dryRun: report.dryRun }, ctx.env);
  ctx.log.info('report written', { runId: report.runId, status: report.status, failures: report.failed.total, catalogPromoted: promote });
  return { runId: report.runId, status: report.status, work: report.objects.work, failures: report.failed.total, catalogPromoted: promote, reportKey: keys.report };
}

/**
 * Each shard's results (one per operation of the plan; undefined when missing), in shard order,
 * read RESULTS_IN_FLIGHT at a time and no further ahead: a result is dropped once folded.
 */
function shardResults(ctx: FunctionContext, plan: Plan): AsyncIterable<{ shard: number; results: (ShardResult | undefined)[] }> {
  const { work } = ctx.config.buckets;
  const keys = runKeys(plan.runId);
  // A missing result is a gap in the run (a shard that never finished), named as such by the fold.
  const read = (op: ShardOperation, shard: number) =>
    getJson<ShardResult>(ctx.s3, work, keys.result(op, shard)).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
  const shards = Array.from({ length: plan.shardCount }, (_, shard) => shard);
  return pMapIterable(shards, async (shard) => ({ shard, results: await Promise.all(plan.shardOperations.map((op) => read(op, shard))) }), { concurrency: RESULTS_IN_FLIGHT });
}

/** Shards whose results are read at once (each with one result per operation). */
const RESULTS_IN_FLIGHT = 16;

/** What the run left undone, key by key in key order: a second pass over the results, for promotion. */
async function* undone(ctx: FunctionContext, plan: Plan): AsyncGenerator<readonly [string, UndoneOps]> {
  for await (const { results } of shardResults(ctx, plan)) yield* undoneInShard(results);
}

/**
 * A dry run's keys in one list beside the report (runs/<runId>/planned.jsonl): the shards' lists
 * streamed through one upload in operation and shard order, that is in key order per operation.
 */
async function writePlannedList(ctx: FunctionContext, plan: Plan, lists: Partial<Record<ShardOperation, readonly string[]>>): Promise<string> {
  const { work } = ctx.config.buckets;
  const key = runKeys(plan.runId).planned;
  const ordered = (Object.keys(lists) as ShardOperation[]).sort().flatMap((op) => lists[op] ?? []);
  const lines = (async function* () {
    for (const list of ordered) for await (const line of (await readLinesIfExists(ctx.s3, work, list)) ?? []) yield `${line}\n`;
  })();
  await uploadStream(ctx.s3, work, key, lines, 'application/x-ndjson');
  return key;
}

/**
 * A run without work (nothing new, or only skips and deletions) promotes its catalogue when it
 * changed anything, so that each deletion is reported by one run and the next diff starts here.
 */
async function promoteWithoutWork(ctx: FunctionContext, plan: Plan): Promise<AggregateSummary> {
  const { counts } = plan;
  const changed = counts.new + counts.changed + counts.deleted > 0;
  const promote = shouldPromoteCatalog(plan) && changed;
  if (promote) await promoteCatalog(ctx, plan, (async function* () {})());
  else ctx.log.info('catalogue not promoted', { runId: plan.runId, dryRun: plan.dryRun, changed });
  return { runId: plan.runId, status: 'NOTHING_TO_DO', work: 0, failures: 0, catalogPromoted: promote, reportKey: '' };
}

/**
 * Merges the run's catalogue into state/catalog.jsonl and writes it back only over the version it
 * read (If-Match; If-None-Match: * when there was none), so that two runs promoting at once never
 * lose one's work: the second is refused with PromotionConflict, and a redrive merges again onto
 * what the first promoted.
 */
async function promoteCatalog(ctx: FunctionContext, plan: Plan, undone: AsyncIterable<readonly [string, UndoneOps]>): Promise<void> {
  const { work } = ctx.config.buckets;
  const keys = runKeys(plan.runId);
  const parse = (where: string) =>
    async function* (lines: AsyncIterable<string> | undefined): AsyncGenerator<StateRecord> {
      let i = 0;
      for await (const line of lines ?? []) yield parseRecordLine<StateRecord>(line, `${where} line ${++i}`);
    };
  const conflict = () => new PromotionConflict(`${STATE_CATALOG_KEY} changed while run ${plan.runId} was promoting its catalogue (another run promoted first): redrive this run to merge onto the new one.`);
  // The run's tombstones go when their renditions were pruned: when it pruned (resize ran, the guard did not hold) and the key did not fail.
  const pruned = (plan.prune?.originals ?? 0) > 0 && plan.arrayJobs.resize;
  const base = await etagOf(ctx.s3, work, STATE_CATALOG_KEY);
  try {
    // With no prefix the run's catalogue replaces the previous one whole: no need to read it.
    const previous = plan.prefix === '' || base === undefined ? undefined : await readLinesIfExists(ctx.s3, work, STATE_CATALOG_KEY, base);
    const current = await readLines(ctx.s3, work, keys.catalog);
    // Streamed from the run's catalogue to the state, through the merge: no /tmp copy (Lambda's is
    // 10 GB at most) and memory of a few upload parts, whatever the corpus.
    const merged = mergeForPromotion(parse(STATE_CATALOG_KEY)(previous), promotedRecords(parse(keys.catalog)(current), undone, pruned), plan.prefix);
    const lines = (async function* () {
      for await (const record of merged) yield toLine(record);
    })();
    await uploadStream(ctx.s3, work, STATE_CATALOG_KEY, lines, 'application/x-ndjson', base ? { ifMatch: base } : { ifNoneMatch: '*' });
  } catch (error) {
    if (isPreconditionFailed(error)) throw conflict();
    throw error;
  }
  ctx.log.info('catalogue promoted', { runId: plan.runId, prefix: plan.prefix, over: base ?? 'nothing' });
}
