/**
 * Which CloudFront paths a run invalidates (issue 28, CDN): the renditions it replaced or removed,
 * read from the change feed (`updated` and `removed` lines; a new rendition was never cached, a
 * `failed` line's renditions are left as they were). Decided as the feed streams by, in bounded
 * memory: a run may change millions of records.
 *
 * CloudFront bills per path past the first 1,000 a month, and a path ending in `*` counts as one
 * however many files it covers (CloudFront developer guide, "Pay for file invalidation"). It
 * refuses more than 3,000 file paths, or 15 wildcard paths, in progress at once per distribution
 * (CloudFront developer guide, "Concurrent invalidation request maximum"). So: each rendition's
 * path while they are at most the cap; above it, one `/<preset>/<folder>/*` per folder; and when
 * even the folders are too many, `/*`.
 */
import { compareKeys } from '../keys';
import type { ChangeLine } from './changes';
import { renditionUrl } from './record';

/** delivery.maxInvalidationPaths when not configured: CloudFront's free monthly allowance. */
export const DEFAULT_MAX_INVALIDATION_PATHS = 1_000;
/** File paths CloudFront accepts in progress at once per distribution. */
export const FILE_PATHS_IN_PROGRESS = 3_000;
/** Wildcard paths CloudFront accepts in progress at once per distribution. */
export const WILDCARD_PATHS_IN_PROGRESS = 15;

export type InvalidationScope = 'none' | 'files' | 'folders' | 'everything';

export interface InvalidationPlan {
  /** `files`: each replaced or removed rendition; `folders`: their folders; `everything`: `/*`; `none`: nothing replaced or removed. */
  readonly scope: InvalidationScope;
  /** The paths to submit, in key order (the same on a retry, so CloudFront's CallerReference check holds). */
  readonly paths: readonly string[];
  /** Distinct renditions replaced or removed. */
  readonly renditions: number;
  /** delivery.maxInvalidationPaths. */
  readonly cap: number;
}

/** The path of a key as viewers request it: per-segment URL encoding, as records' urls (renditionUrl). */
const encoded = (key: string) => renditionUrl('', key);

/**
 * A key holding `*` cannot be named as a file (a `*` is only allowed last, as a wildcard): it is
 * covered by the wildcard of everything up to its first `*`.
 */
function starPath(key: string): string | undefined {
  const star = key.indexOf('*');
  return star < 0 ? undefined : `${encoded(key.slice(0, star))}*`;
}

/** `/<preset>/<folder>/*`: the rendition's folder (a rendition at the top of a preset: `/<preset>/*`). */
function folderPath(key: string): string {
  const folder = key.slice(0, key.lastIndexOf('/') + 1);
  return starPath(folder) ?? `${encoded(folder)}*`;
}

/**
 * Folds change lines into an invalidation plan, holding at most one path past each limit. Each
 * original is on one line and its rendition keys are its own, so keys are not repeated.
 */
export class InvalidationPlanner {
  private readonly files = new Set<string>();
  private readonly folders = new Set<string>();
  private renditions = 0;
  private readonly fileLimit: number;
  private readonly wildcardLimit: number;

  constructor(readonly cap: number = DEFAULT_MAX_INVALIDATION_PATHS) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`maxInvalidationPaths must be a whole number >= 1, received ${cap}`);
    this.fileLimit = Math.min(cap, FILE_PATHS_IN_PROGRESS);
    this.wildcardLimit = Math.min(cap, WILDCARD_PATHS_IN_PROGRESS);
  }

  add(line: ChangeLine): void {
    if (line.change !== 'updated' && line.change !== 'removed') return;
    for (const key of line.renditions) {
      this.renditions++;
      if (this.files.size <= this.fileLimit) this.files.add(starPath(key) ?? encoded(key));
      if (this.folders.size <= this.wildcardLimit) this.folders.add(folderPath(key));
    }
  }

  plan(): InvalidationPlan {
    const base = { renditions: this.renditions, cap: this.cap };
    if (this.renditions === 0) return { ...base, scope: 'none', paths: [] };
    const wildcards = [...this.files].filter((p) => p.endsWith('*')).length;
    if (this.files.size <= this.fileLimit && wildcards <= this.wildcardLimit) return { ...base, scope: 'files', paths: [...this.files].sort(compareKeys) };
    if (this.folders.size <= this.wildcardLimit) return { ...base, scope: 'folders', paths: [...this.folders].sort(compareKeys) };
    return { ...base, scope: 'everything', paths: ['/*'] };
  }
}

/** The plan for a whole list of change lines (tests, and callers holding a few). */
export function planInvalidation(lines: Iterable<ChangeLine>, cap?: number): InvalidationPlan {
  const planner = new InvalidationPlanner(cap);
  for (const line of lines) planner.add(line);
  return planner.plan();
}
