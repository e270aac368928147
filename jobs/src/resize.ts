/**
 * resize: for each new or changed image of its shard, one GET, one decode, every preset × format
 * written to the renditions bucket with the right Content-Type, a long Cache-Control and the
 * source ETag in user metadata. A rendition that already carries the same source ETag is not
 * written again; an image whose renditions are all current is skipped.
 *
 * Which renditions exist is asked with HeadObject (the source ETag is in user metadata, which only
 * HEAD returns). On dense work (a first or full run: see isDenseWork) each preset × format's key
 * range is listed first, and only renditions the listing shows are HEADed: on a first run, none.
 */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Preset } from '../../core/config';
import type { WorkItem } from '../../core/catalog';
import { FORMAT_CONTENT_TYPE, renditionKey } from '../../core/keys';
import { ARCHIVED_MESSAGE, failure, isDenseWork, type Plan, type ShardTally } from '../../core/results';
import { errorText, isArchived, isNotFound, isPreconditionFailed, ListingCursor } from '../../adapters/s3';
import type { JobContext } from './context';
import { render, RenderError, type RenderOptions } from './render';
import { runShard, type ShardOutcome } from './shard';

/** User-metadata name of the source ETag on every rendition (`x-amz-meta-source-etag`). */
export const SOURCE_ETAG_META = 'source-etag';

const GENERIC_CONTENT_TYPES = ['application/octet-stream', 'binary/octet-stream', ''];

export async function resizeJob(ctx: JobContext, plan: Plan): Promise<ShardOutcome> {
  const { config } = ctx;
  const presets = config.presets.filter((p) => plan.presets.includes(p.name));
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
    if (item.resizeSkip) return tally.skip(item.key, item.resizeSkip.code, item.resizeSkip.message);
    const wanted = presets.flatMap((preset) => preset.formats.map((format) => ({ preset, format, key: renditionKey(preset.name, item.key, format) })));
    let stale;
    try {
      stale = await staleOutputs(item, wanted);
    } catch (error) {
      return tally.fail(failure(item.key, 'read-failed', `checking existing renditions: ${errorText(error)}`));
    }
    if (stale.length === 0) return tally.skip(item.key, 'up-to-date', 'every rendition already carries this source ETag');
    if (plan.dryRun) return tally.skip(item.key, 'dry-run', `would write ${stale.length} rendition(s)`);

    let body: Buffer;
    try {
      const got = await ctx.s3.send(new GetObjectCommand({ Bucket: config.buckets.corpus, Key: item.key, IfMatch: item.etag }));
      const type = (got.ContentType ?? '').split(';')[0]!.trim().toLowerCase();
      if (!GENERIC_CONTENT_TYPES.includes(type) && !config.filter.contentTypes.includes(type)) {
        got.Body?.transformToWebStream().cancel().catch(() => undefined);
        return tally.fail(failure(item.key, 'content-type', `Content-Type ${JSON.stringify(type)} is not one of filter.contentTypes`));
      }
      body = Buffer.from(await got.Body!.transformToByteArray());
    } catch (error) {
      if (isPreconditionFailed(error)) return tally.fail(failure(item.key, 'source-changed', 'the object changed after it was catalogued'));
      if (isNotFound(error)) return tally.fail(failure(item.key, 'source-missing', 'the object was deleted after it was catalogued'));
      if (isArchived(error)) return tally.skip(item.key, 'archived', ARCHIVED_MESSAGE);
      return tally.fail(failure(item.key, 'read-failed', errorText(error)));
    }
    tally.bytesRead += body.length;

    const needed = presets.filter((p) => stale.some((s) => s.preset === p));
    let renditions;
    try {
      ({ renditions } = await render(body, needed, options));
    } catch (error) {
      if (error instanceof RenderError) return tally.fail(failure(item.key, error.code, error.message));
      throw error;
    }
    const staleKeys = new Set(stale.map((s) => s.key));
    try {
      await Promise.all(
        renditions.map(async (r) => {
          const key = renditionKey(r.preset, item.key, r.format);
          if (!staleKeys.has(key)) return;
          await ctx.s3.send(
            new PutObjectCommand({
              Bucket: config.buckets.renditions,
              Key: key,
              Body: r.data,
              ContentType: FORMAT_CONTENT_TYPE[r.format],
              CacheControl: config.resize.cacheControl,
              Metadata: { [SOURCE_ETAG_META]: item.etag.replaceAll('"', ''), width: String(r.width), height: String(r.height) },
            }),
          );
          tally.output(`${r.preset}/${r.format}`, r.data.length);
        }),
      );
    } catch (error) {
      return tally.fail(failure(item.key, 'write-failed', errorText(error)));
    }
    tally.processed();
    log.debug('rendered', { key: item.key, renditions: staleKeys.size });
  }

  /** The wanted renditions that are missing or were made from another version of the source. */
  async function staleOutputs(item: WorkItem, wanted: { preset: Preset; format: string; key: string }[]) {
    const etag = item.etag.replaceAll('"', '');
    const current = await Promise.all(
      wanted.map(async (w) => {
        // undefined: the listing shows no such rendition; null: it cannot tell, so ask HEAD.
        if (listings && (await listingOf(w.preset.name, w.format).find(w.key)) === undefined) return false;
        try {
          const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: config.buckets.renditions, Key: w.key }));
          return head.Metadata?.[SOURCE_ETAG_META] === etag;
        } catch (error) {
          if (isNotFound(error)) return false;
          throw error;
        }
      }),
    );
    return wanted.filter((_, i) => !current[i]);
  }

  return runShard(ctx, 'resize', plan, { concurrency: config.resize.concurrency, handle });
}
