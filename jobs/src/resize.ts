/**
 * resize: for each image of its shard with presets due (new, changed, or rendered with another
 * recipe), one GET, one decode, every due preset × format written to the renditions bucket with the
 * right Content-Type and Cache-Control, and in user metadata the source ETag and the rendition's
 * recipe (core/recipe.ts). A rendition that already carries both is not written again (unless the
 * run is `full` and `force`); an image whose renditions are all current is skipped. For a deleted
 * original it prunes the renditions it made (see prune).
 *
 * Which renditions exist is asked with HeadObject (the source ETag is in user metadata, which only
 * HEAD returns). On dense work (a first or full run: see isDenseWork) each preset × format's key
 * range is listed first, and only renditions the listing shows are HEADed: on a first run, none.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, type HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { recordTime } from '../../core/records/table';
import { OUTPUT_FORMATS, type OutputFormat, type Preset } from '../../core/config';
import type { WorkItem } from '../../core/catalog';
import { compareKeys, renditionKey, renditionPrefix } from '../../core/keys';
import { acceptsLegacy, baseRecipe, renditionRecipe } from '../../core/recipe';
import { isDenseWork, type Plan } from '../../core/plan';
import { type Failure, failure } from '../../core/failures';
import { failedRecord, type ImageRecord, type Placeholder, renderedRecord, type RenderingNotes, skippedRecord, type WrittenRendition } from '../../core/records/record';
import { budgetBytes, imageCostBytes, MemoryBudget, tooLargeForMemory } from '../../core/memory-budget';
import { type ShardTally } from '../../core/results';
import { errorText, getJsonIfExists, isConditionalConflict, isNotFound, isPreconditionFailed, listPages, ListingCursor } from '../../adapters/s3';
import { laneMarkerKey, type LaneRemoval } from '../../core/upload-lane';
import type { JobContext } from './context';
import { inspect, type ObjectFacts, render, RenderError, renderOptionsOf, type Rendered, type RenderOptions, type Rendition, type SourceFacts, sourceDetailsOf } from '../../adapters/image/render';
import { putRendition, RECIPE_META, type RenditionCondition, SOURCE_ETAG_META } from '../../adapters/image/renditions';
import { runShard, type ShardOutcome, sourceReadOutcome } from './shard';
import { shardRecords, type QueuedRecord, type ShardRecords } from './records';
import { backfillRecord, renditionFromHead } from './backfill';

export { RECIPE_META, SOURCE_ETAG_META } from '../../adapters/image/renditions';

/** The file extension of each format's renditions, to recognise them in a listing. */
const RENDITION_EXTENSIONS = new Set(OUTPUT_FORMATS.map((f) => renditionKey('p', 'x', f).slice('p/x.'.length)));

const GENERIC_CONTENT_TYPES = ['application/octet-stream', 'binary/octet-stream', ''];

/** What every step of a shard shares: its configuration, presets, listings and memory budget. */
interface ResizeShard {
  readonly ctx: JobContext;
  readonly plan: Plan;
  readonly config: JobContext['config'];
  readonly presets: readonly Preset[];
  readonly options: RenderOptions;
  readonly log: JobContext['log'];
  /** On dense work, one listing cursor per preset × format (see isDenseWork). */
  readonly listings?: Map<string, ListingCursor>;
  /** Bytes the images being rendered may hold at once (core/memory-budget.ts). */
  readonly budget: MemoryBudget;
  /** The image records, when the job has a table (jobs/src/records.ts). */
  readonly records?: ShardRecords;
}

/** What handling one image learnt that its record needs. */
interface ItemNotes {
  facts?: SourceFacts;
  placeholder?: Placeholder;
  /** What the rendering policies did (the record's `rendering`). */
  rendering?: RenderingNotes;
  /** Renditions written now, with the ETag S3 answered. */
  readonly written: WrittenRendition[];
  /** Renditions already current (their HEAD); undefined when none was asked (the catalogue said all are current). */
  current?: WrittenRendition[];
}

type Wanted = { preset: Preset; format: OutputFormat; key: string };

/**
 * The shard's images in flight are at most resize.concurrency (runShard), and fewer when they are
 * large: each is admitted by the memory budget before it is decoded.
 */
