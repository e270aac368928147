/**
 * Records for images whose renditions are all current but that have none (the first run after
 * records landed): built without re-rendering, from the renditions' HEADs (their size is in user
 * metadata), one GET of the smallest rendition (the placeholder) and one ranged GET of the
 * original's first bytes (the source's header).
 */
import { GetObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { OutputFormat } from '../../core/config';
import type { WorkItem } from '../../core/catalog';
import { renderedRecord, type RecordContext, type RenderedRecord, type SourceDetails, type WrittenRendition } from '../../core/records/record';
import { placeholderFrom } from '../../adapters/image/placeholder';
import { inspect, sourceDetailsOf } from '../../adapters/image/render';

/** What a header read takes first: enough for JPEG (EXIF included), PNG, WebP, TIFF and most HEIC. */
export const HEADER_PREFIX_BYTES = 64 * 1024;
/** The second read when the first was not enough (a large EXIF or HEIF meta box). */
const HEADER_RETRY_BYTES = 1024 * 1024;
/** Formats whose frame count only the whole file tells (libvips counts the frames). */
const FRAMES_NEED_WHOLE_FILE = new Set(['gif', 'webp']);

/** A rendition as its HEAD describes it; undefined when its metadata lacks its size (made before sizes were recorded). */
export function renditionFromHead(w: { preset: { name: string }; format: OutputFormat; key: string }, head: HeadObjectCommandOutput): WrittenRendition | undefined {
  const width = Number(head.Metadata?.width);
  const height = Number(head.Metadata?.height);
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0) || head.ContentLength === undefined || !head.ETag) return undefined;
  return { preset: w.preset.name, format: w.format, key: w.key, width, height, bytes: head.ContentLength, etag: head.ETag };
}

async function getBytes(s3: S3Client, bucket: string, key: string, options: { etag?: string; range?: string } = {}): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: options.etag, Range: options.range }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

/**
 * The original's header from its first bytes (pinned to the catalogued ETag): 64 KiB, then 1 MiB
 * when sharp cannot read that, and the whole file for GIF and WebP, whose frames only it counts.
 */
export async function sourceFromPrefix(s3: S3Client, bucket: string, item: Pick<WorkItem, 'key' | 'etag' | 'size'>): Promise<SourceDetails> {
  let bytes = HEADER_PREFIX_BYTES;
  for (;;) {
    const whole = bytes >= item.size;
    const prefix = await getBytes(s3, bucket, item.key, { etag: item.etag, ...(whole ? {} : { range: `bytes=0-${bytes - 1}` }) });
    const facts = await inspect(prefix, { maxPixels: Number.MAX_SAFE_INTEGER }).catch((error: unknown) => {
      if (whole) throw error;
      return undefined;
    });
    if (facts && (whole || !FRAMES_NEED_WHOLE_FILE.has(facts.format))) return sourceDetailsOf(facts);
    bytes = facts || bytes >= HEADER_RETRY_BYTES ? Infinity : HEADER_RETRY_BYTES;
  }
}

/** The rendered record of an image from its current renditions (at least one), without rendering it. */
export async function backfillRecord(s3: S3Client, buckets: { corpus: string; renditions: string }, item: WorkItem, renditions: readonly WrittenRendition[], context: RecordContext): Promise<RenderedRecord> {
  const smallest = [...renditions].sort((a, b) => a.width * a.height - b.width * b.height || a.bytes - b.bytes)[0]!;
  const [placeholder, source] = await Promise.all([placeholderFrom(await getBytes(s3, buckets.renditions, smallest.key, { etag: smallest.etag })), sourceFromPrefix(s3, buckets.corpus, item)]);
  return renderedRecord(item, source, placeholder, renditions, context);
}
