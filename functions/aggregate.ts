/**
 * Aggregate: merges every shard result into report.json, failures.csv and report.html, publishes
 * the run's metrics, and promotes the run's catalogue to state/catalog.jsonl when the run may be
 * the basis of tomorrow's diff. Returns a small summary (the full report stays in S3).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { pMapIterable } from 'p-map';
import { mergeForPromotion, parseRecordLine, toLine } from '../core/catalog';
import { runKeys, STATE_CATALOG_KEY, STATE_PRESETS_KEY } from '../core/keys';
import { PresetImageCounter, type PresetsState } from '../core/explain';
import { dryRunPlan, failureCsvRow, FAILURES_CSV_HEADER, type Report, ReportFold, runMetrics, shouldPromoteCatalog, type Superseded, SUPERSEDED_WORDS, type Trigger, undoneInShard } from '../core/report';
import { promotedRecords, type RemovedPresets, type StateRecord, type UndoneOps } from '../core/state';
import { renderReportHtml } from '../core/report-html';
import type { ShardOperation } from '../core/input';
import type { Plan } from '../core/plan';
import type { ShardResult } from '../core/results';
import type { ChangeLine } from '../core/records/changes';
import { IMAGES_TABLE_ENV } from '../core/records/table';
import type { RecordsReport } from '../core/records/feed';
import { InvalidationPlanner } from '../core/records/invalidation';
import { type CdnTarget, cdnTarget, invalidationRequest } from '../adapters/cdn';
import { emitMetrics } from '../adapters/metrics';
import { errorText, etagOf, getJson, getJsonIfExists, headIfExists, isConditionalConflict, isNotFound, isPreconditionFailed, putJson, putText, readLines, readLinesIfExists, uploadStream } from '../adapters/s3';
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
  /** A newer run promoted its catalogue since this run planned: this one's was not promoted. */
  readonly superseded?: boolean;
  readonly reportKey: string;
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

  // The change feed before the report that links it (a dry run writes no records, so no feed).
  const cdn = plan.dryRun ? undefined : await writeChangeFeed(ctx, plan);

  const promote = shouldPromoteCatalog(plan);
  const interrupted = (await readStart(ctx, event.runId))?.interrupted;
  const built = withPlannedInvalidation(fold.report({ trigger: event.trigger, startedAt: event.startedAt, finishedAt: new Date().toISOString(), catalogPromoted: promote, interrupted }), cdn?.planner);
  // A dry run's report is a plan to approve: what a real run would do, its cost, and its keys.
  const report = plan.dryRun
    ? { ...built, dryRunPlan: dryRunPlan(plan, built, fold.wouldDo(), { compute: ctx.config.compute, backupStorageClass: ctx.config.backup.storageClass, keepsRecords: Boolean(ctx.env[IMAGES_TABLE_ENV]) }, await writePlannedList(ctx, plan, fold.plannedLists)) }
    : built;
  // The gallery is a nicety: a run's report is written even when its thumbnails cannot be read.
  const gallery = await collectGallery(ctx.s3, ctx.config, plan, report).catch((error: unknown) => {
    ctx.log.warn('report gallery left out: reading renditions failed', { runId: event.runId, error });
    return [];
  });
  await writeReport(ctx, report, gallery);
  // Promotion is the last write: a run that fails before it leaves the last good catalogue as it
  // was, and tomorrow's diff redoes what this run did not finish. A run superseded meanwhile
  // rewrites its report to say so (only its own run folder: nothing of the newer run is touched).
  const superseded = promote ? await promoteCatalog(ctx, plan, () => undone(ctx, plan)) : undefined;
  // Renditions were replaced whether or not the catalogue was promoted: the CDN forgets them either way.
  const records = cdn && report.records ? await invalidate(ctx, cdn, plan.runId, report.records) : report.records;
  const final = { ...report, ...(superseded ? { catalogPromoted: false, superseded } : {}), ...(records ? { records } : {}) };
  if (superseded || records !== report.records) await writeReport(ctx, final, gallery);
  emitMetrics(runMetrics(final), { runId: final.runId, status: final.status, dryRun: final.dryRun }, ctx.env);
  ctx.log.info('report written', { runId: final.runId, status: final.status, failures: final.failed.total, catalogPromoted: final.catalogPromoted, superseded: final.superseded });
  return { runId: final.runId, status: final.status, work: final.objects.work, failures: final.failed.total, catalogPromoted: final.catalogPromoted, ...(superseded ? { superseded: true } : {}), reportKey: keys.report };
}