export async function resizeJob(ctx: JobContext, plan: Plan): Promise<ShardOutcome> {
  const { config } = ctx;
  const shard: ResizeShard = {
    ctx,
    plan,
    config,
    presets: config.presets.filter((p) => plan.presets.includes(p.name)),
    options: renderOptionsOf(config),
    log: ctx.log.child({ shard: ctx.shard, operation: 'resize' }),
    ...(isDenseWork(plan) ? { listings: new Map<string, ListingCursor>() } : {}),
    budget: new MemoryBudget(budgetBytes(ctx.memoryMiB)),
    records: shardRecords(ctx, plan.dryRun),
  };
  const { records } = shard;
  return runShard(ctx, 'resize', plan, {
    concurrency: config.resize.concurrency,
    handle: (item, tally) => handle(shard, item, tally),
    ...(records ? { finish: (tally: ShardTally) => records.finish(tally) } : {}),
  });
}

const recipe = (s: ResizeShard, preset: Preset, format: OutputFormat) => renditionRecipe(preset, format, s.config.resize);

/**
 * A rendition's recipe is today's, or (while the catalogue keeps them current: core/recipe.ts
 * acceptsLegacy) the base recipe a rendition made before the rendering policies carries.
 */
const isCurrentRecipe = (s: ResizeShard, w: Wanted, carried: string | undefined) =>
  carried === recipe(s, w.preset, w.format) || (carried === baseRecipe(w.preset, w.format, s.config.resize) && acceptsLegacy(w.preset, s.config, s.plan.full));

async function handle(s: ResizeShard, item: WorkItem, tally: ShardTally): Promise<void> {
  if (item.change === 'deleted') return prune(s, item, tally);
  if (item.prunePresets && !(await pruneRemovedPresets(s, item, tally))) return;
  if (!s.records) return resizeItem(s, item, tally);
  const notes: ItemNotes = { written: [] };
  const watched = watchOutcome(tally);
  let outcome: Outcome | undefined;
  try {
    await resizeItem(s, item, watched.tally, notes);
    outcome = watched.outcome();
  } catch (error) {
    // runShard tallies this failure: the record says the same.
    outcome = { fail: failure(item.key, 'internal-error', errorText(error)) };
    throw error;
  } finally {
    const queued = queuedRecord(s, item, outcome, notes);
    if (queued) s.records.add(queued);
  }
}

/**
 * The item's facts as its record keeps them: Last-Modified to the second, as S3 keeps it (a
 * listing shows `.000Z`) and as the store compares it (core/records/table.ts recordTime).
 */
function recordFacts(item: WorkItem): WorkItem {
  const seconds = new Date(Math.floor(Date.parse(item.lastModified) / 1000) * 1000).toISOString();
  return { ...item, lastModified: recordTime(seconds) };
}

type Outcome = { processed: true } | { skip: { code: string; message?: string } } | { fail: Failure };

/** The tally, seen through: the one outcome the item gets is kept for its record. */
function watchOutcome(tally: ShardTally): { tally: ShardTally; outcome: () => Outcome | undefined } {
  let outcome: Outcome | undefined;
  const seen: Partial<ShardTally> = {
    processed: () => ((outcome = { processed: true }), tally.processed()),
    skip: (key, code, message) => ((outcome = { skip: { code, message } }), tally.skip(key, code, message)),
    fail: (f) => ((outcome = { fail: f }), tally.fail(f)),
  };
  const proxy = new Proxy(tally, {
    get: (target, prop, receiver) => (prop in seen ? seen[prop as keyof ShardTally] : Reflect.get(target, prop, receiver)),
  });
  return { tally: proxy, outcome: () => outcome };
}

/** The item's record from its outcome, or what a backfill needs; undefined when it gets none (a dry run's). */
function queuedRecord(s: ResizeShard, item: WorkItem, outcome: Outcome | undefined, notes: ItemNotes): QueuedRecord | undefined {
  const facts = recordFacts(item);
  const context = s.records!.context(new Date().toISOString());
  const source = notes.facts && sourceDetailsOf(notes.facts);
  if (!outcome) return undefined;
  const { change } = item;
  if ('fail' in outcome) return { record: failedRecord(facts, outcome.fail, context, source), unlessRecorded: outcome.fail.retryable, change };
  if ('skip' in outcome) {
    if (outcome.skip.code === 'up-to-date') return { backfill: item, build: () => backfill(s, item, notes.current) };
    if (outcome.skip.code === 'dry-run') return undefined;
    return { record: skippedRecord(facts, { code: outcome.skip.code, message: outcome.skip.message ?? '' }, context, source), change };
  }
  const renditions = [...notes.written, ...(notes.current ?? [])].sort((a, b) => compareKeys(a.key, b.key));
  if (!source || !notes.placeholder || renditions.length === 0) return undefined;
  return { record: renderedRecord(facts, source, notes.placeholder, renditions, context, notes.rendering), change };
}

