/**
 * The image record (issue 28): one per selected original, the contract the applications that show
 * the renditions rely on. Built here from what the resize job already knows (the work item, the
 * source's header, the renditions it wrote) so the job, the backfill and the API agree on one shape.
 */
import { z } from 'zod';
import { OUTPUT_FORMATS, type OutputFormat } from '../config';
import type { WorkItem } from '../catalog';
import { FAILURE_CODES, type Failure, type Skip } from '../failures';
import { SKIP_REASONS } from '../catalog';
import { FORMAT_CONTENT_TYPE } from '../keys';

export const RECORD_STATUSES = ['rendered', 'failed', 'skipped'] as const;
export type RecordStatus = (typeof RECORD_STATUSES)[number];

export interface RecordReason {
  readonly code: string;
  readonly message: string;
}

/**
 * What the rendering policies did for this image (core/config.ts resize.colour, metadata,
 * animated; a preset's position): the colour space of its renditions, whether its WebP renditions
 * animate, each cropping preset's position, and what a policy could not do, with a reason.
 */
export interface RenderingNotes {
  /** `srgb`, `display-p3` (a wide-gamut source under `auto`), or `source-profile` (`preserve`). */
  readonly colour: 'srgb' | 'display-p3' | 'source-profile';
  /** Only for an animated source: `animated` WebP renditions, or the `first-frame`. */
  readonly motion?: 'animated' | 'first-frame';
  /** Each cropping preset's position: attention, entropy, a gravity, or `focal-point 0.42,0.31`. */
  readonly framing?: Readonly<Record<string, string>>;
  /** Each thing a policy could not do (e.g. `animation-over-budget`, `focal-point-invalid`). */
  readonly notes?: readonly RecordReason[];
}

export interface Placeholder {
  /** A ThumbHash, base64 (core/records/placeholder.ts). */
  readonly thumbhash: string;
  /** The image's average colour, `#rrggbb`. */
  readonly color: string;
}

export interface RenditionRecord {
  readonly preset: string;
  readonly format: OutputFormat;
  readonly key: string;
  /** Present when a delivery base URL is configured. */
  readonly url?: string;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
  readonly contentType: string;
  /** As S3 answered the PUT, quotes included. */
  readonly etag: string;
}

/** What the source's header says (all sizes as displayed, after EXIF orientation). */
export interface SourceDetails {
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly hasAlpha: boolean;
  readonly animated: boolean;
  readonly pages: number;
  readonly space: string;
}

export interface ImageRecord extends Partial<SourceDetails> {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  /** ISO 8601. */
  readonly lastModified: string;
  readonly status: RecordStatus;
  /** Only when `status` is not `rendered`: the report's code and one sentence. */
  readonly reason?: RecordReason;
  readonly placeholder?: Placeholder;
  /** When this run rendered the image; a record backfilled from current renditions, which renders nothing, has none. */
  readonly rendering?: RenderingNotes;
  /** Every rendition that exists for the current `etag` (none for most failures). */
  readonly renditions: readonly RenditionRecord[];
  readonly runId: string;
  /** ISO 8601. */
  readonly updatedAt: string;
}

/** A rendered record always carries the source's details and a placeholder. */
export type RenderedRecord = ImageRecord & SourceDetails & { readonly status: 'rendered'; readonly placeholder: Placeholder };

/**
 * What a store may keep for a deleted original, so that a redriven older run cannot bring its
 * record back (the adapter conditions writes on it). Never an image record: the API answers 404.
 */
export interface Tombstone {
  readonly key: string;
  readonly status: 'removed';
  readonly etag: string;
  /** The removed version's (the upload lane's tombstones): a newer original's record supersedes it (adapters/dynamodb.ts). */
  readonly lastModified?: string;
  readonly runId: string;
  readonly updatedAt: string;
}

export type StoredRecord = ImageRecord | Tombstone;

export const isTombstone = (r: StoredRecord): r is Tombstone => r.status === 'removed';

/** Header size as displayed: EXIF orientations 5–8 turn the image a quarter, swapping width and height. */
export function displayedSize(width: number, height: number, orientation = 1): { width: number; height: number } {
  return orientation >= 5 && orientation <= 8 ? { width: height, height: width } : { width, height };
}