/**
 * runs/<runId>/changes.jsonl: every shard's change lines (runs/<runId>/changes/<NNNNN>.jsonl, a
 * missing file read as empty) in shard order, that is in key order, streamed through one upload:
 * a few files open at once and a few upload parts in memory, whatever the run (10,000 shards,
 * millions of lines). With a CDN, the lines pass through its invalidation planner, returned.
 */
async function writeChangeFeed(ctx: FunctionContext, plan: Plan): Promise<PlannedCdn | undefined> {
  const { work } = ctx.config.buckets;
  const target = cdnTarget(ctx.env);
  const planner = target && new InvalidationPlanner(target.maxPaths);
  const keys = runKeys(plan.runId);
  const shards = Array.from({ length: plan.shardCount }, (_, shard) => shard);
  const files = pMapIterable(shards, (shard) => readLinesIfExists(ctx.s3, work, keys.changes(shard)), { concurrency: CHANGE_FILES_OPEN });
  const lines = (async function* () {
    for await (const file of files) {
      for await (const line of file ?? []) {
        planner?.add(JSON.parse(line) as ChangeLine);
        yield `${line}\n`;
      }
    }
  })();
  await uploadStream(ctx.s3, work, keys.changeFeed, lines, 'application/x-ndjson');
  return target && planner && { ...target, planner };
}

/** The CDN to invalidate (delivery.cdn), with the invalidation its change feed decided. */
interface PlannedCdn extends CdnTarget {
  readonly planner: InvalidationPlanner;
}

/** The report with the invalidation as decided; its outcome replaces it once CloudFront answers (after promotion). */
function withPlannedInvalidation(report: Report, planner: InvalidationPlanner | undefined): Report {
  return planner && report.records ? { ...report, records: { ...report.records, invalidation: plannedInvalidation(planner) } } : report;
}

/** Change files opened ahead of the one being copied (each a GET whose body waits, paused, for its turn). */
const CHANGE_FILES_OPEN = 4;

/** Paths named in the report and the email; the count is complete. */
const INVALIDATION_SAMPLE = 5;

function plannedInvalidation(planner: InvalidationPlanner): NonNullable<RecordsReport['invalidation']> {
  const plan = planner.plan();
  return { scope: plan.scope, renditions: plan.renditions, cap: plan.cap, paths: plan.paths.length, sample: plan.paths.slice(0, INVALIDATION_SAMPLE) };
}

/**
 * Invalidates the replaced and removed renditions in the CDN, once per run (CallerReference: the
 * run id). A failure is logged and reported, never fails the run: the renditions are right in
 * S3, and the CDN serves them once the cached copies expire.
 */
async function invalidate(ctx: FunctionContext, cdn: PlannedCdn, runId: string, records: RecordsReport): Promise<RecordsReport> {
  const plan = cdn.planner.plan();
  const planned = records.invalidation ?? plannedInvalidation(cdn.planner);
  if (plan.scope === 'none') return records;
  try {
    const answer = await cdn.api.createInvalidation(invalidationRequest(cdn.distributionId, runId, plan.paths));
    ctx.log.info('CDN invalidation created', { runId, scope: plan.scope, paths: plan.paths.length, id: answer.Invalidation?.Id });
    return { ...records, invalidation: { ...planned, ...(answer.Invalidation?.Id ? { id: answer.Invalidation.Id } : {}) } };
  } catch (error) {
    ctx.log.warn('CDN invalidation not created: the run goes on', { runId, scope: plan.scope, paths: plan.paths.length, error });
    return { ...records, invalidation: { ...planned, error: errorText(error) } };
  }
}