/** A record for an image whose renditions are current: theirs, their HEADs when not known yet; none when it has none. Throws when a read fails (jobs/src/records.ts). */
async function backfill(s: ResizeShard, item: WorkItem, known: WrittenRendition[] | undefined): Promise<ImageRecord | undefined> {
  const renditions = known ?? (await currentRenditions(s, item, wantedOf(s.presets, item))).filter((r): r is WrittenRendition => r !== undefined);
  if (renditions.length === 0) return undefined;
  return await backfillRecord(s.ctx.s3, s.config.buckets, recordFacts(item), renditions.sort((a, b) => compareKeys(a.key, b.key)), s.records!.context(new Date().toISOString()));
}

/** The item's rendition key: under its stem, or disambiguated when another image held the stem (core/keys.ts renditionKey). */
const keyOf = (item: WorkItem, preset: string, format: OutputFormat) => renditionKey(preset, item.key, format, item.collidesWith !== undefined);

const wantedOf = (presets: readonly Preset[], item: WorkItem): Wanted[] => presets.flatMap((preset) => preset.formats.map((format) => ({ preset, format, key: keyOf(item, preset.name, format) })));

async function resizeItem(s: ResizeShard, item: WorkItem, tally: ShardTally, notes?: ItemNotes): Promise<void> {
  const due = await dueRenditions(s, item, tally, notes);
  if (!due) return;
  const read = await readSource(s, item, tally);
  if (!read) return;
  const { body, object } = read;
  const admitted = await admit(s, item, body, tally);
  if (!admitted) return;
  if (notes) notes.facts = admitted.facts;
  let caveats: readonly { code: string; message: string }[] = [];
  try {
    const rendered = await renderDue(s, item, body, due.presets, admitted.facts, object, tally);
    if (!rendered) return;
    if (notes) [notes.placeholder, notes.rendering] = [rendered.placeholder, rendered.rendering];
    caveats = rendered.rendering.notes ?? [];
    try {
      await writeRenditions(s, item, rendered.renditions.filter((r) => due.keys.has(keyOf(item, r.preset, r.format))), due.presets, tally, due.seen, notes);
    } catch (error) {
      if (s.config.onUpload.enabled && (isPreconditionFailed(error) || isConditionalConflict(error))) return tally.fail(failure(item.key, 'source-changed', 'a newer original was rendered on upload while this one rendered: its renditions stay'));
      return tally.fail(failure(item.key, 'write-failed', errorText(error)));
    }
  } finally {
    admitted.release();
  }
  tally.processed();
  // Rendered, but a policy could not be applied as configured: the report counts it, the record says why.
  for (const c of caveats) tally.note(item.key, c.code, c.message);
  s.log.debug('rendered', { key: item.key, renditions: due.keys.size });
}

/**
 * The presets to render and the rendition keys to write, or undefined when the item's outcome is
 * already on the tally (skipped, up to date, a dry run's plan, or the check failed).
 */
async function dueRenditions(s: ResizeShard, item: WorkItem, tally: ShardTally, notes?: ItemNotes): Promise<{ presets: Preset[]; keys: Set<string>; seen: Seen } | undefined> {
  if (item.resizeSkip) return void tally.skip(item.key, item.resizeSkip.code, item.resizeSkip.message);
  // A backfill checks every preset: what it finds not current after all is rendered.
  const due = item.backfill ? [...s.presets] : s.presets.filter((p) => item.presets.includes(p.name));
  if (due.length === 0) return void tally.skip(item.key, 'up-to-date', 'every rendition is current (the catalogue says so): only the backup is due');
  const seen: Seen = new Map();
  // A record lists every rendition: the current ones of presets not due are asked too.
  const wanted = wantedOf(notes ? s.presets : due, item);
  let stale;
  try {
    const outputs = await staleOutputs(s, item, wanted, seen);
    stale = outputs.stale.filter((w) => due.includes(w.preset));
    if (notes) notes.current = outputs.current;
  } catch (error) {
    return void tally.fail(failure(item.key, 'read-failed', `checking existing renditions: ${errorText(error)}`));
  }
  if (stale.length === 0) return void tally.skip(item.key, 'up-to-date', 'every rendition already carries this source ETag and its recipe');
  if (s.plan.dryRun) return void tally.would({ key: item.key, operation: 'resize', action: 'render', bytes: item.size, renditions: stale.length }, `would write ${stale.length} rendition(s)`);
  return { presets: due.filter((p) => stale.some((st) => st.preset === p)), keys: new Set(stale.map((st) => st.key)), seen };
}