/** The source's header as a decoder reports it: stored size and the orientation it applies. */
export interface SourceHeader extends Omit<SourceDetails, 'width' | 'height'> {
  /** Stored (pre-orientation) size. */
  readonly width: number;
  readonly height: number;
  /** The EXIF orientation the decoder applies (1 when it applies none, e.g. a HEIC oriented by libheif). */
  readonly orientation?: number;
}

/** What a decoder's header read reports (sharp's `metadata()` has these fields). */
export interface HeaderMetadata {
  readonly format: string;
  readonly width: number;
  readonly height: number;
  readonly orientation?: number;
  readonly pages?: number;
  readonly space: string;
  readonly hasAlpha: boolean;
  /** Frame delays: present for animated GIF and WebP (a still GIF has one frame), absent for multi-page TIFF. */
  readonly delay?: readonly number[];
}

/**
 * The record's source fields from a header read. Animated means several frames meant to play (a
 * delay per frame): a multi-page TIFF has pages but is no animation. Pass `orientation: 1` for a
 * decoder that orients the pixels itself (libheif for HEIC).
 */
export function sourceHeaderOf(meta: HeaderMetadata): SourceHeader {
  const pages = meta.pages ?? 1;
  return { format: meta.format, width: meta.width, height: meta.height, orientation: meta.orientation ?? 1, pages, space: meta.space, hasAlpha: meta.hasAlpha, animated: pages > 1 && meta.delay !== undefined };
}

export function sourceDetails(header: SourceHeader): SourceDetails {
  const { width, height } = displayedSize(header.width, header.height, header.orientation);
  return { width, height, format: header.format, hasAlpha: header.hasAlpha, animated: header.animated, pages: header.pages, space: header.space };
}

/** A rendition as the job wrote it; `contentType` and `url` are derived. */
export interface WrittenRendition {
  readonly preset: string;
  readonly format: OutputFormat;
  readonly key: string;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
  readonly etag: string;
}

/** Where records come from and when: the run and the moment of writing. */
export interface RecordContext {
  readonly runId: string;
  /** ISO 8601. */
  readonly updatedAt: string;
  /** The delivery base URL (a CDN domain, or the renditions bucket's), if configured. */
  readonly deliveryBaseUrl?: string;
}

type ItemFacts = Pick<WorkItem, 'key' | 'etag' | 'size' | 'lastModified'>;

/** `base` + the key URL-encoded per path segment (`/` kept), with exactly one `/` between them. */
export function renditionUrl(base: string, key: string): string {
  const path = key.split('/').map(encodeURIComponent).join('/');
  return `${base.replace(/\/+$/, '')}/${path}`;
}

export function renditionRecord(r: WrittenRendition, deliveryBaseUrl?: string): RenditionRecord {
  return {
    preset: r.preset,
    format: r.format,
    key: r.key,
    ...(deliveryBaseUrl ? { url: renditionUrl(deliveryBaseUrl, r.key) } : {}),
    width: r.width,
    height: r.height,
    bytes: r.bytes,
    contentType: FORMAT_CONTENT_TYPE[r.format],
    etag: r.etag,
  };
}

const itemFacts = (item: ItemFacts) => ({ key: item.key, etag: item.etag, size: item.size, lastModified: item.lastModified });

export function renderedRecord(item: ItemFacts, source: SourceDetails, placeholder: Placeholder, renditions: readonly WrittenRendition[], context: RecordContext, rendering?: RenderingNotes): RenderedRecord {
  return {
    ...itemFacts(item),
    status: 'rendered',
    ...sourceFields(source),
    placeholder: { thumbhash: placeholder.thumbhash, color: placeholder.color },
    ...(rendering ? { rendering } : {}),
    renditions: renditions.map((r) => renditionRecord(r, context.deliveryBaseUrl)),
    runId: context.runId,
    updatedAt: context.updatedAt,
  };
}

/**
 * A failed image's record. The message is the one the report shows for this failure; the code's
 * hint stands in only when a failure carries no message. `source` when the header was read.
 */
export function failedRecord(item: ItemFacts, failure: Pick<Failure, 'code' | 'message'>, context: RecordContext, source?: SourceDetails): ImageRecord {
  const message = failure.message || FAILURE_CODES[failure.code].hint;
  return notRendered(item, 'failed', { code: failure.code, message }, context, source);
}

