/**
 * backup: for each new or changed original of its shard, a server-side copy into the backup bucket
 * (same key, configured storage class). Bytes never pass through the worker: CopyObject up to the
 * multipart threshold (S3 allows 5 GiB), UploadPartCopy above it. Every copy is pinned to the
 * catalogued version with CopySourceIfMatch and verified with HeadObject afterwards. A key whose
 * backup already holds this version is skipped.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import type { WorkItem } from '../../core/catalog';
import { copySource } from '../../core/keys';
import { failure, type Plan, type ShardTally } from '../../core/results';
import { errorText, isNotFound, isPreconditionFailed } from '../../adapters/s3';
import type { JobContext } from './context';
import { runShard, type ShardOutcome } from './shard';

/** User-metadata name of the source ETag on multipart backups, whose own ETag differs from the source's. */
export const BACKUP_SOURCE_ETAG_META = 'source-etag';

const PART_COPIES_PER_OBJECT = 8;

export async function backupJob(ctx: JobContext, plan: Plan): Promise<ShardOutcome> {
  const { config } = ctx;
  const { corpus, backup } = config.buckets;
  const { storageClass, multipartThresholdBytes, partSizeBytes } = config.backup;

  async function handle(item: WorkItem, tally: ShardTally): Promise<void> {
    let existing: HeadObjectCommandOutput | undefined;
    try {
      existing = await head(backup, item.key);
    } catch (error) {
      return tally.fail(failure(item.key, 'read-failed', `checking the existing backup: ${errorText(error)}`));
    }
    if (existing && holdsVersion(existing, item)) return tally.skip(item.key, 'up-to-date', 'the backup already holds this version');
    if (plan.dryRun) return tally.skip(item.key, 'dry-run', `would copy ${item.size} bytes`);

    let written: { etag: string };
    try {
      written = item.size > multipartThresholdBytes ? await multipartCopy(item) : await singleCopy(item);
    } catch (error) {
      if (isPreconditionFailed(error)) return tally.fail(failure(item.key, 'source-changed', 'the object changed after it was catalogued'));
      if (isNotFound(error)) return tally.fail(failure(item.key, 'source-missing', 'the object was deleted after it was catalogued'));
      if ((error as { name?: string }).name === 'InvalidObjectState') return tally.fail(failure(item.key, 'archived', 'the object is archived: restore it first'));
      return tally.fail(failure(item.key, 'copy-failed', errorText(error)));
    }

    let copy: HeadObjectCommandOutput | undefined;
    try {
      copy = await head(backup, item.key);
    } catch (error) {
      return tally.fail(failure(item.key, 'verify-failed', `reading the copy back: ${errorText(error)}`));
    }
    if (!copy) return tally.fail(failure(item.key, 'verify-failed', 'the copy is not there after writing it'));
    if (copy.ContentLength !== item.size || copy.ETag !== written.etag) {
      return tally.fail(failure(item.key, 'verify-failed', `the copy has ${copy.ContentLength} bytes and ETag ${copy.ETag}; expected ${item.size} bytes and ETag ${written.etag}`));
    }
    tally.bytesWritten += item.size;
    tally.processed();
  }

  async function head(bucket: string, key: string): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async function singleCopy(item: WorkItem): Promise<{ etag: string }> {
    const out = await ctx.s3.send(
      new CopyObjectCommand({
        Bucket: backup,
        Key: item.key,
        CopySource: copySource(corpus, item.key),
        CopySourceIfMatch: item.etag,
        StorageClass: storageClass,
        MetadataDirective: 'COPY',
      }),
    );
    return { etag: out.CopyObjectResult!.ETag! };
  }

  async function multipartCopy(item: WorkItem): Promise<{ etag: string }> {
    // A multipart upload does not copy metadata: carry it over from the source, plus its ETag.
    const source = await ctx.s3.send(new HeadObjectCommand({ Bucket: corpus, Key: item.key, IfMatch: item.etag }));
    const { UploadId } = await ctx.s3.send(
      new CreateMultipartUploadCommand({
        Bucket: backup,
        Key: item.key,
        StorageClass: storageClass,
        ContentType: source.ContentType,
        CacheControl: source.CacheControl,
        ContentDisposition: source.ContentDisposition,
        ContentEncoding: source.ContentEncoding,
        ContentLanguage: source.ContentLanguage,
        Metadata: { ...source.Metadata, [BACKUP_SOURCE_ETAG_META]: item.etag.replaceAll('"', '') },
      }),
    );
    try {
      const limit = pLimit(PART_COPIES_PER_OBJECT);
      const count = Math.ceil(item.size / partSizeBytes);
      const parts = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          limit(async () => {
            const first = i * partSizeBytes;
            const last = Math.min(item.size, first + partSizeBytes) - 1;
            const out = await ctx.s3.send(
              new UploadPartCopyCommand({ Bucket: backup, Key: item.key, UploadId, PartNumber: i + 1, CopySource: copySource(corpus, item.key), CopySourceIfMatch: item.etag, CopySourceRange: `bytes=${first}-${last}` }),
            );
            return { PartNumber: i + 1, ETag: out.CopyPartResult!.ETag! };
          }),
        ),
      );
      const done = await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: backup, Key: item.key, UploadId, MultipartUpload: { Parts: parts } }));
      return { etag: done.ETag! };
    } catch (error) {
      await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: backup, Key: item.key, UploadId })).catch(() => undefined);
      throw error;
    }
  }

  return runShard(ctx, 'backup', plan, { concurrency: config.backup.concurrency, handle });
}

/** The backup holds the catalogued version: same size and the source's ETag (or, for a multipart copy, the ETag recorded in its metadata). */
function holdsVersion(backup: HeadObjectCommandOutput, item: WorkItem): boolean {
  if (backup.ContentLength !== item.size) return false;
  return backup.ETag === item.etag || backup.Metadata?.[BACKUP_SOURCE_ETAG_META] === item.etag.replaceAll('"', '');
}