/**
 * The original, pinned to its catalogued ETag, and its user metadata (an uploader's focal point:
 * GetObject returns it, S3 API reference, GetObject response "x-amz-meta-*"); undefined when its
 * outcome is already on the tally (changed, gone, archived, wrong type).
 */
async function readSource(s: ResizeShard, item: WorkItem, tally: ShardTally): Promise<{ body: Buffer; object: ObjectFacts } | undefined> {
  try {
    const got = await s.ctx.s3.send(new GetObjectCommand({ Bucket: s.config.buckets.corpus, Key: item.key, IfMatch: item.etag }));
    const type = (got.ContentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (!GENERIC_CONTENT_TYPES.includes(type) && !s.config.filter.contentTypes.includes(type)) {
      got.Body?.transformToWebStream().cancel().catch(() => undefined);
      tally.fail(failure(item.key, 'content-type', `Content-Type ${JSON.stringify(type)} is not one of filter.contentTypes`));
      return undefined;
    }
    const body = await bodyBytes(got.Body as AsyncIterable<Uint8Array>, got.ContentLength);
    tally.bytesRead += body.length;
    return { body, object: { metadata: got.Metadata ?? {} } };
  } catch (error) {
    sourceReadOutcome(tally, item.key, error, 'read-failed');
    return undefined;
  }
}

/**
 * A GetObject body as one buffer, each chunk copied once into a buffer of the response's
 * Content-Length as it arrives (transformToByteArray keeps every chunk, then concatenates them:
 * the image twice at its peak, and Buffer.from of its result a third time).
 */
async function bodyBytes(body: AsyncIterable<Uint8Array>, length: number | undefined): Promise<Buffer> {
  if (length === undefined) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk);
    return Buffer.concat(chunks);
  }
  const bytes = Buffer.allocUnsafe(length);
  let at = 0;
  for await (const chunk of body) {
    if (at + chunk.length > length) throw new Error(`the body is longer than its Content-Length (${length} bytes)`);
    bytes.set(chunk, at);
    at += chunk.length;
  }
  if (at !== length) throw new Error(`the body ended after ${at} of its ${length} bytes`);
  return bytes;
}

/**
 * Reads the image's header (no pixel decoded) and waits until the memory budget has room for its
 * decode; undefined when its outcome is already on the tally: not an image, too many pixels, or
 * too large for the job's memory even alone. While an image waits here its compressed bytes are
 * held but not yet counted: at most resize.concurrency images' (runShard), each at most filter.maxBytes.
 */
async function admit(s: ResizeShard, item: WorkItem, body: Buffer, tally: ShardTally): Promise<{ facts: SourceFacts; release: () => void } | undefined> {
  let facts;
  try {
    facts = await inspect(body, s.options);
  } catch (error) {
    if (error instanceof RenderError) return void tally.fail(failure(item.key, error.code, error.message));
    throw error;
  }
  const cost = imageCostBytes(facts, body.length);
  if (!s.budget.fits(cost)) return void tally.fail(failure(item.key, 'too-large-for-memory', tooLargeForMemory(facts, cost, s.ctx.memoryMiB)));
  const release = await s.budget.acquire(cost);
  s.log.debug('admitted', { key: item.key, bytes: cost, budgetUsed: s.budget.used, budget: s.budget.capacity, images: s.budget.holders });
  return { facts, release };
}

/** Every due preset × format of the image; undefined when its failure is on the tally. */
async function renderDue(s: ResizeShard, item: WorkItem, body: Buffer, presets: readonly Preset[], facts: SourceFacts, object: ObjectFacts, tally: ShardTally): Promise<Rendered | undefined> {
  try {
    return await render(body, presets, s.options, facts, object);
  } catch (error) {
    if (error instanceof RenderError) return void tally.fail(failure(item.key, error.code, error.message));
    throw error;
  }
}

/**
 * The rendition as this job saw it (its ETag, or null: absent), kept by HEAD or the listing; not
 * asked (a forced run): undefined.
 */
type Seen = Map<string, string | null>;

/**
 * With the upload lane on, the lane may write a newer original's rendition between this job's
 * HEAD and its PUT: the PUT is conditional on what the HEAD saw (S3 user guide, "How to prevent
 * object overwrites with conditional writes"), so the night never overwrites it; the lane's own
 * writes are last by construction (functions/on-upload.ts checks the original after writing).
 */
