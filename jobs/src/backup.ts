/**
 * backup: for each original of its shard whose backup does not hold this version, a server-side copy into the backup bucket
 * (same key, configured storage class, the original's metadata and tags). Bytes never pass through the worker: CopyObject up to the
 * multipart threshold (S3 allows 5 GiB), UploadPartCopy above it. Every copy is pinned to the
 * catalogued version with CopySourceIfMatch and verified afterwards. A key whose backup already
 * holds this version is skipped, in a forced run too: a copy of the same bytes would only add a
 * version to the versioned bucket (`force` re-encodes renditions, which a new recipe or encoder can
 * change; a backup is the original's bytes); a deleted original's backup is kept.
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

export async function backupJob(ctx: JobContext, plan: Plan): Promise<ShardOutcome> {
  const shard = new BackupShard(ctx, plan);
  ctx.log.child({ shard: ctx.shard, operation: 'backup' }).info(shard.dense ? 'dense work: checking and verifying backups by listing' : 'sparse work: checking and verifying backups with HeadObject', { work: plan.counts.work, selected: plan.counts.selected });
  return runShard(ctx, 'backup', plan, {
    concurrency: ctx.config.backup.concurrency,
    handle: (item, tally) => shard.handle(item, tally),
    ...(shard.dense ? { finish: (tally: ShardTally) => shard.finish(tally) } : {}),
    abandon: () => shard.abandon(),
  });
}

/**
 * One shard's backup: check, copy, verify. Its steps share the shard's configuration and, on
 * dense work, the listing cursors (one before copying, one after).
 */
class BackupShard {
  readonly dense: boolean;
  private readonly corpus: string;
  private readonly backup: string;
  private readonly before: ListingCursor | undefined;
  private readonly unverified: { item: WorkItem; etag: string }[] = [];
  /** Multipart uploads under way: upload id → key. */
  private readonly uploads = new Map<string, string>();

  constructor(
    private readonly ctx: JobContext,
    private readonly plan: Plan,
  ) {
    ({ corpus: this.corpus, backup: this.backup } = ctx.config.buckets);
    this.dense = isDenseWork(plan);
    this.before = this.dense ? new ListingCursor(ctx.s3, this.backup) : undefined;
  }

  async handle(item: WorkItem, tally: ShardTally): Promise<void> {
    if (item.change === 'deleted') return tally.skip(item.key, 'original-deleted', 'the original was deleted: its backup is kept');
    if (!item.backup) return tally.skip(item.key, 'up-to-date', 'the backup holds this version (the catalogue says so): only renditions are due');
    let existing: BackupState | undefined;
    try {
      existing = await this.existing(item);
    } catch (error) {
      return tally.fail(failure(item.key, 'read-failed', `checking the existing backup: ${errorText(error)}`));
    }
    if (existing && holdsVersion(existing, item)) return tally.skip(item.key, 'up-to-date', 'the backup already holds this version');
    if (this.plan.dryRun) return tally.would({ key: item.key, operation: 'backup', action: 'copy', bytes: item.size }, `would copy ${item.size} bytes`);
    return this.copy(item, tally);
  }

  /** Stopping with copies still running: their multipart uploads are aborted, not left billing their parts until the lifecycle rule. */
  async abandon(): Promise<void> {
    await Promise.all([...this.uploads].map(([UploadId, key]) => this.abortUpload(key, UploadId)));
  }

  /** Dense work: one listing of the copied keys' range reads every copy back. */
  async finish(tally: ShardTally): Promise<void> {
    this.unverified.sort((a, b) => compareKeys(a.item.key, b.item.key));
    const after = new ListingCursor(this.ctx.s3, this.backup);
    for (const { item, etag } of this.unverified) await this.verify(item, etag, tally, () => this.stateOf(after, item.key));
  }

  /** The backup key's state. Listed with the same size but another ETag: may be a backup of this version whose ETag cannot be the source's (SSE-KMS, multipart), which only its metadata (HEAD) tells. */
  private async existing(item: WorkItem): Promise<BackupState | undefined> {
    const existing = await this.stateOf(this.before, item.key);
    if (existing && !existing.metadata && existing.size === item.size && existing.etag !== item.etag) return this.head(this.backup, item.key);
    return existing;
  }

