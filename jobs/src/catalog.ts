/**
 * catalog (the Plan step): list the corpus under the run's prefix, filter, sort with bounded
 * memory, diff against the last good catalogue, and write the run's catalogue, the shard manifests,
 * the catalog result (every listed object left alone, with its reason) and, last, plan.json.
 * Writing plan.json last means a plan in S3 always describes artefacts that are all there.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { DeleteObjectCommand, type _Object } from '@aws-sdk/client-s3';
import { laneMarkerKey, type LaneRemoval, withLaneRemovals } from '../../core/upload-lane';
import { presetDigests } from '../../core/recipe';
import leven from 'leven';
import { InventoryError } from '../../core/inventory';
import { readInventory } from '../../adapters/inventory';
import pLimit, { type LimitFunction } from 'p-limit';
import { type CatalogRecord, filterRecord, mergeByKey, SKIP_REASONS, type WorkItem, workBytes } from '../../core/catalog';
import { type CatalogLine, lineKey } from '../../core/catalog-line';
import { CatalogLineReader } from '../../core/line-files';
import { CatalogLineSorter } from '../../core/linesort';
import { diffLines, type LineDiffEntry } from '../../core/line-diff';
import { runKeys, STATE_CATALOG_KEY, STATE_PRESETS_KEY } from '../../core/keys';
import { explain, type Explanation, type PresetsState, removalRefusal } from '../../core/explain';
import { pruneDecision, type PruneDecision } from '../../core/state';
import { parseRunInput, type RunInput, shardOperations } from '../../core/input';
import { JsonLinesWriter, readJsonLines } from '../../core/jsonl';
import { backfillWords, isDenseWork, type Plan, type PlanCounts } from '../../core/plan';
import { IMAGES_TABLE_ENV } from '../../core/records/table';
import { runCost } from '../../core/cost';
import { ShardCutter, shardCount } from '../../core/shards';
import { planTiming } from '../../core/timing';
import { UsageError, ValidationError } from '../../core/validation';
import { downloadFileIfExists, getJson, getJsonIfExists, listInParallel, listPages, putText, uploadFile } from '../../adapters/s3';
import type { JobContext } from './context';
import { WorkListWriter } from './work-list';

const LIST_CONCURRENCY = 8;
const UPLOAD_CONCURRENCY = 8;
/** The diff runs synchronously on local files; it lets timers and signals through this often. */
const YIELD_EVERY_LINES = 20_000;