function laneCondition(s: ResizeShard, seen: string | null | undefined): RenditionCondition | undefined {
  if (!s.config.onUpload.enabled || seen === undefined) return undefined;
  return seen === null ? { ifNoneMatch: '*' } : { ifMatch: seen };
}

/** Each rendition with the source ETag and recipe it was made from, which a later run compares (adapters/image/renditions.ts). */
async function writeRenditions(s: ResizeShard, item: WorkItem, renditions: readonly Rendition[], presetsUsed: readonly Preset[], tally: ShardTally, seen: Seen, notes?: ItemNotes): Promise<void> {
  await Promise.all(
    renditions.map(async (r) => {
      const written = await putRendition(s.ctx.s3, s.config, item, r, presetsUsed.find((p) => p.name === r.preset)!, laneCondition(s, seen.get(keyOf(item, r.preset, r.format))));
      tally.output(`${r.preset}/${r.format}`, r.data.length);
      notes?.written.push(written);
    }),
  );
}

/** On dense work, the listing cursor of one preset × format's key range, opened on first use. */
function listingOf(s: ResizeShard, preset: string, format: string): ListingCursor {
  const name = `${preset}/${format}`;
  let cursor = s.listings!.get(name);
  if (!cursor) s.listings!.set(name, (cursor = new ListingCursor(s.ctx.s3, s.config.buckets.renditions)));
  return cursor;
}

/**
 * The wanted renditions that are missing, or were made from another version of the source or with
 * another recipe (stale), and the rest as their HEAD describes them (current).
 */
async function staleOutputs(s: ResizeShard, item: WorkItem, wanted: Wanted[], seen?: Seen): Promise<{ stale: Wanted[]; current: WrittenRendition[] }> {
  if (s.plan.force) return { stale: wanted, current: [] };
  const found = await currentRenditions(s, item, wanted, true, seen);
  return { stale: wanted.filter((_, i) => !found[i]), current: found.filter((r): r is WrittenRendition => r !== undefined) };
}

/** Each wanted rendition if it carries this source ETag, its recipe and its size (HEAD); on dense work, only those the listing shows are asked. */
async function currentRenditions(s: ResizeShard, item: WorkItem, wanted: Wanted[], listed = false, seen?: Seen): Promise<(WrittenRendition | undefined)[]> {
  const etag = item.etag.replaceAll('"', '');
  return Promise.all(
    wanted.map(async (w) => {
      // undefined: the listing shows no such rendition; null: it cannot tell, so ask HEAD.
      if (listed && s.listings && (await listingOf(s, w.preset.name, w.format).find(w.key)) === undefined) return void seen?.set(w.key, null);
      try {
        const head = await s.ctx.s3.send(new HeadObjectCommand({ Bucket: s.config.buckets.renditions, Key: w.key }));
        seen?.set(w.key, head.ETag ?? null);
        const current = head.Metadata?.[SOURCE_ETAG_META] === etag && isCurrentRecipe(s, w, head.Metadata?.[RECIPE_META]);
        return current ? renditionFromHead(w, head) : undefined;
      } catch (error) {
        if (isNotFound(error)) return void seen?.set(w.key, null);
        throw error;
      }
    }),
  );
}

/** The upload lane's removal marker of this version of the original, if there is one. */
async function dropLaneMarker(s: ResizeShard, item: WorkItem): Promise<void> {
  const marker = await getJsonIfExists<LaneRemoval>(s.ctx.s3, s.config.buckets.work, laneMarkerKey(item.key));
  if (marker?.value.etag !== item.etag) return;
  await s.ctx.s3.send(new DeleteObjectCommand({ Bucket: s.config.buckets.work, Key: laneMarkerKey(item.key), IfMatch: marker.etag })).catch((error: unknown) => {
    // Rewritten meanwhile (another removal) or gone: not this prune's.
    if (!isPreconditionFailed(error) && !isNotFound(error)) throw error;
  });
}

/**
 * A deleted original's renditions: for each preset it was rendered with, those made from this
 * original (its source ETag) are deleted (deleteRenditions), found under `<preset>/<stem>.`
 * (`<preset>/<key>/.` for disambiguated keys). Its record is deleted with them.
 */