/** report.json and report.html. */
async function writeReport(ctx: FunctionContext, report: Report, gallery: Awaited<ReturnType<typeof collectGallery>>): Promise<void> {
  const { work } = ctx.config.buckets;
  const keys = runKeys(report.runId);
  await Promise.all([
    // Uploaded in parts past 8 MiB: a report naming FAILURES_NAMED failures with long keys outgrows one PUT of the embedded server (11 MiB).
    uploadStream(ctx.s3, work, keys.report, [`${JSON.stringify(report, null, 2)}\n`], 'application/json; charset=utf-8'),
    putText(ctx.s3, work, keys.reportHtml, renderReportHtml(report, { gallery }), 'text/html'),
  ]);
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
  const superseded = promote ? await promoteCatalog(ctx, plan, async function* () {}) : undefined;
  if (!promote) ctx.log.info('catalogue not promoted', { runId: plan.runId, dryRun: plan.dryRun, changed });
  // No report here: the nothing-to-do email reads the outcome from promotion.json.
  if (superseded) await putJson(ctx.s3, ctx.config.buckets.work, runKeys(plan.runId).promotion, { superseded } satisfies PromotionRecord);
  return { runId: plan.runId, status: 'NOTHING_TO_DO', work: 0, failures: 0, catalogPromoted: promote && !superseded, ...(superseded ? { superseded: true } : {}), reportKey: '' };
}

/** runs/<runId>/promotion.json, written by a run without work whose promotion was superseded. */
export interface PromotionRecord {
  readonly superseded: Superseded;
}

/** User metadata on state/catalog.jsonl naming the run that promoted it (x-amz-meta-nightshift-run). */
const PROMOTED_BY = 'nightshift-run';

/** Attempts at a promotion that S3 answers 409 ConditionalRequestConflict (another conditional write to the key in flight). */
const PROMOTION_ATTEMPTS = 4;

/**
 * Merges the run's catalogue into state/catalog.jsonl, written only over the version its plan
 * diffed against (If-Match on plan.stateCatalogEtag; If-None-Match: * when there was none), so a
 * run planned before another run promoted (a redrive of last night's run after tonight's, or two
 * runs at once) never overwrites the newer catalogue: it ends superseded, and the next diff starts
 * from the newer one. Returns undefined when promoted (now, or by an earlier attempt of this run),
 * else how it was superseded.
 *
 * S3's answers to the write (S3 user guide, "How to prevent object overwrites with conditional
 * writes", Conditional write behavior): 412 (another version is there) and 404 (If-Match on a key
 * whose object was deleted) send us back to read the key, which decides; 409
 * ConditionalRequestConflict (another conditional write to the key was in progress; nothing was
 * written) re-reads too and, if the planned version is still there, writes again from the start
 * (a multipart upload cannot be completed again after a 409).
 */
