/**
 * The upload lane's handler (issue 29): SQS messages carrying S3 event notifications (core/s3-event.ts),
 * answered with a partial batch response. Events arrive late, twice and out of order (S3 user
 * guide, "Amazon S3 Event Notifications"; SQS developer guide, "Amazon SQS standard queues": at-least-once
 * delivery), so each acts on the object's current state, never the event's: an ObjectCreated whose
 * ETag is no longer current does nothing (the newer version's event follows), an ObjectRemoved of
 * an object that exists again does nothing.
 *
 * What the lane leaves to the night gets a `skipped` record with reason LEFT_FOR_NIGHT and the measured
 * size; the night renders it as any new image (its catalogue sees no current renditions).
 */
import { GetObjectCommand, HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { filterRecord, type CatalogRecord } from '../core/catalog';
import type { PipelineConfig } from '../core/config';
import { parseS3EventMessage, type ObjectEvent } from '../core/s3-event';
import { isTombstone, renderedRecord, skippedRecord, sourceDetails, type ImageRecord, type RecordContext, type Tombstone } from '../core/records/record';
import { recordTime } from '../core/records/table';
import type { PutRecordsResult } from '../adapters/dynamodb';
import { errorText, isNotFound, isPreconditionFailed, listPages, putJson } from '../adapters/s3';
import { extensionOf, stripExtension } from '../core/keys';
import { LEFT_FOR_NIGHT, laneMarkerKey, type LaneRemoval, type LeftKind, leftMessage, UPLOAD_RUN_ID } from '../core/upload-lane';
import { inspect, type ObjectFacts, render, RenderError, renderOptionsOf, sourceDetailsOf, type RenderOptions } from '../adapters/image/render';
import { putRendition } from '../adapters/image/renditions';
import type { Logger } from '../adapters/log';

/** The SQS event a Lambda event source delivers (only the fields used). */
export interface SqsEvent {
  readonly Records: readonly { readonly messageId: string; readonly body: string; readonly attributes?: { readonly ApproximateReceiveCount?: string } }[];
}

/** Lambda's partial batch response (ReportBatchItemFailures): the messages to retry. */
export interface SqsBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

export type UploadHandler = (event: SqsEvent) => Promise<SqsBatchResponse>;

export { LEFT_FOR_NIGHT, UPLOAD_RUN_ID } from '../core/upload-lane';
/**
 * Receives of a message after which the lane stops retrying it and leaves the image to the night
 * (its record says so). Below the queue's maxReceiveCount (infra/upload-lane.ts), so a message
 * reaches the DLQ only when even that record could not be written.
 */
export const UPLOAD_LAST_ATTEMPT = 3;

/** Stored records: images and the lane's tombstones (which carry the removed version's Last-Modified). */
export type LaneRecord = ImageRecord | (Tombstone & { readonly lastModified: string });

/** The records the lane reads and writes (adapters/dynamodb.ts ImageRecordStore). */
export interface LaneRecordStore {
  getRecord(key: string): Promise<LaneRecord | undefined>;
  putRecords(records: readonly LaneRecord[]): Promise<PutRecordsResult>;
  replaceRecord(record: LaneRecord, etag: string): Promise<boolean>;
}

export interface UploadLaneDeps {
  readonly s3: S3Client;
  readonly records: LaneRecordStore;
  readonly config: PipelineConfig;
  readonly deliveryBaseUrl?: string;
  readonly log: Logger;
  /** Test seam: called after rendering, before the renditions are written (a race's moment). */
  readonly beforeWrite?: (key: string) => Promise<void>;
}

/** Re-renders after finding the original replaced meanwhile, at most this often per message. */
const MAX_PASSES = 3;

export function uploadHandler(deps: UploadLaneDeps): UploadHandler {
  return async (event) => {
    const failures: { itemIdentifier: string }[] = [];
    for (const message of event.Records) {
      const receives = Number(message.attributes?.ApproximateReceiveCount ?? '1');
      try {
        for (const e of parseS3EventMessage(message.body)) await handleEvent(deps, e, receives);
      } catch (error) {
        deps.log.warn('upload event failed', { messageId: message.messageId, receives, error: errorText(error) });
        failures.push({ itemIdentifier: message.messageId });
      }
    }
    return { batchItemFailures: failures };
  };
}

async function handleEvent(deps: UploadLaneDeps, e: ObjectEvent, receives: number): Promise<void> {
  if (e.bucket !== deps.config.buckets.corpus) return;
  if (e.kind === 'removed') return removed(deps, e.key);
  let head = await headOf(deps, e.key);
  if (!head || head.ETag !== e.etag) return; // gone or replaced since: the later event acts
  for (let pass = 1; head; pass++) {
    if (pass > MAX_PASSES) throw new Error(`${e.key} was replaced during each of ${MAX_PASSES} renders`);
    const current = await created(deps, e.key, head, receives);
    head = current ? undefined : await headOf(deps, e.key);
  }
}

/** The object's HEAD, or undefined when it is gone. */
async function headOf(deps: UploadLaneDeps, key: string): Promise<HeadObjectCommandOutput | undefined> {
  try {
    return await deps.s3.send(new HeadObjectCommand({ Bucket: deps.config.buckets.corpus, Key: key }));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

const catalogRecordOf = (key: string, head: HeadObjectCommandOutput): CatalogRecord => ({
  key,
  size: head.ContentLength ?? 0,
  etag: head.ETag!,
  lastModified: recordTime(new Date(Math.floor(head.LastModified!.getTime() / 1000) * 1000).toISOString()),
  storageClass: head.StorageClass ?? 'STANDARD',
});

const context = (deps: UploadLaneDeps): RecordContext => ({ runId: UPLOAD_RUN_ID, updatedAt: new Date().toISOString(), ...(deps.deliveryBaseUrl ? { deliveryBaseUrl: deps.deliveryBaseUrl } : {}) });

/**
 * One version of an original: selected as the night selects (filter, excludePrefixes), rendered or
 * left for the night, its record written. False when the original was replaced meanwhile: the
 * renditions just written may have overwritten the newer version's, so the caller renders again.
 */
async function created(deps: UploadLaneDeps, key: string, head: HeadObjectCommandOutput, receives: number): Promise<boolean> {
  const item = catalogRecordOf(key, head);
  if (filterRecord(item, deps.config.filter)) return true;
  const { onUpload } = deps.config;
  if (item.size > onUpload.maxBytes) return leave(deps, item, 'max-bytes', `${item.size} bytes, above onUpload.maxBytes (${onUpload.maxBytes})`);
  if (receives >= UPLOAD_LAST_ATTEMPT) return leave(deps, item, 'retries', `receive ${receives} of its event (the lane gives up at ${UPLOAD_LAST_ATTEMPT}); ${item.size} bytes`);
  const sibling = await stemSibling(deps, key);
  if (sibling !== undefined) return leave(deps, item, 'shared-stem', `${JSON.stringify(sibling)} renders to the same keys (only the extension differs): the night decides which keeps them; ${item.size} bytes`);
  let body: Buffer;
  let object: ObjectFacts;
  try {
    const got = await deps.s3.send(new GetObjectCommand({ Bucket: deps.config.buckets.corpus, Key: key, IfMatch: item.etag }));
    body = Buffer.from(await got.Body!.transformToByteArray());
    // The uploader's metadata (a focal point) shapes the crop, as in the resize job.
    object = { metadata: got.Metadata ?? {} };
  } catch (error) {
    if (isPreconditionFailed(error) || isNotFound(error)) return false;
    throw error;
  }
  return renderAndRecord(deps, item, body, object);
}

/**
 * Another image of the corpus with this one's stem (`a.png` beside `a.jpg`): their renditions
 * would share keys. Which keeps them, and which renders under disambiguated keys, is the night's
 * decision (it knows which came first: jobs/src/work-list.ts); the lane never writes over them.
 */
async function stemSibling(deps: UploadLaneDeps, key: string): Promise<string | undefined> {
  const stem = stripExtension(key);
  const { extensions } = deps.config.filter;
  for await (const page of listPages(deps.s3, { bucket: deps.config.buckets.corpus, prefix: `${stem}.` })) {
    const other = page.objects.map((o) => o.Key!).find((k) => k !== key && stripExtension(k) === stem && extensions.includes(extensionOf(k)));
    if (other !== undefined) return other;
  }
  return undefined;
}

async function renderAndRecord(deps: UploadLaneDeps, item: CatalogRecord, body: Buffer, object: ObjectFacts): Promise<boolean> {
  const { config } = deps;
  const options: RenderOptions = { ...renderOptionsOf(config), maxPixels: Math.min(config.onUpload.maxPixels, config.filter.maxPixels) };
  let facts;
  try {
    facts = await inspect(body, { maxPixels: Number.MAX_SAFE_INTEGER });
  } catch (error) {
    if (error instanceof RenderError) return leave(deps, item, 'undecodable', `${error.message}; ${item.size} bytes`);
    throw error;
  }
  const pixels = facts.width * facts.height * facts.pages;
  if (pixels > options.maxPixels) return leave(deps, item, 'max-pixels', `${facts.width}×${facts.height} (${pixels} pixels), above onUpload.maxPixels (${options.maxPixels})`, sourceDetailsOf(facts));
  const rendered = await render(body, config.presets, options, facts, object).catch((error: unknown) => {
    if (error instanceof RenderError) return error;
    throw error;
  });
  if (rendered instanceof RenderError) return leave(deps, item, 'undecodable', `${rendered.message}; ${item.size} bytes`, sourceDetailsOf(facts));
  await deps.beforeWrite?.(item.key);
  const written = await Promise.all(rendered.renditions.map((r) => putRendition(deps.s3, config, item, r, config.presets.find((p) => p.name === r.preset)!)));
  if ((await headOf(deps, item.key))?.ETag !== item.etag) return false;
  const record = renderedRecord(item, sourceDetailsOf(facts), rendered.placeholder, written.sort((a, b) => (a.key < b.key ? -1 : 1)), context(deps), rendered.rendering);
  await writeRecord(deps, record);
  deps.log.info('rendered on upload', { key: item.key, renditions: written.length });
  return true;
}

/**
 * The record, unless the table holds a newer version's (adapters/dynamodb.ts). A record of the
 * same second with another ETag stays there (which came first is unknowable from S3's times),
 * but the lane knows: when HEAD says this version is the current object, it replaces exactly
 * that record; if that one changed meanwhile, the message fails and its retry looks again.
 */
async function writeRecord(deps: UploadLaneDeps, record: ImageRecord): Promise<void> {
  if ((await deps.records.putRecords([record])).written.length > 0) return;
  const stored = await deps.records.getRecord(record.key);
  if (!stored || stored.lastModified !== record.lastModified || stored.etag === record.etag) return;
  if ((await headOf(deps, record.key))?.ETag !== record.etag) return;
  if (!(await deps.records.replaceRecord(record, stored.etag))) throw new Error(`the record of ${record.key} changed while the lane wrote it`);
}

/** The image's record says the night renders it, and why (its measured size). */
async function leave(deps: UploadLaneDeps, item: CatalogRecord, kind: LeftKind, measured: string, source?: ReturnType<typeof sourceDetails>): Promise<true> {
  const message = leftMessage(kind, measured);
  await writeRecord(deps, skippedRecord(item, { code: LEFT_FOR_NIGHT, message }, context(deps), source));
  deps.log.info('left for the night', { key: item.key, message });
  return true;
}

/**
 * An original removed: if it is really gone, its record becomes a tombstone (the API answers 404
 * at once); its renditions wait for the night's prune, which a marker in the work bucket tells of
 * (core/upload-lane.ts). The tombstone carries the removed version's
 * ETag and Last-Modified, so a newer original's record supersedes it whichever is written last.
 */
async function removed(deps: UploadLaneDeps, key: string): Promise<void> {
  if (await headOf(deps, key)) return;
  const previous = await deps.records.getRecord(key);
  if (!previous || isTombstone(previous)) return;
  // The marker first: a tombstone without one would leave its renditions to no prune (a retry finds the tombstone and stops).
  const removal: LaneRemoval = { key, etag: previous.etag, lastModified: previous.lastModified };
  await putJson(deps.s3, deps.config.buckets.work, laneMarkerKey(key), removal);
  const tombstone = { key, status: 'removed', etag: previous.etag, lastModified: previous.lastModified, runId: UPLOAD_RUN_ID, updatedAt: new Date().toISOString() } as const;
  await deps.records.putRecords([tombstone]);
  deps.log.info('tombstoned on removal', { key });
}