  private async copy(item: WorkItem, tally: ShardTally): Promise<void> {
    let written: { etag: string };
    try {
      written = item.size > this.ctx.config.backup.multipartThresholdBytes ? await this.multipartCopy(item) : await this.singleCopy(item);
    } catch (error) {
      return sourceReadOutcome(tally, item.key, error, 'copy-failed');
    }
    if (this.dense) this.unverified.push({ item, etag: written.etag });
    else await this.verify(item, written.etag, tally, () => this.head(this.backup, item.key));
  }

  /** A key's size and ETag from the listing; from HeadObject when there is no listing or it cannot tell. */
  private async stateOf(cursor: ListingCursor | undefined, key: string): Promise<BackupState | undefined> {
    const listed = cursor ? await cursor.find(key) : null;
    if (listed === null) return this.head(this.backup, key);
    return listed && { size: listed.Size, etag: listed.ETag };
  }

  private async verify(item: WorkItem, etag: string, tally: ShardTally, read: () => Promise<BackupState | undefined>): Promise<void> {
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

  private async head(bucket: string, key: string): Promise<BackupState | undefined> {
    let out: HeadObjectCommandOutput;
    try {
      out = await this.ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    return { size: out.ContentLength, etag: out.ETag, metadata: out.Metadata ?? {} };
  }

  /** The original's headers, metadata and encryption, pinned to the catalogued version. */
  private headSource(item: WorkItem): Promise<HeadObjectCommandOutput> {
    return this.ctx.s3.send(new HeadObjectCommand({ Bucket: this.corpus, Key: item.key, IfMatch: item.etag }));
  }

  /**
   * CopyObject. The copy shares its source's ETag only when both are MD5s of the data, which each
   * object's encryption decides (etagIsContentMd5). Where they cannot share it, the copy carries
   * the source's ETag in its metadata (with the source's metadata and headers, as
   * MetadataDirective REPLACE needs), so that a rerun knows the backup holds this version and does
   * not copy it again. A listing does not say how an object is encrypted: a multipart original,
   * or any in a corpus configured with a KMS key, is HEADed first; any other is copied, and copied
   * again with the record when the copy did not get its ETag (a per-object KMS key, a bucket
   * default changed). One COPY for the common object, instead of a HEAD and a COPY.
   */
  private async singleCopy(item: WorkItem): Promise<{ etag: string }> {
    const source = item.etag.includes('-') || this.ctx.config.corpus.sseKms ? await this.headSource(item) : undefined;
    const record = source !== undefined && !etagIsContentMd5(item.etag, source.ServerSideEncryption);
    const copy = await this.copyObject(item, record ? source : undefined);
    if (record || copy.etag === item.etag) return copy;
    return this.copyObject(item, source ?? (await this.headSource(item)));
  }

  /** CopyObject of the catalogued version; with `source` (its HEAD), recording its ETag in the copy's metadata. */
  private async copyObject(item: WorkItem, source: HeadObjectCommandOutput | undefined): Promise<{ etag: string }> {
    const out = await this.ctx.s3.send(
      new CopyObjectCommand({
        Bucket: this.backup,
        Key: item.key,
        CopySource: copySource(this.corpus, item.key),
        CopySourceIfMatch: item.etag,
        StorageClass: this.ctx.config.backup.storageClass,
        ...(source ? { MetadataDirective: 'REPLACE', ...carriedHeaders(source, item) } : { MetadataDirective: 'COPY' }),
        // A backup keeps the original's tags (S3's default, said out loud): needs
        // s3:GetObjectTagging on the source and s3:PutObjectTagging on the copy.
        TaggingDirective: 'COPY',
      }),
    );
    return { etag: out.CopyObjectResult!.ETag! };
  }

  /** UploadPartCopy in parts of the original's catalogued version; the upload is aborted on any failure. */
  private async multipartCopy(item: WorkItem): Promise<{ etag: string }> {
    const UploadId = await this.createUpload(item);
    this.uploads.set(UploadId, item.key);
    try {
      const parts = await this.copyParts(item, UploadId);
      const done = await this.ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: this.backup, Key: item.key, UploadId, MultipartUpload: { Parts: parts } }));
      return { etag: done.ETag! };
    } catch (error) {
      await this.abortUpload(item.key, UploadId);
      throw error;
    } finally {
      this.uploads.delete(UploadId);
    }
  }

  /** Without it the parts stay (and are billed) until the lifecycle rule's AbortIncompleteMultipartUpload. */
  private async abortUpload(key: string, UploadId: string): Promise<void> {
    try {
      await this.ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: this.backup, Key: key, UploadId }));
    } catch (error) {
      this.ctx.log.warn('could not abort a multipart copy', { key, uploadId: UploadId, error: errorText(error) });
    }
  }

  /** A multipart upload copies neither metadata nor tags: they come from the source, with its ETag. */
  private async createUpload(item: WorkItem): Promise<string> {
    const source = await this.headSource(item);
    const tags = source.TagCount ? ((await this.ctx.s3.send(new GetObjectTaggingCommand({ Bucket: this.corpus, Key: item.key }))).TagSet ?? []) : [];
    const { UploadId } = await this.ctx.s3.send(
      new CreateMultipartUploadCommand({
        Bucket: this.backup,
        Key: item.key,
        StorageClass: this.ctx.config.backup.storageClass,
        ...carriedHeaders(source, item),
        Tagging: tags.length ? taggingHeader(tags.map((t) => [t.Key!, t.Value!])) : undefined,
      }),
    );
    return UploadId!;
  }

  /**
   * Every part copy settles before this returns or throws: S3 says an abort while parts are still
   * being written may leave some of them (S3 API reference, AbortMultipartUpload). After a failure
   * the parts not yet started are not started.
   */
  private async copyParts(item: WorkItem, UploadId: string): Promise<{ PartNumber: number; ETag: string }[]> {
    const limit = pLimit(PART_COPIES_PER_OBJECT);
    const partSize = partSizeFor(item.size, this.ctx.config.backup.partSizeBytes); // at most 10,000 parts, whatever the size
    let failed: { error: unknown } | undefined;
    const copyPart = async (i: number) => {
      const first = i * partSize;
      const last = Math.min(item.size, first + partSize) - 1;
      const out = await this.ctx.s3.send(
        new UploadPartCopyCommand({ Bucket: this.backup, Key: item.key, UploadId, PartNumber: i + 1, CopySource: copySource(this.corpus, item.key), CopySourceIfMatch: item.etag, CopySourceRange: `bytes=${first}-${last}` }),
      );
      return { PartNumber: i + 1, ETag: out.CopyPartResult!.ETag! };
    };
    const parts = await Promise.all(
      Array.from({ length: Math.ceil(item.size / partSize) }, (_, i) =>
        limit(async () => {
          if (failed) return undefined;
          return copyPart(i).catch((error: unknown) => void (failed ??= { error }));
        }),
      ),
    );
    if (failed) throw failed.error;
    return parts as { PartNumber: number; ETag: string }[];
  }
}

