/**
 * The resize shard's image records (issue 28): each handled image's record is queued, and every 25
 * (and at the shard's end) the queue is written: the previous records read in one BatchGetItem,
 * each change decided (core/records/changes.ts), the changed records put in one conditioned
 * TransactWriteItems (adapters/dynamodb.ts: an older source version never replaces a newer
 * record). A record whose content did not change is not written again, so a record carrying this
 * run's id was changed by this run: a retried shard still lists it. The change lines go to
 * runKeys changes(shard) in `finish`, before the shard's result.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DELIVERY_ENV } from '../../core/config';
import type { WorkItem } from '../../core/catalog';
import { decideChange, REMOVED, type ChangeLine } from '../../core/records/changes';
import { isTombstone, type ImageRecord, type RecordContext, type StoredRecord } from '../../core/records/record';
import { IMAGES_TABLE_ENV } from '../../core/records/table';
import { compareKeys, runKeys } from '../../core/keys';
import type { ChangeCounts, RecordCounts, ShardTally } from '../../core/results';
import { createDynamoClient, getRecords, ImageRecordStore, RECORDS_PER_REQUEST } from '../../adapters/dynamodb';
import { putText, errorText } from '../../adapters/s3';
import { addUploadLaneCounts, emptyUploadLaneCounts, LEFT_FOR_NIGHT, leftKindOf, UPLOAD_RUN_ID } from '../../core/upload-lane';
import type { JobContext } from './context';

/**
 * A queued record, or an image with current renditions that gets one only if it has none
 * (backfill). `unlessRecorded`: written only where the image has no record yet (a retryable
 * failure is work not done: an image keeps its previous record until its work is).
 */
export type QueuedRecord = { readonly record: ImageRecord; readonly unlessRecorded?: boolean; readonly change?: WorkItem['change'] } | { readonly backfill: WorkItem; readonly build: () => Promise<ImageRecord | undefined> };

/** The job's records, or undefined (logged once) when no table is configured or the run is dry. */
export function shardRecords(ctx: JobContext, dryRun: boolean, env: NodeJS.ProcessEnv = process.env): ShardRecords | undefined {
  const table = env[IMAGES_TABLE_ENV];
  if (!table) {
    ctx.log.info(`${IMAGES_TABLE_ENV} is not set: no image records are written`);
    return undefined;
  }
  if (dryRun) return undefined;
  const baseUrl = env[DELIVERY_ENV.baseUrl];
  return new ShardRecords(ctx, createDynamoClient({}, env), table, baseUrl || undefined);
}

const keyOf = (q: QueuedRecord) => ('record' in q ? q.record.key : q.backfill.key);

export class ShardRecords {
  private readonly store: ImageRecordStore<ImageRecord>;
  private queue: QueuedRecord[] = [];
  private writing: Promise<void> = Promise.resolve();
  private error: unknown;
  private readonly lines: ChangeLine[] = [];
  private readonly counts: RecordCounts = { written: 0, superseded: 0, requests: 0 };
  private readonly changes: ChangeCounts = { added: 0, updated: 0, removed: 0, failed: 0 };
  private backfilled = 0;
  private readonly uploadLane = emptyUploadLaneCounts();
  /** Backfills that failed (a read failed): the catalogue takes back their `done.record`, so the next run tries again. */
  private readonly unrecorded: string[] = [];

  constructor(
    private readonly ctx: JobContext,
    /** The store's too: it counts its own requests (writes), not the reads here. */
    private readonly client: DynamoDBClient,
    private readonly table: string,
    deliveryBaseUrl: string | undefined,
  ) {
    this.store = new ImageRecordStore<ImageRecord>(client, table);
    this.context = (updatedAt) => ({ runId: ctx.runId, updatedAt, ...(deliveryBaseUrl ? { deliveryBaseUrl } : {}) });
  }

  /** Where records come from: this run, now, and the delivery base URL if configured. */
  readonly context: (updatedAt: string) => RecordContext;

  /** Queues a record; a full batch starts its write (awaited by `finish`, which reports its error). */
  add(queued: QueuedRecord): void {
    this.queue.push(queued);
    if (this.queue.length >= RECORDS_PER_REQUEST) this.flush();
  }

  private flush(): Promise<void> {
    const batch = this.queue.splice(0);
    if (batch.length > 0) this.writing = this.writing.then(() => (this.error ? undefined : this.write(batch))).catch((error: unknown) => void (this.error ??= error));
    return this.writing;
  }

