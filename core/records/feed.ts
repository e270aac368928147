/**
 * What a run did to the image records, as the report keeps it and every text says it: the
 * changes counted by the shards, the change feed's key, and the CDN invalidation that followed.
 * Counted once (ReportFold sums the shard results); the email, report.html and the Run Completed
 * event all read these figures.
 */
import { count, n, plural } from '../format';
import type { ChangeCounts } from '../results';
import { CHANGE_KINDS } from './changes';
import type { InvalidationPlan } from './invalidation';
import type { UploadLaneCounts } from '../upload-lane';

export interface RecordsReport {
  /** Originals whose record changed, by change (the lines of the change feed). */
  readonly changes: ChangeCounts;
  /** Records written, left alone because a newer run's record stands, and DynamoDB write requests (retries included). */
  readonly written: number;
  readonly superseded: number;
  readonly requests: number;
  /** Records added by backfill (renditions current, no record yet): written without re-rendering. Absent when none. */
  readonly backfilled?: number;
  /** runs/<runId>/changes.jsonl in the work bucket. */
  readonly feed: string;
  /** The CDN invalidation after the run (delivery.cdn only). */
  readonly invalidation?: InvalidationReport;
  /** Images of the run's work the upload lane handled since the last run (core/upload-lane.ts); absent when none. */
  readonly uploadLane?: UploadLaneCounts;
}

export interface InvalidationReport extends Pick<InvalidationPlan, 'scope' | 'renditions' | 'cap'> {
  /** Paths submitted (a wildcard counts as one: what CloudFront bills). */
  readonly paths: number;
  /** The first few paths, for the email. */
  readonly sample: readonly string[];
  /** CloudFront's invalidation id, once created. */
  readonly id?: string;
  /** Why the invalidation was not created (the run did not fail for it). */
  readonly error?: string;
}

export const emptyChangeCounts = (): ChangeCounts => ({ added: 0, updated: 0, removed: 0, failed: 0 });

export const totalChanges = (c: ChangeCounts): number => CHANGE_KINDS.reduce((sum, k) => sum + c[k], 0);

/** "3 records changed: 1 added, 1 updated, 0 removed, 1 failed", or "no record changed". */
export function changeWords(c: ChangeCounts): string {
  const total = totalChanges(c);
  if (total === 0) return 'no record changed';
  return `${count(total, 'record')} changed: ${CHANGE_KINDS.map((k) => `${n(c[k])} ${k}`).join(', ')}`;
}

/** The CDN invalidation in one sentence, the same in the email and report.html. */
export function invalidationWords(i: InvalidationReport): string {
  const stale = `${n(i.renditions)} replaced or removed ${plural(i.renditions, 'rendition')}`;
  const outcome = i.error ? `NOT invalidated: ${i.error}; cached copies may be served until their Cache-Control expires` : `invalidated${i.id ? ` (invalidation ${i.id})` : ''}`;
  switch (i.scope) {
    case 'none':
      return 'nothing to invalidate: no rendition was replaced or removed';
    case 'files':
      return `${stale}: ${count(i.paths, 'path')} ${outcome}`;
    case 'folders':
      return `${stale}, more than delivery.maxInvalidationPaths (${n(i.cap)}): their ${n(i.paths)} whole ${plural(i.paths, 'folder')} ${outcome} (${i.sample.join(', ')}${i.paths > i.sample.length ? ', ...' : ''})`;
    case 'everything':
      return `${stale}, in more folders than can be invalidated one by one: the whole distribution (/*) ${outcome}`;
  }
}
