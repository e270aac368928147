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
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { OUTPUT_FORMATS, type OutputFormat, type Preset } from '../../core/config';
import type { WorkItem } from '../../core/catalog';
import { FORMAT_CONTENT_TYPE, renditionKey, stripExtension } from '../../core/keys';
import { renditionRecipe } from '../../core/recipe';
import { isDenseWork, type Plan } from '../../core/plan';
import { failure } from '../../core/failures';
import { type ShardTally } from '../../core/results';
import { errorText, isConditionalConflict, isNotFound, isPreconditionFailed, listPages, ListingCursor } from '../../adapters/s3';
import type { JobContext } from './context';
import { render, RenderError, type RenderOptions, type Rendition } from './render';
import { runShard, type ShardOutcome, sourceReadOutcome } from './shard';

/** User-metadata name of the source ETag on every rendition (`x-amz-meta-source-etag`). */
export const SOURCE_ETAG_META = 'source-etag';
/** User-metadata name of the recipe a rendition was made with (`x-amz-meta-recipe`). */
export const RECIPE_META = 'recipe';

/** The file extension of each format's renditions, to recognise them in a listing. */
const RENDITION_EXTENSIONS = new Set(OUTPUT_FORMATS.map((f) => renditionKey('p', 'x', f).slice('p/x.'.length)));

const GENERIC_CONTENT_TYPES = ['application/octet-stream', 'binary/octet-stream', ''];

/**
 * One closure per shard, long on purpose: the steps inside it share the shard's configuration,
 * presets and counters, and each is short.
 */