  /** One batch: previous records, backfills that are due, the changed records written, their lines kept. */
  private async write(batch: QueuedRecord[]): Promise<void> {
    const previous = await getRecords<StoredRecord>(this.client, this.table, batch.map(keyOf));
    for (const q of batch) this.noteLane(q, previous.get(keyOf(q)));
    const records = await Promise.all(batch.map((q) => this.recordOf(q, live(previous.get(keyOf(q))))));
    const decided = records.flatMap((r) => (r ? [{ record: r, ...this.lineOf(live(previous.get(r.key)), r) }] : []));
    const changed = decided.filter((d) => d.line && !d.rewritten);
    const result = await this.store.putRecords(changed.map((d) => d.record));
    const written = new Set(result.written);
    this.counts.written += result.written.length;
    this.counts.superseded += result.superseded.length;
    for (const d of decided) if (d.line && (written.has(d.record.key) || d.rewritten)) this.note(d.line);
  }

  /**
   * The queued record, or for a backfill candidate one built only when the table has none of this
   * version. A record this run wrote (a stopped attempt, whose renditions the retry finds current)
   * is passed on as it is, so that its change line is kept.
   */
  private async recordOf(q: QueuedRecord, previous: ImageRecord | undefined): Promise<ImageRecord | undefined> {
    if ('record' in q) return q.unlessRecorded && previous ? undefined : q.record;
    if (previous && previous.etag === q.backfill.etag) return previous.runId === this.ctx.runId ? previous : undefined;
    try {
      const record = await q.build();
      if (record) this.backfilled++;
      return record;
    } catch (error) {
      this.ctx.log.warn('no record backfilled: the next run tries again', { key: q.backfill.key, error: errorText(error) });
      this.unrecorded.push(q.backfill.key);
      return undefined;
    }
  }

  /**
   * The change to `next`, and whether an earlier attempt of this run wrote it already (the same
   * content under this run's id): then the line is kept and nothing is written.
   */
  private lineOf(previous: ImageRecord | undefined, next: ImageRecord): { line?: ChangeLine; rewritten?: boolean } {
    const line = decideChange(previous, next);
    if (line || !previous || previous.runId !== this.ctx.runId) return { line };
    return { line: { key: next.key, change: next.status === 'failed' ? 'failed' : 'updated', etag: next.etag, renditions: next.renditions.map((r) => r.key) }, rewritten: true };
  }

  /**
   * An image new or changed since the last run that the upload lane handled (its record of this
   * version is the lane's): rendered on upload, or left for the night and why. Counted here, where
   * the previous records are read anyway, once per version (the catalogue makes it work once).
   */
  private noteLane(q: QueuedRecord, stored: StoredRecord | undefined): void {
    const [change, etag] = 'record' in q ? [q.change, q.record.etag] : [q.backfill.change, q.backfill.etag];
    if (!stored || isTombstone(stored) || stored.runId !== UPLOAD_RUN_ID || stored.etag !== etag || (change !== 'new' && change !== 'changed')) return;
    if (stored.status === 'rendered') this.uploadLane.rendered++;
    else if (stored.reason?.code === LEFT_FOR_NIGHT) addUploadLaneCounts(this.uploadLane, { rendered: 0, left: { [leftKindOf(stored.reason.message)]: 1 } });
  }

  private note(line: ChangeLine): void {
    this.lines.push(line);
    this.changes[line.change]++;
  }

  /**
   * A deleted original's record goes (if still of that version), with a `removed` line; the upload
   * lane's tombstone of that version too, without one (the lane answered 404 for it already).
   */
  async remove(item: WorkItem): Promise<void> {
    const stored = (await getRecords<StoredRecord>(this.client, this.table, [item.key])).get(item.key);
    if (stored && isTombstone(stored)) {
      if (stored.etag === item.etag) await this.store.deleteRecord(item.key, item.etag);
      return;
    }
    const previous = live(stored);
    if (!previous || previous.etag !== item.etag) return;
    if (!(await this.store.deleteRecord(item.key, item.etag))) return;
    const line = decideChange(previous, REMOVED);
    if (line) this.note(line);
  }

  /** The rest of the queue, then the change lines; the counts go on the tally for the shard's result. */
  async finish(tally: ShardTally): Promise<void> {
    await this.flush();
    if (this.error) throw this.error;
    const body = this.lines.sort((a, b) => compareKeys(a.key, b.key)).map((l) => `${JSON.stringify(l)}\n`).join('');
    await putText(this.ctx.s3, this.ctx.config.buckets.work, runKeys(this.ctx.runId).changes(this.ctx.shard), body, 'application/x-ndjson');
    this.counts.requests = this.store.requests();
    tally.records = { counts: this.counts, changes: this.changes, backfilled: this.backfilled, unrecorded: this.unrecorded.sort(compareKeys), uploadLane: this.uploadLane };
  }
}

/** A stored record that describes an image (a tombstone is none). */
function live(stored: StoredRecord | undefined): ImageRecord | undefined {
  return stored && !isTombstone(stored) ? stored : undefined;
}
