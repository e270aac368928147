/**
 * backup: for each original of its shard whose backup does not hold this version, a server-side copy into the backup bucket
 * (same key, configured storage class, the original's metadata and tags). Bytes never pass through the worker: CopyObject up to the
 * multipart threshold (S3 allows 5 GiB), UploadPartCopy above it. Every copy is pinned to the
 * catalogued version with CopySourceIfMatch and verified afterwards. A key whose backup already
 * holds this version is skipped (unless the run is `full` and `force`); a deleted original's
 * backup is kept.
 *
 * Checking and verifying cost requests, and a request costs the worker more CPU (SDK, signing)
 * than S3 spends on the copy. When the work is sparse (a nightly run: a few new objects among
 * millions), each key is checked and verified with HeadObject. When it is dense (a first or full
 * run: see isDenseWork), the shard's key range of the backup bucket is listed instead, once
 * before copying and once after: ListObjectsV2 returns the size and ETag of 1,000 keys at a time
 * and is strongly consistent, so it answers the same questions as HeadObject with a thousandth of
 * the requests.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import type { WorkItem } from '../../core/catalog';
import { compareKeys, copySource } from '../../core/keys';
import { partSizeFor } from '../../core/multipart';
import { isDenseWork, type Plan } from '../../core/plan';
import { failure } from '../../core/failures';
import { type ShardTally } from '../../core/results';
import { errorText, isNotFound, ListingCursor } from '../../adapters/s3';
import type { JobContext } from './context';
import { runShard, type ShardOutcome, sourceReadOutcome } from './shard';

/** User-metadata name of the source ETag on backups whose own ETag differs from the source's (multipart and SSE-KMS sources, multipart copies). */
export const BACKUP_SOURCE_ETAG_META = 'source-etag';

const PART_COPIES_PER_OBJECT = 8;

/** What a check or a verification learns of a backup key: its size and ETag, and its metadata when it came from HEAD. */
interface BackupState {
  readonly size: number | undefined;
  readonly etag: string | undefined;
  readonly metadata?: Record<string, string>;
}

/**
 * One closure per shard, long on purpose: the steps inside it (check, copy, verify, the listing
 * cursors of dense work) share the shard's configuration and cursors, and each is short.
 */