export async function resizeJob(ctx: JobContext, plan: Plan): Promise<ShardOutcome> {
  const { config } = ctx;
  const presets = config.presets.filter((p) => plan.presets.includes(p.name));
  const recipe = (preset: Preset, format: OutputFormat) => renditionRecipe(preset, format, config.resize);
  const options: RenderOptions = { maxPixels: config.filter.maxPixels, failOn: config.resize.failOn, webpEffort: config.resize.webpEffort, avifEffort: config.resize.avifEffort };
  const log = ctx.log.child({ shard: ctx.shard, operation: 'resize' });
  const listings = isDenseWork(plan) ? new Map<string, ListingCursor>() : undefined;
  const listingOf = (preset: string, format: string) => {
    const name = `${preset}/${format}`;
    let cursor = listings!.get(name);
    if (!cursor) listings!.set(name, (cursor = new ListingCursor(ctx.s3, config.buckets.renditions)));
    return cursor;
  };

  async function handle(item: WorkItem, tally: ShardTally): Promise<void> {
    if (item.change === 'deleted') return prune(item, tally);
    if (item.resizeSkip) return tally.skip(item.key, item.resizeSkip.code, item.resizeSkip.message);
    const due = presets.filter((p) => item.presets.includes(p.name));
    if (due.length === 0) return tally.skip(item.key, 'up-to-date', 'every rendition is current (the catalogue says so): only the backup is due');
    const wanted = due.flatMap((preset) => preset.formats.map((format) => ({ preset, format, key: renditionKey(preset.name, item.key, format) })));
    let stale;
    try {
      stale = await staleOutputs(item, wanted);
    } catch (error) {
      return tally.fail(failure(item.key, 'read-failed', `checking existing renditions: ${errorText(error)}`));
    }
    if (stale.length === 0) return tally.skip(item.key, 'up-to-date', 'every rendition already carries this source ETag and its recipe');
    if (plan.dryRun) return tally.would({ key: item.key, operation: 'resize', action: 'render', bytes: item.size, renditions: stale.length }, `would write ${stale.length} rendition(s)`);

    const body = await readSource(item, tally);
    if (!body) return;

    const needed = due.filter((p) => stale.some((s) => s.preset === p));
    let renditions;
    try {
      ({ renditions } = await render(body, needed, options));
    } catch (error) {
      if (error instanceof RenderError) return tally.fail(failure(item.key, error.code, error.message));
      throw error;
    }
    const staleKeys = new Set(stale.map((s) => s.key));
    try {
      await writeRenditions(item, renditions.filter((r) => staleKeys.has(renditionKey(r.preset, item.key, r.format))), needed, tally);
    } catch (error) {
      return tally.fail(failure(item.key, 'write-failed', errorText(error)));
    }
    tally.processed();
    log.debug('rendered', { key: item.key, renditions: staleKeys.size });
  }

  /** The original, pinned to its catalogued ETag; undefined when its outcome is already on the tally (changed, gone, archived, wrong type). */
  async function readSource(item: WorkItem, tally: ShardTally): Promise<Buffer | undefined> {
    try {
      const got = await ctx.s3.send(new GetObjectCommand({ Bucket: config.buckets.corpus, Key: item.key, IfMatch: item.etag }));
      const type = (got.ContentType ?? '').split(';')[0]!.trim().toLowerCase();
      if (!GENERIC_CONTENT_TYPES.includes(type) && !config.filter.contentTypes.includes(type)) {
        got.Body?.transformToWebStream().cancel().catch(() => undefined);
        tally.fail(failure(item.key, 'content-type', `Content-Type ${JSON.stringify(type)} is not one of filter.contentTypes`));
        return undefined;
      }
      const body = Buffer.from(await got.Body!.transformToByteArray());
      tally.bytesRead += body.length;
      return body;
    } catch (error) {
      sourceReadOutcome(tally, item.key, error, 'read-failed');
      return undefined;
    }
  }

  /** Each rendition with the source ETag and recipe it was made from, which a later run compares. */
  async function writeRenditions(item: WorkItem, renditions: readonly Rendition[], presetsUsed: readonly Preset[], tally: ShardTally): Promise<void> {
    await Promise.all(
      renditions.map(async (r) => {
        await ctx.s3.send(
          new PutObjectCommand({
            Bucket: config.buckets.renditions,
            Key: renditionKey(r.preset, item.key, r.format),
            Body: r.data,
            ContentType: FORMAT_CONTENT_TYPE[r.format],
            CacheControl: config.resize.cacheControl,
            Metadata: { [SOURCE_ETAG_META]: item.etag.replaceAll('"', ''), [RECIPE_META]: recipe(presetsUsed.find((p) => p.name === r.preset)!, r.format), width: String(r.width), height: String(r.height) },
          }),
        );
        tally.output(`${r.preset}/${r.format}`, r.data.length);
      }),
    );
  }

  /** The wanted renditions that are missing, or were made from another version of the source or with another recipe. */
  async function staleOutputs(item: WorkItem, wanted: { preset: Preset; format: OutputFormat; key: string }[]) {
    if (plan.force) return wanted;
    const etag = item.etag.replaceAll('"', '');
    const current = await Promise.all(
      wanted.map(async (w) => {
        // undefined: the listing shows no such rendition; null: it cannot tell, so ask HEAD.
        if (listings && (await listingOf(w.preset.name, w.format).find(w.key)) === undefined) return false;
        try {
          const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: config.buckets.renditions, Key: w.key }));
          return head.Metadata?.[SOURCE_ETAG_META] === etag && head.Metadata?.[RECIPE_META] === recipe(w.preset, w.format);
        } catch (error) {
          if (isNotFound(error)) return false;
          throw error;
        }
      }),
    );
    return wanted.filter((_, i) => !current[i]);
  }

  /**
   * A deleted original's renditions: for each preset it was rendered with, the listing of
   * `<preset>/<stem>.` finds its renditions in every format (a format since removed from the preset
   * too); each is deleted only if it was made from this original (its source ETag) and is still
   * the object that HEAD saw (DeleteObject with If-Match), so a rendition another image wrote in
   * the meantime is never deleted.
   */
  async function prune(item: WorkItem, tally: ShardTally): Promise<void> {
    const etag = item.etag.replaceAll('"', '');
    const stem = stripExtension(item.key);
    const deleted: string[] = [];
    try {
      for (const preset of item.presets) {
        const prefix = `${preset}/${stem}.`;
        for await (const page of listPages(ctx.s3, { bucket: config.buckets.renditions, prefix })) {
          for (const listed of page.objects) {
            const key = listed.Key!;
            if (!RENDITION_EXTENSIONS.has(key.slice(prefix.length))) continue; // another image's (`a.b.jpg` renders to `<preset>/a.b.*`)
            const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: config.buckets.renditions, Key: key })).catch((error: unknown) => {
              if (isNotFound(error)) return undefined;
              throw error;
            });
            if (head?.Metadata?.[SOURCE_ETAG_META] !== etag) continue;
            if (plan.dryRun) {
              deleted.push(key);
              continue;
            }
            try {
              await ctx.s3.send(new DeleteObjectCommand({ Bucket: config.buckets.renditions, Key: key, IfMatch: head.ETag }));
              deleted.push(key);
            } catch (error) {
              // Rewritten since the HEAD (412) or gone already (404): not this original's to delete.
              // 409 ConditionalRequestConflict: another conditional write to the key was in flight
              // (S3 user guide, "How to prevent object overwrites with conditional writes"), so
              // whose rendition it is cannot be told now: the prune fails (retryable), keeping the
              // original's tombstone, and the next run checks again.
              if (isConditionalConflict(error)) throw new Error(`another conditional write to ${key} was in progress (409 ConditionalRequestConflict): left for the next run`);
              if (!isPreconditionFailed(error) && !isNotFound(error)) throw error;
            }
          }
        }
      }
    } catch (error) {
      return tally.fail(failure(item.key, 'prune-failed', `pruning the renditions of a deleted original: ${errorText(error)}`));
    }
    if (plan.dryRun) return tally.would({ key: item.key, operation: 'resize', action: 'prune', bytes: 0, renditions: deleted.length }, `would prune ${deleted.length} rendition(s) of a deleted original`);
    if (deleted.length === 0) return tally.skip(item.key, 'nothing-to-prune', 'the original was deleted and no rendition made from it was found');
    tally.prunedRenditions(item.key, deleted);
    log.info('pruned', { key: item.key, renditions: deleted.length });
  }

  return runShard(ctx, 'resize', plan, { concurrency: config.resize.concurrency, handle });
}
