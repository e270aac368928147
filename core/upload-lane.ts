/**
 * The upload lane's sizes (issue 29), derived from its configuration: the function's memory and
 * timeout for the largest image it accepts (onUpload.maxPixels, onUpload.maxBytes), the SQS
 * event source's batch, the queue's visibility timeout and redrive. The stack builds from them
 * (infra/upload-lane.ts) and the cost model prices them (core/cost.ts, uploadLaneCost), so the
 * two never disagree.
 */
import type { OnUploadConfig, Preset } from './config';
import { type CpuArchitecture, type UploadLaneCost, uploadLaneCost } from './cost';
import { imageCostBytes, type ImageShape, minimumMemoryMiB, PIPELINE_FACTOR } from './memory-budget';
import { THROUGHPUT } from './timing';
import { UsageError } from './validation';
import { catalogLineFromText, compareLineKeys, type CatalogLine } from './catalog-line';
import { count, n } from './format';
import type { LineDiffEntry } from './line-diff';
import type { StateRecord } from './state';

/** Lambda's limits (Lambda developer guide, "Lambda quotas"): memory 128-10,240 MB, timeout 900 s. */
export const LAMBDA_MAX_MEMORY_MIB = 10_240;
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;
/**
 * At 1,769 MB a function has the equivalent of one vCPU (Lambda developer guide, "Configure Lambda
 * function memory"); below it, a render gets a share of one. libvips' work is CPU-bound, so the
 * function never gets less than one whole vCPU.
 */
export const ONE_VCPU_MIB = 1_769;

/**
 * The largest decode the function may meet at onUpload.maxPixels: 4 bands of 16 bits (a 16-bit RGBA
 * PNG or TIFF; a HEIC's two 8-bit RGBA copies weigh the same), held whole in memory.
 */
const WORST_SHAPE_PER_PIXEL = { bands: 4, bytesPerSample: 2 } as const;

export const UPLOAD_LANE = {
  /**
   * Messages a batch at most. A batch shares one invocation's fate when the function crashes (an
   * out-of-memory kill returns no partial batch response), so batches stay small; the timeout covers
   * a whole batch of the largest images rendered one after the other.
   */
  batchSize: 5,
  /** A message is received this many times before SQS moves it to the dead-letter queue (what the night then covers). */
  maxReceiveCount: 5,
  /** The queue's visibility timeout over the function's (Lambda developer guide, "Creating and configuring an Amazon SQS event source mapping": at least six times). */
  visibilityFactor: 6,
  /** Expected time × this is the function's timeout: cold starts, S3 latency, a slow neighbour. */
  safetyFactor: 3,
  /** An original read from S3 at this rate at least (MiB/s), assumed: what one Lambda function's GET of a large object does in its Region. */
  readMiBPerSecond: 50,
  /** A cold start (Node, sharp and libvips loaded) and the record's write, per invocation (s), assumed. */
  overheadSeconds: 10,
} as const;

export interface UploadLaneSizes {
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
  readonly batchSize: number;
  readonly maxReceiveCount: number;
  readonly visibilityTimeoutSeconds: number;
  /** Expected seconds of one image of `megapixels` (1 vCPU), as the cost model prices it. */
  readonly secondsPerImage: (megapixels: number, bytes: number) => number;
}

/** vCPU-seconds to render one image of `megapixels` with the configured presets: the resize job's measured rate (12-MP JPEGs). */
function renderSeconds(megapixels: number): number {
  return megapixels / 12 / THROUGHPUT.resize.objectsPerVcpuSecond;
}

/** One image's expected time on one vCPU: its read, then its render. */
function imageSeconds(megapixels: number, bytes: number): number {
  return bytes / (1024 * 1024) / UPLOAD_LANE.readMiBPerSecond + renderSeconds(megapixels);
}

/**
 * The function's sizes for the largest image it accepts. One image is rendered at a time (the
 * handler's contract), so memory covers one: the project's memory model (core/memory-budget.ts)
 * of the worst decode at maxPixels and maxBytes read, never less than one vCPU's worth. Fails
 * with one line naming the setting when no Lambda function can hold such an image.
 */
