/**
 * The event every run ends with (issue 28, "Change feed"): put on the account's default
 * EventBridge bus so that an application can subscribe to what changed last night with a rule
 * matching `{ "source": ["nightshift"], "detail-type": ["Run Completed"] }`.
 */
import { emptyChangeCounts, type RecordsReport } from './records/feed';

/** `Source` and `DetailType` of the PutEvents entry. The stack scopes the emitting role's events:PutEvents to exactly these. */
export const RUN_COMPLETED_EVENT = { source: 'nightshift', detailType: 'Run Completed' } as const;

/** The event's `detail` (JSON): what the run was, how it ended, and where its change feed is. */
export interface RunCompletedDetail {
  readonly runId: string;
  /** The report's status, or `FAILED` when the run ended in NotifyFailure. */
  readonly status: 'SUCCEEDED' | 'COMPLETED_WITH_FAILURES' | 'NOTHING_TO_DO' | 'FAILED';
  /** Originals whose record changed, by change (`added`, `updated`, `removed`, `failed`), as the feed counts them. */
  readonly counts: Readonly<Record<string, number>>;
  /** The change feed, `runs/<runId>/changes.jsonl` in the work bucket (and as an s3:// URI); absent when the run wrote none. */
  readonly changes?: ChangeFeedLocation;
}

/**
 * The detail of a run's end: its counts and feed from the report's records (one story with the
 * email), zeros and no feed when the run wrote none (nothing to do, or failed before Aggregate).
 */
export function runCompletedDetail(runId: string, status: RunCompletedDetail['status'], records: Pick<RecordsReport, 'changes' | 'feed'> | undefined, workBucket: string): RunCompletedDetail {
  return { runId, status, counts: { ...(records?.changes ?? emptyChangeCounts()) }, ...(records ? { changes: changeFeedLocation(workBucket, records.feed) } : {}) };
}

/** The change feed's location as the detail carries it: its bucket and key, and the same as an s3:// URI. */
export interface ChangeFeedLocation {
  readonly bucket: string;
  readonly key: string;
  readonly uri: string;
}

export function changeFeedLocation(bucket: string, key: string): ChangeFeedLocation {
  return { bucket, key, uri: `s3://${bucket}/${key}` };
}

/**
 * One entry of a PutEvents request, with the members the EventBridge API reference names
 * (PutEventsRequestEntry): `Detail` is the JSON text of the detail. `EventBusName` is left out:
 * the default bus receives it (ibid., "If you omit this, the default event bus is used").
 */
export interface PutEventsRequestEntry {
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
  readonly Time?: string;
}

/** The Run Completed entry for a run's outcome. */
export function runCompletedEntry(detail: RunCompletedDetail, time?: string): PutEventsRequestEntry {
  return { Source: RUN_COMPLETED_EVENT.source, DetailType: RUN_COMPLETED_EVENT.detailType, Detail: JSON.stringify(detail), ...(time ? { Time: time } : {}) };
}

/** Where a local run records its PutEvents requests instead of EventBridge: `<dir>/<runId>.json`. */
export const LOCAL_EVENTS_ENV = 'NIGHTSHIFT_LOCAL_EVENTS';