async function promoteCatalog(ctx: FunctionContext, plan: Plan, undone: () => AsyncIterable<readonly [string, UndoneOps]>): Promise<Superseded | undefined> {
  const { work } = ctx.config.buckets;
  // Plans written before the ETag was recorded: the version in place now (the former behaviour).
  const planned = plan.stateCatalogEtag !== undefined ? plan.stateCatalogEtag : ((await etagOf(ctx.s3, work, STATE_CATALOG_KEY)) ?? null);
  for (let attempt = 1; ; attempt++) {
    const current = await headIfExists(ctx.s3, work, STATE_CATALOG_KEY);
    if ((current?.etag ?? null) !== planned) {
      // Written by an earlier attempt of this run (its answer lost, or the function retried): promoted.
      if (current?.metadata[PROMOTED_BY] === plan.runId) return undefined;
      // A deleted state object (404 on If-Match, or gone before we wrote) is read as the catalogue
      // having moved: recreating it from this older plan could bring back what a newer run
      // dropped, while without it the next run diffs against nothing and redoes work, never forgets it.
      const superseded: Superseded = current?.metadata[PROMOTED_BY] ? { by: current.metadata[PROMOTED_BY] } : {};
      ctx.log.warn(`run ${plan.runId} ${SUPERSEDED_WORDS}`, { runId: plan.runId, planned, current: current?.etag ?? 'none', ...superseded });
      return superseded;
    }
    try {
      await writeMerged(ctx, plan, planned, undone());
      ctx.log.info('catalogue promoted', { runId: plan.runId, prefix: plan.prefix, over: planned ?? 'nothing' });
      return undefined;
    } catch (error) {
      // The next read decides: superseded, promoted by this run's own earlier attempt, or (409 only) still ours to write.
      if (!(isPreconditionFailed(error) || isNotFound(error) || isConditionalConflict(error)) || attempt >= PROMOTION_ATTEMPTS) throw error;
      if (isConditionalConflict(error)) {
        ctx.log.warn('promotion met a concurrent conditional write (409 ConditionalRequestConflict): reading the catalogue again', { runId: plan.runId, attempt });
        await delay(100 * attempt);
      }
    }
  }
}

/** The merge of the planned state catalogue and the run's, streamed to state/catalog.jsonl over exactly the planned version. */
async function writeMerged(ctx: FunctionContext, plan: Plan, planned: string | null, undone: AsyncIterable<readonly [string, UndoneOps]>): Promise<void> {
  const { work } = ctx.config.buckets;
  const keys = runKeys(plan.runId);
  const parse = (where: string) =>
    async function* (lines: AsyncIterable<string> | undefined): AsyncGenerator<StateRecord> {
      let i = 0;
      for await (const line of lines ?? []) yield parseRecordLine<StateRecord>(line, `${where} line ${++i}`);
    };
  // The run's tombstones go when their renditions were pruned: when it pruned (resize ran, the guard did not hold) and the key did not fail.
  const pruned = (plan.prune?.originals ?? 0) > 0 && plan.arrayJobs.resize;
  // With no prefix the run's catalogue replaces the previous one whole: no need to read it. With
  // one, the planned version is read (If-Match: 412 when it was replaced, 404 reads as none and
  // the write's If-Match then fails).
  const previous = plan.prefix === '' || planned === null ? undefined : await readLinesIfExists(ctx.s3, work, STATE_CATALOG_KEY, planned);
  const current = await readLines(ctx.s3, work, keys.catalog);
  // Streamed from the run's catalogue to the state, through the merge: no /tmp copy (Lambda's is
  // 10 GB at most) and memory of a few upload parts, whatever the corpus.
  const merged = mergeForPromotion(parse(STATE_CATALOG_KEY)(previous), promotedRecords(parse(keys.catalog)(current), undone, pruned, removedPresetsOf(plan)), plan.prefix);
  // The presets the catalogue's renditions were made with, and how many images hold each, counted as it streams.
  const presets = new PresetImageCounter();
  const lines = (async function* () {
    for await (const record of merged) {
      presets.add(record);
      yield toLine(record);
    }
  })();
  await uploadStream(ctx.s3, work, STATE_CATALOG_KEY, lines, 'application/x-ndjson', planned ? { ifMatch: planned } : { ifNoneMatch: '*' }, { [PROMOTED_BY]: plan.runId });
  const previousPresets = (await getJsonIfExists<PresetsState>(ctx.s3, work, STATE_PRESETS_KEY))?.value;
  await putJson(ctx.s3, work, STATE_PRESETS_KEY, presets.state(plan.runId, ctx.config, previousPresets));
}

/** The presets dropped from the configuration the run met, and those whose renditions it pruned (resize ran): promotion forgets those. */
function removedPresetsOf(plan: Plan): RemovedPresets {
  const removed = plan.explain?.removedPresets ?? [];
  return { all: removed.map((r) => r.preset), pruned: plan.arrayJobs.resize ? removed.filter((r) => r.action === 'pruned').map((r) => r.preset) : [] };
}
