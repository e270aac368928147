/**
 * The change feed (runs/<runId>/changes.jsonl): one line per original whose record changed in a
 * run, decided from the record before and the record after (or the original's removal).
 */
import { isDeepStrictEqual } from 'node:util';
import type { ImageRecord } from './record';

export const CHANGE_KINDS = ['added', 'updated', 'removed', 'failed'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface ChangeLine {
  readonly key: string;
  readonly change: ChangeKind;
  readonly etag: string;
  /** The rendition keys the line is about: the new record's, or for `removed` the ones deleted. */
  readonly renditions: readonly string[];
}

/** The original was deleted: its record (and renditions) go. */
export const REMOVED = Symbol('removed');

/**
 * What changed for one original, or undefined when nothing an application sees did. `runId` and
 * `updatedAt` are bookkeeping: a run that rewrites an identical record is no change.
 *
 * - no record before → `added` (`failed` if the new one is a failure);
 * - a different record → `updated` (`failed` when it is now a failure: an application that showed
 *   the old one learns that the new version could not be rendered);
 * - the original removed → `removed` with the renditions that went, if it had a record.
 */
export function decideChange(previous: ImageRecord | undefined, next: ImageRecord | typeof REMOVED): ChangeLine | undefined {
  if (next === REMOVED) {
    return previous ? { key: previous.key, change: 'removed', etag: previous.etag, renditions: renditionKeys(previous) } : undefined;
  }
  if (previous && sameContent(previous, next)) return undefined;
  const change: ChangeKind = next.status === 'failed' ? 'failed' : previous ? 'updated' : 'added';
  return { key: next.key, change, etag: next.etag, renditions: renditionKeys(next) };
}

const renditionKeys = (r: ImageRecord): string[] => r.renditions.map((x) => x.key);

function sameContent(a: ImageRecord, b: ImageRecord): boolean {
  const { runId: _ra, updatedAt: _ua, ...restA } = a;
  const { runId: _rb, updatedAt: _ub, ...restB } = b;
  return isDeepStrictEqual(restA, restB);
}