export function uploadLaneSizes(onUpload: Pick<OnUploadConfig, 'maxPixels' | 'maxBytes'>): UploadLaneSizes {
  const shape: ImageShape = { width: onUpload.maxPixels, height: 1, ...WORST_SHAPE_PER_PIXEL };
  const needed = minimumMemoryMiB(imageCostBytes(shape, onUpload.maxBytes));
  if (needed > LAMBDA_MAX_MEMORY_MIB) {
    // Name the setting that weighs most: the original held whole, or its decode.
    const decoded = onUpload.maxPixels * WORST_SHAPE_PER_PIXEL.bands * WORST_SHAPE_PER_PIXEL.bytesPerSample * PIPELINE_FACTOR;
    const [field, value] = onUpload.maxBytes > decoded ? ['onUpload.maxBytes', onUpload.maxBytes] : ['onUpload.maxPixels', onUpload.maxPixels];
    throw new UsageError(
      `${field}: ${value}: an image of ${onUpload.maxPixels} pixels and ${onUpload.maxBytes} bytes needs about ${needed.toLocaleString('en-US')} MiB to render, more than Lambda's ${LAMBDA_MAX_MEMORY_MIB.toLocaleString('en-US')} MB: lower ${field} (larger images are left for the night)`,
    );
  }
  const worst = imageSeconds(onUpload.maxPixels / 1e6, onUpload.maxBytes) * UPLOAD_LANE.safetyFactor;
  // Whatever fits in 10,240 MB is read and rendered well within 900 s (about 480 s at worst, a
  // 7.7 GiB original), so a batch of one always fits; larger originals make smaller batches.
  const batchSize = Math.max(1, Math.min(UPLOAD_LANE.batchSize, Math.floor((LAMBDA_MAX_TIMEOUT_SECONDS - UPLOAD_LANE.overheadSeconds) / worst)));
  const timeoutSeconds = Math.ceil(UPLOAD_LANE.overheadSeconds + worst * batchSize);
  return {
    memoryMiB: Math.max(ONE_VCPU_MIB, needed),
    timeoutSeconds,
    batchSize,
    maxReceiveCount: UPLOAD_LANE.maxReceiveCount,
    visibilityTimeoutSeconds: timeoutSeconds * UPLOAD_LANE.visibilityFactor,
    secondsPerImage: imageSeconds,
  };
}

/** The key prefixes renditions are written under: one per preset (core/keys.ts, renditionKey). */
export function renditionPrefixes(presets: readonly Pick<Preset, 'name'>[]): string[] {
  return presets.map((p) => `${p.name}/`);
}

/**
 * Never a loop: when the renditions are written to the bucket that notifies the lane, each
 * rendition written on upload would notify it again. S3's notification filter cannot exclude a
 * prefix, so the lane is safe only when the function itself drops every rendition prefix
 * (filter.excludePrefixes covers it). The one line that says so, or undefined.
 */
export function uploadLoopProblem(sameBucket: { readonly field: string; readonly value: string } | undefined, presets: readonly Pick<Preset, 'name'>[], excludePrefixes: readonly string[]): string | undefined {
  if (!sameBucket) return undefined;
  const open = renditionPrefixes(presets).filter((prefix) => !excludePrefixes.some((excluded) => prefix.startsWith(excluded)));
  if (open.length === 0) return undefined;
  return `${sameBucket.field}: ${JSON.stringify(sameBucket.value)} holds the renditions too, so every rendition written on upload would notify the upload lane again (a loop): keep the renditions in their own bucket, or add ${JSON.stringify(open)} to filter.excludePrefixes`;
}

/** The upload the README prices: a 12-MP JPEG of about 5 MiB, as the benchmark's corpus (README, "Performance"). */
export const TYPICAL_UPLOAD = { megapixels: 12, bytes: 5 * 1024 * 1024 } as const;

/** What a thousand typical uploads cost in the lane as configured: its sizes, priced (core/cost.ts). */
export function uploadsCostPerThousand(onUpload: Pick<OnUploadConfig, 'maxPixels' | 'maxBytes'>, architecture: CpuArchitecture): UploadLaneCost {
  const sizes = uploadLaneSizes(onUpload);
  return uploadLaneCost({ architecture, memoryMiB: sizes.memoryMiB, secondsPerImage: sizes.secondsPerImage(TYPICAL_UPLOAD.megapixels, TYPICAL_UPLOAD.bytes), maxReceiveCount: sizes.maxReceiveCount });
}

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
  'shared-stem': 'shares its rendition keys with another image',
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