/** A skipped image's record: the skip's own message, else the reason's wording (filter or failure code). */
export function skippedRecord(item: ItemFacts, skip: Pick<Skip, 'code' | 'message'>, context: RecordContext, source?: SourceDetails): ImageRecord {
  return notRendered(item, 'skipped', { code: skip.code, message: skip.message || reasonWording(skip.code) }, context, source);
}

function reasonWording(code: string): string {
  if (code in SKIP_REASONS) return SKIP_REASONS[code as keyof typeof SKIP_REASONS];
  if (code in FAILURE_CODES) return FAILURE_CODES[code as keyof typeof FAILURE_CODES].hint;
  return code;
}

function notRendered(item: ItemFacts, status: 'failed' | 'skipped', reason: RecordReason, context: RecordContext, source?: SourceDetails): ImageRecord {
  return { ...itemFacts(item), status, reason, ...(source ? sourceFields(source) : {}), renditions: [], runId: context.runId, updatedAt: context.updatedAt };
}

// Field by field, so a caller's wider object (sharp's metadata, SourceFacts) adds nothing to the record.
const sourceFields = (s: SourceDetails): SourceDetails => ({ width: s.width, height: s.height, format: s.format, hasAlpha: s.hasAlpha, animated: s.animated, pages: s.pages, space: s.space });

/** The folder a key lists under (as S3 lists with delimiter `/`): the key up to its last `/`, '' at the top. */
export function folderOf(key: string): string {
  return key.slice(0, key.lastIndexOf('/') + 1);
}

// ---- The contract, checked (tests, and the API's answers in tests) ----

const isoInstant = z.iso.datetime({ offset: true });
const quotedEtag = z.string().regex(/^(W\/)?".*"$/, 'an ETag as S3 returns it, quotes included');
const positiveInt = z.number().int().positive();

export const renditionRecordSchema = z.strictObject({
  preset: z.string().min(1),
  format: z.enum(OUTPUT_FORMATS),
  key: z.string().min(1),
  url: z.url().optional(),
  width: positiveInt,
  height: positiveInt,
  bytes: positiveInt,
  contentType: z.enum(Object.values(FORMAT_CONTENT_TYPE) as [string, ...string[]]),
  etag: quotedEtag,
});

const sourceShape = {
  width: positiveInt,
  height: positiveInt,
  format: z.string().min(1),
  hasAlpha: z.boolean(),
  animated: z.boolean(),
  pages: positiveInt,
  space: z.string().min(1),
};

const common = {
  key: z.string().min(1),
  etag: quotedEtag,
  size: z.number().int().nonnegative(),
  lastModified: isoInstant,
  runId: z.string().min(1),
  updatedAt: isoInstant,
};

const placeholderSchema = z.strictObject({
  // Base64 without padding, as evanw's reference page shows hashes.
  thumbhash: z.string().regex(/^[A-Za-z0-9+/]{6,}$/, 'a ThumbHash in base64 without padding'),
  color: z.string().regex(/^#[0-9a-f]{6}$/, 'a colour as #rrggbb (lower case)'),
});

const reasonSchema = z.strictObject({ code: z.string().min(1), message: z.string().min(1) });

const renderingSchema = z.strictObject({
  colour: z.enum(['srgb', 'display-p3', 'source-profile']),
  motion: z.enum(['animated', 'first-frame']).optional(),
  framing: z.record(z.string(), z.string().min(1)).optional(),
  notes: z.array(reasonSchema).optional(),
});

export const imageRecordSchema = z.discriminatedUnion('status', [
  z.strictObject({ ...common, ...sourceShape, status: z.literal('rendered'), placeholder: placeholderSchema, rendering: renderingSchema.optional(), renditions: z.array(renditionRecordSchema).min(1) }),
  z.strictObject({
    ...common,
    ...Object.fromEntries(Object.entries(sourceShape).map(([k, v]) => [k, v.optional()])),
    status: z.enum(['failed', 'skipped']),
    reason: reasonSchema,
    placeholder: placeholderSchema.optional(),
    renditions: z.array(renditionRecordSchema),
  }),
]);