async function prune(s: ResizeShard, item: WorkItem, tally: ShardTally): Promise<void> {
  const { plan, log } = s;
  const etag = item.etag.replaceAll('"', '');
  let deleted: string[];
  try {
    deleted = await deleteRenditions(s, item, item.presets, (head) => head.Metadata?.[SOURCE_ETAG_META] === etag);
    // The record goes in the same step (if it still describes this version), so that an
    // application never finds a record whose renditions are gone; then the upload lane's marker
    // of this removal, if any (core/upload-lane.ts), its prune done.
    await s.records?.remove(item);
    if (!plan.dryRun) await dropLaneMarker(s, item);
  } catch (error) {
    return tally.fail(failure(item.key, 'prune-failed', `pruning the renditions of a deleted original: ${errorText(error)}`));
  }
  if (plan.dryRun) return tally.would({ key: item.key, operation: 'resize', action: 'prune', bytes: 0, renditions: deleted.length }, `would prune ${deleted.length} rendition(s) of a deleted original`);
  if (deleted.length === 0) return tally.skip(item.key, 'nothing-to-prune', 'the original was deleted and no rendition made from it was found');
  tally.prunedRenditions(item.key, deleted);
  log.info('pruned', { key: item.key, renditions: deleted.length });
}

/**
 * The renditions of presets removed from the configuration and confirmed in
 * renditions.removePresets: every one under the image's stem, whichever version of it made them
 * (the stem is this image's: it owned it). False when the failure is on the tally.
 */
async function pruneRemovedPresets(s: ResizeShard, item: WorkItem, tally: ShardTally): Promise<boolean> {
  try {
    const deleted = await deleteRenditions(s, item, item.prunePresets ?? [], () => true);
    s.log.info(s.plan.dryRun ? 'would prune the renditions of removed presets' : 'pruned the renditions of removed presets', { key: item.key, presets: item.prunePresets, renditions: deleted.length });
    return true;
  } catch (error) {
    tally.fail(failure(item.key, 'prune-failed', `pruning the renditions of removed presets (${item.prunePresets!.join(', ')}): ${errorText(error)}`));
    return false;
  }
}

/**
 * For each preset, the listing of `<preset>/<stem>.` finds the image's renditions in every format
 * (a format since removed from the preset too); each that `matches` its HEAD is deleted only if it
 * is still the object that HEAD saw (DeleteObject with If-Match), so a rendition another image
 * wrote in the meantime is never deleted. A dry run deletes nothing. Returns the keys deleted.
 */
async function deleteRenditions(s: ResizeShard, item: WorkItem, presets: readonly string[], matches: (head: HeadObjectCommandOutput) => boolean): Promise<string[]> {
  const { ctx, config, plan } = s;
  const deleted: string[] = [];
  for (const preset of presets) {
    const prefix = renditionPrefix(preset, item.key, item.collidesWith !== undefined);
    for await (const page of listPages(ctx.s3, { bucket: config.buckets.renditions, prefix })) {
      for (const listed of page.objects) {
        const key = listed.Key!;
        // Another image's: `a.b.jpg` renders to `<preset>/a.b.*`, a newcomer `a.png` beside `a.jpg` to `<preset>/a.png/.*`.
        if (!RENDITION_EXTENSIONS.has(key.slice(prefix.length))) continue;
        const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: config.buckets.renditions, Key: key })).catch((error: unknown) => {
          if (isNotFound(error)) return undefined;
          throw error;
        });
        if (!head || !matches(head)) continue;
        if (plan.dryRun || (await deleteIfUnchanged(s, key, head.ETag))) deleted.push(key);
      }
    }
  }
  return deleted;
}

/** Deletes a rendition if it is still the object its HEAD saw; false when it was rewritten or is gone. */
async function deleteIfUnchanged(s: ResizeShard, key: string, etag: string | undefined): Promise<boolean> {
  try {
    await s.ctx.s3.send(new DeleteObjectCommand({ Bucket: s.config.buckets.renditions, Key: key, IfMatch: etag }));
    return true;
  } catch (error) {
    // Rewritten since the HEAD (412) or gone already (404): not ours to delete.
    // 409 ConditionalRequestConflict: another conditional write to the key was in flight
    // (S3 user guide, "How to prevent object overwrites with conditional writes"), so
    // whose rendition it is cannot be told now: the prune fails (retryable), keeping the
    // state that it is due, and the next run checks again.
    if (isConditionalConflict(error)) throw new Error(`another conditional write to ${key} was in progress (409 ConditionalRequestConflict): left for the next run`);
    if (!isPreconditionFailed(error) && !isNotFound(error)) throw error;
    return false;
  }
}