export async function backupJob(ctx: JobContext, plan: Plan): Promise<ShardOutcome> {
  const { config } = ctx;
  const { corpus, backup } = config.buckets;
  const { storageClass, multipartThresholdBytes, partSizeBytes } = config.backup;
  const dense = isDenseWork(plan);
  const before = dense ? new ListingCursor(ctx.s3, backup) : undefined;
  const unverified: { item: WorkItem; etag: string }[] = [];
  ctx.log.child({ shard: ctx.shard, operation: 'backup' }).info(dense ? 'dense work: checking and verifying backups by listing' : 'sparse work: checking and verifying backups with HeadObject', { work: plan.counts.work, selected: plan.counts.selected });

  async function handle(item: WorkItem, tally: ShardTally): Promise<void> {
    if (item.change === 'deleted') return tally.skip(item.key, 'original-deleted', 'the original was deleted: its backup is kept');
    if (!item.backup) return tally.skip(item.key, 'up-to-date', 'the backup holds this version (the catalogue says so): only renditions are due');
    // A forced full run copies again whatever the backup holds (a new version in a versioned bucket).
    if (plan.force) return plan.dryRun ? wouldCopy(item, tally) : copy(item, tally);
    let existing: BackupState | undefined;
    try {
      existing = await stateOf(before, item.key);
      // Listed with the same size but another ETag: may be a multipart backup of this version, which only its metadata (HEAD) tells.
      if (existing && !existing.metadata && existing.size === item.size && existing.etag !== item.etag) existing = await head(backup, item.key);
    } catch (error) {
      return tally.fail(failure(item.key, 'read-failed', `checking the existing backup: ${errorText(error)}`));
    }
    if (existing && holdsVersion(existing, item)) return tally.skip(item.key, 'up-to-date', 'the backup already holds this version');
    if (plan.dryRun) return wouldCopy(item, tally);
    return copy(item, tally);
  }

  function wouldCopy(item: WorkItem, tally: ShardTally): void {
    tally.would({ key: item.key, operation: 'backup', action: 'copy', bytes: item.size }, `would copy ${item.size} bytes`);
  }

  async function copy(item: WorkItem, tally: ShardTally): Promise<void> {
    let written: { etag: string };
    try {
      written = item.size > multipartThresholdBytes ? await multipartCopy(item) : await singleCopy(item);
    } catch (error) {
      return sourceReadOutcome(tally, item.key, error, 'copy-failed');
    }

    if (dense) unverified.push({ item, etag: written.etag });
    else await verify(item, written.etag, tally, () => head(backup, item.key));
  }

  /** Dense work: one listing of the copied keys' range reads every copy back. */
  async function finish(tally: ShardTally): Promise<void> {
    unverified.sort((a, b) => compareKeys(a.item.key, b.item.key));
    const after = new ListingCursor(ctx.s3, backup);
    for (const { item, etag } of unverified) await verify(item, etag, tally, () => stateOf(after, item.key));
  }

  /** A key's size and ETag from the listing; from HeadObject when there is no listing or it cannot tell. */
  async function stateOf(cursor: ListingCursor | undefined, key: string): Promise<BackupState | undefined> {
    const listed = cursor ? await cursor.find(key) : null;
    if (listed === null) return head(backup, key);
    return listed && { size: listed.Size, etag: listed.ETag };
  }

  async function verify(item: WorkItem, etag: string, tally: ShardTally, read: () => Promise<BackupState | undefined>): Promise<void> {
    let copy: BackupState | undefined;
    try {
      copy = await read();
    } catch (error) {
      return tally.fail(failure(item.key, 'verify-failed', `reading the copy back: ${errorText(error)}`));
    }
    if (!copy) return tally.fail(failure(item.key, 'verify-failed', 'the copy is not there after writing it'));
    if (copy.size !== item.size || copy.etag !== etag) {
      return tally.fail(failure(item.key, 'verify-failed', `the copy has ${copy.size} bytes and ETag ${copy.etag}; expected ${item.size} bytes and ETag ${etag}`));
    }
    tally.bytesWritten += item.size;
    tally.processed();
  }

  async function head(bucket: string, key: string): Promise<BackupState | undefined> {
    let out: HeadObjectCommandOutput;
    try {
      out = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    return { size: out.ContentLength, etag: out.ETag, metadata: out.Metadata ?? {} };
  }

  async function singleCopy(item: WorkItem): Promise<{ etag: string }> {
    // A copy shares its source's ETag only when that ETag is the MD5 of the data: not for a
    // source uploaded in parts ("…-N") nor under SSE-KMS. Those copies carry the source's ETag in
    // their metadata instead (which takes the source's metadata and headers, read first), so that
    // a rerun knows the backup holds this version and does not copy it again.
    const source = etagIsMd5(item) ? undefined : await ctx.s3.send(new HeadObjectCommand({ Bucket: corpus, Key: item.key, IfMatch: item.etag }));
    const out = await ctx.s3.send(
      new CopyObjectCommand({
        Bucket: backup,
        Key: item.key,
        CopySource: copySource(corpus, item.key),
        CopySourceIfMatch: item.etag,
        StorageClass: storageClass,
        ...(source ? { MetadataDirective: 'REPLACE', ...carriedHeaders(source, item) } : { MetadataDirective: 'COPY' }),
        // A backup keeps the original's tags (S3's default, said out loud): needs
        // s3:GetObjectTagging on the source and s3:PutObjectTagging on the copy.
        TaggingDirective: 'COPY',
      }),
    );
    return { etag: out.CopyObjectResult!.ETag! };
  }

  /** An ETag a copy will share: a single-part upload's, outside SSE-KMS. */
  function etagIsMd5(item: WorkItem): boolean {
    return !config.corpus.sseKms && !item.etag.includes('-');
  }

  async function multipartCopy(item: WorkItem): Promise<{ etag: string }> {
    // A multipart upload copies neither metadata nor tags: carry them over from the source, plus its ETag.
    const source = await ctx.s3.send(new HeadObjectCommand({ Bucket: corpus, Key: item.key, IfMatch: item.etag }));
    const tags = source.TagCount ? (await ctx.s3.send(new GetObjectTaggingCommand({ Bucket: corpus, Key: item.key }))).TagSet ?? [] : [];
    const { UploadId } = await ctx.s3.send(
      new CreateMultipartUploadCommand({
        Bucket: backup,
        Key: item.key,
        StorageClass: storageClass,
        ...carriedHeaders(source, item),
        Tagging: tags.length ? new URLSearchParams(tags.map((t): [string, string] => [t.Key!, t.Value!])).toString() : undefined,
      }),
    );
    try {
      const limit = pLimit(PART_COPIES_PER_OBJECT);
      const partSize = partSizeFor(item.size, partSizeBytes); // at most 10,000 parts, whatever the size
      const count = Math.ceil(item.size / partSize);
      const parts = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          limit(async () => {
            const first = i * partSize;
            const last = Math.min(item.size, first + partSize) - 1;
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

  return runShard(ctx, 'backup', plan, { concurrency: config.backup.concurrency, handle, ...(dense ? { finish } : {}) });
}

/** What a copy that cannot keep its source's ETag carries over: the source's headers and metadata, and its ETag. */
function carriedHeaders(source: HeadObjectCommandOutput, item: WorkItem) {
  return {
    ContentType: source.ContentType,
    CacheControl: source.CacheControl,
    ContentDisposition: source.ContentDisposition,
    ContentEncoding: source.ContentEncoding,
    ContentLanguage: source.ContentLanguage,
    Metadata: { ...source.Metadata, [BACKUP_SOURCE_ETAG_META]: item.etag.replaceAll('"', '') },
  };
}

/** The backup holds the catalogued version: same size and the source's ETag (or, for a multipart copy, the ETag recorded in its metadata). */
function holdsVersion(backup: BackupState, item: WorkItem): boolean {
  if (backup.size !== item.size) return false;
  return backup.etag === item.etag || backup.metadata?.[BACKUP_SOURCE_ETAG_META] === item.etag.replaceAll('"', '');
}
