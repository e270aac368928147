/**
 * What the upload lane (functions/on-upload.ts) and the night share: the removal markers through
 * which the night learns of the lane's tombstones, and the words of what the lane left to the night.
 *
 * Why markers: a tombstone is a record in the images table, and the night must prune the
 * renditions of every tombstoned image, also of one uploaded and deleted between two nights that
 * no catalogue ever listed. Finding tombstones in the table would take a Scan of every record
 * (the folder index lists one folder at a time, and the night does not know which folders); a
 * marker object per removal under LANE_REMOVED_PREFIX of the work bucket costs one PUT per
 * removal, and the catalog job finds them all with one listing of that prefix (bounded by the
 * removals since the last prune, not by the corpus). The marker goes when its prune is done.
 */
import { catalogLineFromText, compareLineKeys, type CatalogLine } from './catalog-line';
import { count, n } from './format';
import type { LineDiffEntry } from './line-diff';
import type { StateRecord } from './state';

/** Where the lane writes a marker per tombstone, `<prefix><original key>`, in the work bucket. */
export const LANE_REMOVED_PREFIX = 'upload-lane/removed/';

export const laneMarkerKey = (key: string): string => `${LANE_REMOVED_PREFIX}${key}`;

/** A removal marker's body: the removed version (its ETag as S3 gives it, quotes included). */
export interface LaneRemoval {
  readonly key: string;
  readonly etag: string;
  /** ISO 8601, to the second. */
  readonly lastModified: string;
}

/**
 * A removed original's state as a catalogue would have kept it: rendered with every configured
 * preset (the lane renders them all), so the prune looks for each one's renditions.
 */
export function laneRemovalState(removal: LaneRemoval, digests: Readonly<Record<string, string>>): StateRecord {
  return { key: removal.key, size: 0, etag: removal.etag, lastModified: removal.lastModified, storageClass: 'STANDARD', done: { renditions: { ...digests } } };
}

/**
 * The diff of tonight's listing against the last catalogue with the lane's removals merged in, in
 * key order: a removal of a key the diff does not hold (no catalogue listed it, and it is not in
 * the bucket now) becomes a deleted original, pruned as any. A key the diff holds goes its usual
 * way (listed again: restored; catalogued: the diff prunes it). `ignored` hears the removals whose
 * markers can go without a prune (the key is listed again).
 */
export function* withLaneRemovals(entries: Iterable<LineDiffEntry>, removals: readonly LaneRemoval[], digests: Readonly<Record<string, string>>, ignored: (removal: LaneRemoval, entry: LineDiffEntry) => void): Generator<LineDiffEntry> {
  const lines = removals.map((r) => ({ removal: r, line: catalogLineFromText(JSON.stringify(laneRemovalState(r, digests)), `removal marker of ${r.key}`) }));
  let i = 0;
  const lineOf = (e: LineDiffEntry): CatalogLine => (e.kind === 'deleted' ? e.previous : e.line);
  for (const entry of entries) {
    for (; i < lines.length; i++) {
      const order = compareLineKeys(lines[i]!.line, lineOf(entry));
      if (order > 0) break;
      if (order === 0) {
        if (entry.kind !== 'deleted') ignored(lines[i]!.removal, entry);
        continue;
      }
      yield { kind: 'deleted', previous: lines[i]!.line };
    }
    yield entry;
  }
  for (; i < lines.length; i++) yield { kind: 'deleted', previous: lines[i]!.line };
}

/** The record reason of an image the lane leaves to the nightly run. */
export const LEFT_FOR_NIGHT = 'left-for-night';
/** Records the lane writes carry this runId: the night tells them from a run's. */
export const UPLOAD_RUN_ID = 'upload-lane';

/** Why the lane left an image to the night; each message begins with its kind's words, which the night reads back. */
export const LEFT_KINDS = {
  'max-bytes': 'above onUpload.maxBytes',
  'max-pixels': 'above onUpload.maxPixels',
  retries: 'retried to its last receive',
  undecodable: 'not decodable by the function',
} as const;
export type LeftKind = keyof typeof LEFT_KINDS;

/** A left-for-night record's message: the kind's words, then what was measured. */
export const leftMessage = (kind: LeftKind, measured: string): string => `${LEFT_KINDS[kind]}: ${measured}`;

export function leftKindOf(message: string): LeftKind {
  const kind = (Object.keys(LEFT_KINDS) as LeftKind[]).find((k) => message.startsWith(`${LEFT_KINDS[k]}:`));
  return kind ?? 'undecodable';
}

/** Images of the night's work that the lane handled since the last run: rendered on upload, or left for the night by kind. */
export interface UploadLaneCounts {
  rendered: number;
  left: Partial<Record<LeftKind, number>>;
}

export const emptyUploadLaneCounts = (): UploadLaneCounts => ({ rendered: 0, left: {} });

export function addUploadLaneCounts(into: UploadLaneCounts, c: UploadLaneCounts | undefined): void {
  if (!c) return;
  into.rendered += c.rendered;
  for (const [k, v] of Object.entries(c.left) as [LeftKind, number][]) into.left[k] = (into.left[k] ?? 0) + v;
}

/** "3 images rendered on upload; 2 left for the night (1 above onUpload.maxPixels, 1 not decodable by the function)", or undefined when the lane handled none. */
export function uploadLaneWords(c: UploadLaneCounts | undefined): string | undefined {
  const left = Object.entries(c?.left ?? {}).filter(([, v]) => v > 0) as [LeftKind, number][];
  const leftTotal = left.reduce((sum, [, v]) => sum + v, 0);
  if (!c || (c.rendered === 0 && leftTotal === 0)) return undefined;
  const reasons = left.map(([k, v]) => `${n(v)} ${LEFT_KINDS[k]}`).join(', ');
  return `${count(c.rendered, 'image')} rendered on upload since the last run; ${n(leftTotal)} left for the night${leftTotal > 0 ? ` (${reasons})` : ''}`;
}