export async function catalogJob(ctx: JobContext): Promise<Plan> {
  let input: RunInput;
  try {
    input = parseRunInput(ctx.input, ctx.config);
  } catch (error) {
    if (error instanceof ValidationError) throw new UsageError(error.message);
    throw error;
  }
  const log = ctx.log.child({ operation: 'catalog' });
  const dir = await mkdtemp(join(ctx.tmpDir, 'nightshift-catalog-'));
  try {
    return await buildPlan(ctx, input, dir, log);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type Bytes = { listed: number; selected: number; work: number };

/** The plan's steps, in the order the data flows: each fills in `counts` and `bytes` as it goes. */
async function buildPlan(ctx: JobContext, input: RunInput, dir: string, log: JobContext['log']): Promise<Plan> {
  const started = Date.now();
  const counts: PlanCounts = { listed: 0, selected: 0, new: 0, changed: 0, unchanged: 0, deleted: 0, work: 0, skipped: {} };
  const bytes: Bytes = { listed: 0, selected: 0, work: 0 };

  // 1. List and filter: what passes goes into the external sort, what does not is written down.
  const { sorter, skippedFile, source } = await listAndFilter(ctx, input, dir, counts, bytes);
  log.info('listed', { listed: counts.listed, selected: sorter.stats.records, skipped: counts.skipped });
  // 2. The last good catalogue, to diff against, and the presets it was rendered with.
  const previous = await readPreviousCatalog(ctx, input.prefix, dir);
  const previousPresets = (await getJsonIfExists<PresetsState>(ctx.s3, ctx.config.buckets.work, STATE_PRESETS_KEY))?.value;
  // 3. Each object's work, from its state, in key order; the upload lane's removals among the deleted (core/upload-lane.ts).
  const repeated = (key: string) => log.warn('the listing returned a key twice; counted once', { key });
  // Only with the lane on: a night without it sends no request more (markers left from a lane since turned off wait for it).
  const removals = ctx.config.onUpload.enabled ? await laneRemovals(ctx, input.prefix) : [];
  const restored: string[] = [];
  const entries = withLaneRemovals(diffLines(sorter.sorted(), previous.lines(), repeated), removals, presetDigests(ctx.config), (r) => void restored.push(r.key));
  const work = await writeWorkList(ctx, input, dir, { counts, bytes }, entries, log, previousPresets);
  const explanation = explainWork(ctx, input, work, previousPresets, bytes.selected / Math.max(1, counts.selected), log);
  // 4. The prune guard.
  const prune = guardPrune(ctx, input, { candidates: work.pruneCandidates, catalogued: previous.records }, counts, log);
  log.info('diffed', { new: counts.new, changed: counts.changed, unchanged: counts.unchanged, deleted: counts.deleted, work: counts.work, prune, previous: previous.records, sort: sorter.stats });
  // 5. The shard manifests and the other artefacts; the plan last.
  const shards = await writeArtefacts(ctx, input, work, skippedFile.path, { counts, bytes }, prune.originals > 0);
  const warnings = [counts.listed === 0 && input.prefix !== '' ? await emptyPrefixWarning(ctx, input.prefix) : undefined, source.warning];
  const { due, deletedSample } = work;
  const plan = planOf(ctx, input, { counts, bytes, previousRecords: previous.records, previousEtag: previous.etag, prune, due, deletedSample, source, warnings, explanation }, shards, (Date.now() - started) / 1000, log);
  // Stopped meanwhile (main lets the uploads abort): no plan, the retry redoes the pass.
  if (ctx.signal.aborted) throw new Error('stopped before the plan was written');
  await putText(ctx.s3, ctx.config.buckets.work, runKeys(ctx.runId).plan, `${JSON.stringify(plan, null, 2)}\n`, 'application/json');
  if (!input.dryRun) await dropMarkers(ctx, restored);
  log.info('planned', { shardCount: plan.shardCount, work: counts.work, workBytes: bytes.work, shardOperations: plan.shardOperations, dryRun: plan.dryRun, ...(counts.backfill ? { backfill: backfillWords(counts.backfill) } : {}) });
  return plan;
}

/** The last good catalogue, downloaded (the merge join reads both sides from local disk); its lines under the prefix, counted as they are read. */
interface PreviousCatalog {
  /** Its ETag, for the plan: promotion writes over exactly the version diffed against. Undefined: there was none. */
  readonly etag: string | undefined;
  /** Lines read so far under the prefix: all of them once `lines()` is exhausted. */
  readonly records: number;
  lines(): Generator<CatalogLine>;
}

/** The upload lane's removal markers under the run's prefix (core/upload-lane.ts), in key order. */
async function laneRemovals(ctx: JobContext, prefix: string): Promise<LaneRemoval[]> {
  const keys: string[] = [];
  for await (const page of listPages(ctx.s3, { bucket: ctx.config.buckets.work, prefix: laneMarkerKey(prefix) })) keys.push(...page.objects.map((o) => o.Key!));
  const read = pLimit(UPLOAD_CONCURRENCY);
  return Promise.all(keys.map((k) => read(() => getJson<LaneRemoval>(ctx.s3, ctx.config.buckets.work, k))));
}

/** The markers of originals listed again (restored or uploaded anew): nothing of theirs to prune. */
async function dropMarkers(ctx: JobContext, keys: readonly string[]): Promise<void> {
  const drop = pLimit(UPLOAD_CONCURRENCY);
  await Promise.all(keys.map((k) => drop(() => ctx.s3.send(new DeleteObjectCommand({ Bucket: ctx.config.buckets.work, Key: laneMarkerKey(k) })))));
}

/**
 * Downloads state/catalog.jsonl. A full run reads it too: it redoes the work, but the state of
 * operations it does not run, who owns which rendition keys and what is left to prune still come from it.
 */
async function readPreviousCatalog(ctx: JobContext, prefix: string, dir: string): Promise<PreviousCatalog> {
  const path = join(dir, 'previous-catalog.jsonl');
  const etag = await downloadFileIfExists(ctx.s3, ctx.config.buckets.work, STATE_CATALOG_KEY, path);
  const previous = {
    etag,
    records: 0,
    *lines(): Generator<CatalogLine> {
      if (etag === undefined) return;
      for (const line of new CatalogLineReader(path)) {
        if (prefix === '' || lineKey(line).startsWith(prefix)) {
          previous.records++;
          yield line;
        }
      }
    },
  };
  return previous;
}

/** Decides each object's work from the diff, in key order, and writes it down (work-list.ts). */
async function writeWorkList(ctx: JobContext, input: RunInput, dir: string, tally: { counts: PlanCounts; bytes: Bytes }, entries: Iterable<LineDiffEntry>, log: JobContext['log'], previousPresets: PresetsState | undefined): Promise<WorkListWriter> {
  // The resize job keeps records where the table is set, as it is for every job (jobs/src/records.ts shardRecords).
  const work = new WorkListWriter(dir, ctx.config, input, tally.counts, tally.bytes, log, previousPresets, Boolean(process.env[IMAGES_TABLE_ENV]));
  let seen = 0;
  for (const entry of entries) {
    if (++seen % YIELD_EVERY_LINES === 0) await yieldToEventLoop();
    await work.add(entry);
  }
  await work.close();
  return work;
}

/**
 * Why the work is due (core/explain.ts). A dry run refuses a configuration that drops presets
 * that still have renditions (exit 2): the operator is there to confirm or undo it. A run holds them.
 */
function explainWork(ctx: JobContext, input: RunInput, work: WorkListWriter, previousPresets: PresetsState | undefined, bytesPerImage: number, log: JobContext['log']): Explanation {
  const explanation = explain(work.reasons.counts, previousPresets, ctx.config, bytesPerImage);
  const held = explanation.removedPresets.filter((r) => r.action === 'held');
  if (input.dryRun && held.length > 0) throw new UsageError(removalRefusal(held)!);
  if (held.length > 0) log.warn('renditions of presets dropped from the configuration are held until renditions.removePresets confirms it', { held });
  return explanation;
}

/** The prune guard (core/state.ts pruneDecision); what it lets through counts as work. */
function guardPrune(ctx: JobContext, input: RunInput, o: { candidates: number; catalogued: number }, counts: PlanCounts, log: JobContext['log']): PruneDecision {
  const { renditions } = ctx.config;
  const prune = pruneDecision({ ...o, maxShare: renditions.maxPruneShare, confirmed: input.confirmPrune, resize: input.operations.includes('resize'), enabled: renditions.pruneDeleted });
  if (prune.held > 0) log.warn('prune held: too much of the corpus was deleted at once', { originals: o.candidates, share: prune.share, maxShare: prune.maxShare });
  counts.prune = prune.originals;
  counts.work += prune.originals;
  return prune;
}

/**
 * Cuts the work list into shards (the work and the prunes, merged in key order) and uploads them
 * with the run's catalogue, the catalog result and the deleted list. Returns the shard count.
 */
async function writeArtefacts(ctx: JobContext, input: RunInput, work: WorkListWriter, skippedPath: string, { counts, bytes }: { counts: PlanCounts; bytes: Bytes }, pruning: boolean): Promise<number> {
  const { config, s3 } = ctx;
  const keys = runKeys(ctx.runId);
  const shards = shardOperations(input).length > 0 ? shardCount(counts.work, bytes.work, config.shards) : 0;
  const uploads = pLimit(UPLOAD_CONCURRENCY);
  const items = pruning ? mergeByKey(readJsonLines<WorkItem>(work.workFile.path), readJsonLines<WorkItem>(work.pruneFile.path)) : readJsonLines<WorkItem>(work.workFile.path);
  const pending = shards > 0 ? await writeShards(ctx, items, new ShardCutter(shards, counts.work, bytes.work), shards, uploads) : [];
  pending.push(uploads(async () => void (await uploadFile(s3, config.buckets.work, keys.catalog, work.catalogFile.path, 'application/x-ndjson', {}, ctx.signal))));
  pending.push(uploads(() => writeCatalogResult(ctx, skippedPath, counts)));
  if (counts.deleted > 0) pending.push(uploads(async () => void (await uploadFile(s3, config.buckets.work, keys.deleted, work.deletedFile.path, 'application/x-ndjson', {}, ctx.signal))));
  // Every upload settles before a failure is thrown: the job's client is destroyed when it ends, and an
  // upload cut off mid-way could not abort its multipart upload (lib-storage aborts it on its own failure).
  const failed = (await Promise.allSettled(pending)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return shards;
}

/** What the plan's steps found, for plan.json. */
interface PlanFacts {
  readonly counts: PlanCounts;
  readonly bytes: Plan['bytes'];
  readonly previousRecords: number;
  readonly previousEtag: string | undefined;
  readonly prune: Plan['prune'];
  readonly due: WorkListWriter['due'];
  readonly deletedSample: readonly string[];
  readonly source: CatalogSource;
  readonly warnings: readonly (string | undefined)[];
  readonly explanation: Explanation;
}

/** plan.json: the facts, the array jobs to run, and the run's expected duration and cost (core/timing.ts, core/cost.ts). */
function planOf(ctx: JobContext, input: RunInput, facts: PlanFacts, shards: number, elapsedSeconds: number, log: JobContext['log']): Plan {
  const { config } = ctx;
  const { counts, bytes, due, source } = facts;
  const operations = shards > 0 ? shardOperations(input) : [];
  const { timeouts, ...estimate } = planTiming({ shardCount: shards, objects: counts.work, bytes: bytes.work, operations, elapsedSeconds }, config.compute);
  const cost = runCost({
    listed: counts.listed,
    backups: operations.includes('backup') ? due.backups : 0,
    images: operations.includes('resize') ? due.images : 0,
    renditionsPerImage: due.images > 0 ? due.renditions / due.images : 0,
    dense: isDenseWork({ full: input.full, counts }),
    taskSeconds: { backup: estimate.arrayJobs.backup?.taskSeconds ?? 0, resize: estimate.arrayJobs.resize?.taskSeconds ?? 0 },
    compute: config.compute,
    backupStorageClass: config.backup.storageClass,
  });
  if (!estimate.fits) log.warn('the run may not fit the execution', { advice: estimate.advice, expectedSeconds: estimate.expectedSeconds });
  return {
    runId: ctx.runId,
    createdAt: new Date().toISOString(),
    prefix: input.prefix,
    dryRun: input.dryRun,
    full: input.full,
    force: input.force,
    operations: input.operations,
    shardOperations: operations,
    arrayJobs: { backup: operations.includes('backup'), resize: operations.includes('resize') },
    presets: input.presets,
    shardCount: shards,
    counts,
    bytes,
    previousCatalogRecords: facts.previousRecords,
    stateCatalogEtag: facts.previousEtag ?? null,
    prune: facts.prune,
    explain: facts.explanation,
    nothingToDo: shards === 0,
    ...(counts.deleted > 0 ? { deleted: { sample: [...facts.deletedSample], list: runKeys(ctx.runId).deleted } } : {}),
    source: { kind: source.kind, ...(source.kind === 'inventory' ? { manifest: source.manifest, createdAt: source.createdAt } : {}) },
    ...warningsOf(facts.warnings),
    timeouts,
    estimate: { ...estimate, cost },
  };
}

/**
 * Lists the corpus (or reads its inventory) and filters it: each selected record goes into the
 * external sort, as the JSON line catalog.jsonl will hold (sorted by key bytes, core/linesort.ts);
 * each other one into skipped.jsonl with its reason. Counts into `counts` and `bytes`.
 */
async function listAndFilter(ctx: JobContext, input: RunInput, dir: string, counts: PlanCounts, bytes: Bytes) {
  const sorter = new CatalogLineSorter({ memoryBytes: ctx.sortMemoryBytes, tmpDir: dir });
  const skippedFile = new JsonLinesWriter(join(dir, 'skipped.jsonl'));
  const source = await listCorpus(ctx, input.prefix, async (objects) => {
    for (const object of objects) {
      const record = toRecord(object);
      counts.listed++;
      bytes.listed += record.size;
      const reason = filterRecord(record, ctx.config.filter);
      if (reason) {
        counts.skipped[reason] = (counts.skipped[reason] ?? 0) + 1;
        await skippedFile.write({ key: record.key, code: reason, message: SKIP_REASONS[reason] });
      } else sorter.add(JSON.stringify(record));
    }
  });
  await skippedFile.close();
  return { sorter, skippedFile, source };
}

/**
 * Uploads the work list as `count` shard manifests, cut by `cutter`, `uploads` at a time.
 * Backpressure: a shard's lines are held until its upload ends, so the read loop waits while
 * UPLOAD_CONCURRENCY uploads are in flight and as many are queued. Without it, slow PUTs (tens of
 * ms in AWS) let every shard of the run pile up in memory (~450 bytes an object). Returns the
 * uploads, to be awaited with the other artefacts.
 */
async function writeShards(ctx: JobContext, items: AsyncIterable<WorkItem>, cutter: ShardCutter, count: number, uploads: LimitFunction): Promise<Promise<void>[]> {
  const keys = runKeys(ctx.runId);
  const pending: Promise<void>[] = [];
  const inFlight = new Set<Promise<void>>();
  const putShard = async (index: number, lines: string[]) => {
    while (inFlight.size >= 2 * UPLOAD_CONCURRENCY) await Promise.race(inFlight);
    const upload = uploads(() => putText(ctx.s3, ctx.config.buckets.work, keys.shard(index), lines.join(''), 'application/x-ndjson'));
    const tracked = upload.finally(() => inFlight.delete(tracked));
    tracked.catch(() => undefined); // its error surfaces through `pending` (or the race above)
    inFlight.add(tracked);
    pending.push(upload);
  };
  let current = 0;
  let lines: string[] = [];
  for await (const item of items) {
    // A prune reads nothing of the original, a backfill its header only: their bytes are not work.
    const index = cutter.next(workBytes(item));
    while (index > current) {
      await putShard(current++, lines);
      lines = [];
    }
    lines.push(`${JSON.stringify(item)}\n`);
  }
  for (; current < count; current++, lines = []) await putShard(current, lines);
  return pending;
}

/** Keys kept per skip reason in the catalog result; the full list is skipped.jsonl beside it. */
export const SKIP_SAMPLE_PER_REASON = 20;

/**
 * Every listed object the filter left alone: `runs/<runId>/skipped.jsonl`, one `{key, code,
 * message}` a line, uploaded from disk as it was written (a reader streams it: at 100 M objects
 * it is gigabytes), and results/catalog/00000.json with the counts and a bounded sample per reason.
 */
async function writeCatalogResult(ctx: JobContext, skippedPath: string, counts: PlanCounts): Promise<void> {
  const keys = runKeys(ctx.runId);
  const sample: { key: string; code: string }[] = [];
  const perReason = new Map<string, number>();
  for await (const entry of readJsonLines<{ key: string; code: string }>(skippedPath)) {
    const n = perReason.get(entry.code) ?? 0;
    if (n < SKIP_SAMPLE_PER_REASON) sample.push(entry);
    perReason.set(entry.code, n + 1);
  }
  await uploadFile(ctx.s3, ctx.config.buckets.work, keys.skipped, skippedPath, 'application/x-ndjson', {}, ctx.signal);
  const result = { runId: ctx.runId, operation: 'catalog', shard: 0, attempt: ctx.attempt, finishedAt: new Date().toISOString(), counts, skippedList: keys.skipped, skipped: sample };
  await putText(ctx.s3, ctx.config.buckets.work, keys.result('catalog', 0), `${JSON.stringify(result)}\n`, 'application/json');
}

/**
 * A prefix that matched nothing is a mistake more often than a quiet night: say so, and suggest
 * the nearest folder that exists beside it (one delimited LIST of its parent).
 */
async function emptyPrefixWarning(ctx: JobContext, prefix: string): Promise<string> {
  const slash = prefix.lastIndexOf('/', prefix.length - 2);
  const parent = prefix.startsWith('/') ? '' : slash >= 0 ? prefix.slice(0, slash + 1) : '';
  const near: string[] = [];
  for await (const page of listPages(ctx.s3, { bucket: ctx.config.buckets.corpus, prefix: parent, delimiter: '/' })) {
    near.push(...page.prefixes);
    if (near.length >= 1000) break;
  }
  const wanted = prefix.replace(/^\/+/, '');
  const nearest = near.sort((a, b) => leven(wanted, a) - leven(wanted, b))[0];
  const lead = prefix.startsWith('/') ? ' (S3 keys do not start with "/")' : '';
  return `No object matched the prefix ${JSON.stringify(prefix)}${lead}${nearest ? `; the nearest existing prefix is ${JSON.stringify(nearest)}` : parent ? `; ${JSON.stringify(parent)} holds no folders` : '; the corpus has no folders'}.`;
}

/** Where the catalogue came from: a listing of the bucket, or an S3 Inventory delivery. */
type CatalogSource = NonNullable<Plan['source']> & { readonly warning?: string };

const warningsOf = (candidates: readonly (string | undefined)[]) => {
  const warnings = candidates.filter((w): w is string => Boolean(w));
  return warnings.length > 0 ? { warnings } : {};
};

function toRecord(o: _Object): CatalogRecord {
  const restored = o.RestoreStatus && !o.RestoreStatus.IsRestoreInProgress && o.RestoreStatus.RestoreExpiryDate && o.RestoreStatus.RestoreExpiryDate.getTime() > Date.now();
  return {
    key: o.Key!,
    size: o.Size ?? 0,
    etag: o.ETag ?? '',
    lastModified: (o.LastModified ?? new Date(0)).toISOString(),
    storageClass: o.StorageClass ?? 'STANDARD',
    ...(restored ? { restored: true } : {}),
  };
}

/**
 * Lists every object under `prefix` with LIST_CONCURRENCY listings at once, flat layouts and
 * folders alike (listInParallel splits the key range as it goes). Pages are handed to `onPage`
 * one at a time.
 */
async function listCorpus(ctx: JobContext, prefix: string, onPage: (objects: readonly _Object[]) => Promise<void>): Promise<CatalogSource> {
  const bucket = ctx.config.buckets.corpus;
  const inventory = ctx.config.corpus.inventory;
  if (inventory) {
    try {
      const read = await readInventory(ctx.s3, inventory, bucket, prefix, ctx.tmpDir, onPage);
      ctx.log.info('inventory read', { ...read });
      const ageHours = (Date.now() - read.createdAt.getTime()) / 3_600_000;
      return {
        kind: 'inventory',
        manifest: `s3://${inventory.bucket}/${read.manifestKey}`,
        createdAt: read.createdAt.toISOString(),
        ...(ageHours > inventory.maxAgeHours ? { warning: `The inventory ${read.manifestKey} is ${Math.round(ageHours)} hours old (corpus.inventory.maxAgeHours ${inventory.maxAgeHours}): objects added since are not planned until a newer delivery; check the inventory configuration's schedule.` } : {}),
      };
    } catch (error) {
      // A configuration the next attempt cannot fix (wrong format, columns, bucket): exit 2, with the fix.
      if (error instanceof InventoryError) throw new UsageError(`corpus.inventory: ${error.message}`);
      throw error;
    }
  }
  let serial = Promise.resolve();
  const handle = (objects: readonly _Object[]) => (serial = serial.then(() => onPage(objects)));
  try {
    const listed = await listInParallel(ctx.s3, { bucket, prefix, listers: LIST_CONCURRENCY }, handle);
    await serial;
    ctx.log.info('listing', listed);
    return { kind: 'listing' };
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchBucket') {
      throw new Error(`The corpus bucket ${JSON.stringify(bucket)} does not exist (config buckets.corpus): create it or fix the name.`);
    }
    throw error;
  }
}