/**
 * Whether an object's ETag is the MD5 of its data (S3 API reference, the Object data type's ETag):
 * yes for a single-part object under SSE-S3 or none; not under SSE-KMS or DSSE-KMS (nor SSE-C),
 * nor for one made by a multipart upload or part copy ("…-N"), whatever its encryption.
 */
export function etagIsContentMd5(etag: string, serverSideEncryption: string | undefined): boolean {
  return !etag.includes('-') && (serverSideEncryption === undefined || serverSideEncryption === 'AES256');
}

/**
 * `x-amz-tagging` (S3 API reference, PutObject and CreateMultipartUpload: "encoded as URL Query
 * parameters"): percent-encoded with encodeURIComponent, so a space is `%20` and a plus `%2B`.
 * URLSearchParams writes a space as `+`, which S3 reads as a plus: the backup's tag would change.
 */
export function taggingHeader(tags: readonly (readonly [string, string])[]): string {
  return tags.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
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

/**
 * The backup holds the catalogued version: same size, and the source's ETag, or the source's ETag
 * recorded in its metadata where the two ETags cannot be compared (one of them under SSE-KMS, or
 * made in parts). Equal ETags always mean this version: a non-MD5 ETag never equals another's.
 */
function holdsVersion(backup: BackupState, item: WorkItem): boolean {
  if (backup.size !== item.size) return false;
  return backup.etag === item.etag || backup.metadata?.[BACKUP_SOURCE_ETAG_META] === item.etag.replaceAll('"', '');
}
