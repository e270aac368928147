/**
 * Writing renditions: one place for the metadata a later run compares (the source ETag and the
 * recipe) and the size the records need, so that the resize job and the upload lane write the same
 * objects and each sees the other's as current (core/recipe.ts).
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { PipelineConfig, Preset } from '../../core/config';
import { FORMAT_CONTENT_TYPE, renditionKey } from '../../core/keys';
import { renditionRecipe } from '../../core/recipe';
import type { WrittenRendition } from '../../core/records/record';
import type { Rendition } from './render';

/** User-metadata name of the source ETag on every rendition (`x-amz-meta-source-etag`). */
export const SOURCE_ETAG_META = 'source-etag';
/** User-metadata name of the recipe a rendition was made with (`x-amz-meta-recipe`). */
export const RECIPE_META = 'recipe';

/** A conditional write (S3 API reference, PutObject If-Match / If-None-Match): 412 PreconditionFailed when it does not hold. */
export type RenditionCondition = { readonly ifMatch: string } | { readonly ifNoneMatch: '*' };

/** Writes one rendition of `source` (its ETag as S3 gives it) with its Content-Type, Cache-Control and metadata. */
export async function putRendition(s3: S3Client, config: Pick<PipelineConfig, 'buckets' | 'resize'>, source: { key: string; etag: string; collidesWith?: string }, r: Rendition, preset: Preset, condition?: RenditionCondition): Promise<WrittenRendition> {
  // A newcomer beside the image that holds its stem renders under disambiguated keys (core/keys.ts).
  const key = renditionKey(r.preset, source.key, r.format, source.collidesWith !== undefined);
  const put = await s3.send(
    new PutObjectCommand({
      Bucket: config.buckets.renditions,
      Key: key,
      Body: r.data,
      ContentType: FORMAT_CONTENT_TYPE[r.format],
      CacheControl: config.resize.cacheControl,
      ...(condition && 'ifMatch' in condition ? { IfMatch: condition.ifMatch } : {}),
      ...(condition && 'ifNoneMatch' in condition ? { IfNoneMatch: condition.ifNoneMatch } : {}),
      Metadata: { [SOURCE_ETAG_META]: source.etag.replaceAll('"', ''), [RECIPE_META]: renditionRecipe(preset, r.format, config.resize), width: String(r.width), height: String(r.height) },
    }),
  );
  return { preset: r.preset, format: r.format, key, width: r.width, height: r.height, bytes: r.data.length, etag: put.ETag! };
}
