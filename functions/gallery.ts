/**
 * The report's gallery: a sample of the run's processed images, spread over the shards, each with
 * its smallest rendition inlined as a data: URI (so report.html stays one file) and the size of
 * every rendition written. Bounded: GALLERY_IMAGES images, thumbnails of at most THUMBNAIL_BYTES
 * each and GALLERY_BYTES in all.
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { FORMAT_CONTENT_TYPE, renditionKey, runKeys } from '../core/keys';
import type { PipelineConfig } from '../core/config';
import { parseRecordLine, type WorkItem } from '../core/catalog';
import type { Report } from '../core/report';
import type { GalleryItem } from '../core/report-html';
import type { Plan } from '../core/plan';
import { isNotFound, readLines } from '../adapters/s3';

export const GALLERY_IMAGES = 24;
export const THUMBNAIL_BYTES = 48 * 1024;
export const GALLERY_BYTES = 512 * 1024;

export async function collectGallery(s3: S3Client, config: PipelineConfig, plan: Plan, report: Report): Promise<GalleryItem[]> {
  const resize = report.operations.resize;
  if (plan.dryRun || !resize || resize.processed === 0) return [];
  const presets = config.presets.filter((p) => plan.presets.includes(p.name));
  if (presets.length === 0) return [];
  const notProcessed = new Set(report.failures.filter((f) => f.operation === 'resize').map((f) => f.key));
  const keys = await sampleKeys(s3, config, plan, notProcessed);
  // The smallest preset, in its most compact format, makes the thumbnail.
  const smallest = [...presets].sort((a, b) => a.width - b.width)[0]!;
  const thumbFormat = (['webp', 'avif', 'jpeg', 'png', 'gif'] as const).find((f) => smallest.formats.includes(f))!;
  const limit = pLimit(16);
  let budget = GALLERY_BYTES;
  const items = await Promise.all(
    keys.map(async (key): Promise<GalleryItem | undefined> => {
      const renditions = await Promise.all(
        presets.flatMap((p) =>
          p.formats.map((format) =>
            limit(async () => {
              try {
                const head = await s3.send(new HeadObjectCommand({ Bucket: config.buckets.renditions, Key: renditionKey(p.name, key, format) }));
                return { name: `${p.name}/${format}`, bytes: head.ContentLength ?? 0, width: Number(head.Metadata?.width) || undefined, height: Number(head.Metadata?.height) || undefined };
              } catch (error) {
                if (isNotFound(error)) return undefined; // skipped as up to date by an earlier run, then removed
                throw error;
              }
            }),
          ),
        ),
      );
      const written = renditions.filter((r) => r !== undefined);
      if (written.length === 0) return undefined;
      const thumb = written.find((r) => r.name === `${smallest.name}/${thumbFormat}`);
      let thumbnail: GalleryItem['thumbnail'];
      if (thumb && thumb.bytes <= THUMBNAIL_BYTES && thumb.bytes <= budget) {
        budget -= thumb.bytes;
        const got = await limit(() => s3.send(new GetObjectCommand({ Bucket: config.buckets.renditions, Key: renditionKey(smallest.name, key, thumbFormat) })));
        const data = Buffer.from(await got.Body!.transformToByteArray());
        thumbnail = { dataUri: `data:${FORMAT_CONTENT_TYPE[thumbFormat]};base64,${data.toString('base64')}`, width: thumb.width ?? smallest.width, height: thumb.height ?? smallest.width, rendition: thumb.name };
      }
      return { key, ...(thumbnail ? { thumbnail } : {}), renditions: written };
    }),
  );
  return items.filter((i) => i !== undefined);
}

/** Up to GALLERY_IMAGES keys the resize processed, taken evenly from shards spread over the run. */
async function sampleKeys(s3: S3Client, config: PipelineConfig, plan: Plan, notProcessed: ReadonlySet<string>): Promise<string[]> {
  const shards = Math.min(plan.shardCount, GALLERY_IMAGES);
  const perShard = Math.ceil(GALLERY_IMAGES / Math.max(1, shards));
  const picked = await Promise.all(
    Array.from({ length: shards }, async (_, i) => {
      const shard = Math.floor((i * plan.shardCount) / shards);
      const manifest = runKeys(plan.runId).shard(shard);
      const keys: string[] = [];
      let line = 0;
      for await (const text of await readLines(s3, config.buckets.work, manifest)) {
        const item = parseRecordLine<WorkItem>(text, `${manifest} line ${++line}`);
        // Read to the end (a manifest is a few hundred lines) so the response stream is drained.
        // Rendered tonight: not skipped, not a prune, some preset due (older manifests have no `presets`);
        // under its own stem's keys (a newcomer's disambiguated keys are left out of the sample).
        const rendered = !item.resizeSkip && item.change !== 'deleted' && (item.presets === undefined || item.presets.length > 0) && item.collidesWith === undefined;
        if (keys.length < perShard && rendered && !notProcessed.has(item.key)) keys.push(item.key);
      }
      return keys;
    }),
  );
  return picked.flat().slice(0, GALLERY_IMAGES);
}
