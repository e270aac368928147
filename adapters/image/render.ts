/**
 * The resize kernel: one image in (a buffer), every preset × format out, with sharp.
 *
 * - The header is read first: content that is not an accepted image format, or that has more
 *   pixels than the limit, is rejected before any pixel is decoded.
 * - The image is decoded once, auto-oriented from EXIF, and resized to the preset that needs the
 *   most pixels (shrink-on-load applies). Each smaller preset is resized from the previous uncropped
 *   level ("cascade"), never from the original again; every format of a preset is encoded from the
 *   same level. Measured on 12-MP JPEGs this is 1.7× faster than decoding per rendition.
 * - Output is 8 bits, never enlarged; JPEG gets a white background where the source has
 *   transparency. The policies (core/config.ts resize.colour, metadata, animated; a preset's fit
 *   and position) decide the rest, the same here for the night and on upload:
 *   - colour `auto`: a source tagged with a wide-gamut profile goes through a 16-bit pipeline,
 *     where sharp's processing profile is Display P3 (an 8-bit tagged source is converted to sRGB
 *     on load, clipping it), and is written with the P3 profile; the rest as sRGB. `preserve`
 *     keeps the source's profile (no cascade: a raw level has no profile to keep).
 *   - metadata: the kept fields are written explicitly (withExif / withXmp, core/image-metadata.ts):
 *     sharp's keepExif would copy GPS, serial numbers and the thumbnail wholesale.
 *   - an animated source renders to animated WebP within resize.maxAnimatedPixels (frames ×
 *     width × height); every other format takes its first frame.
 * - HEIC (HEVC-compressed HEIF, what iPhones write): the prebuilt libvips has no HEVC decoder, so
 *   libheif itself decodes it (heic-decode: libheif compiled to WebAssembly), after the same header
 *   check and pixel limit. libheif applies the HEIF orientation (the irot/imir boxes); an EXIF
 *   orientation inside a HEIC is informational (ISO/IEC 23008-12) and is not applied again, as
 *   libvips does for HEIF. Measured here: a 4032×3024 HEIC decodes in ~0.7 s at ~220 MB RSS.
 */
import type heicDecode from 'heic-decode';
import sharp, { type Sharp } from 'sharp';
import { ANIMATED_FORMATS, type ColourPolicy, INPUT_FORMATS, type MetadataGroup, type MotionPolicy, type OutputFormat, type PipelineConfig, type Position, type Preset } from '../../core/config';
import type { FailureCode } from '../../core/failures';
import { FOCAL_POINT_META, type FocalPoint, keptMetadata, type KeptMetadata, parseFocalPoint, profileFacts, type ProfileFacts } from '../../core/image-metadata';
import { qualityOf } from '../../core/recipe';
import { type RecordReason, type RenderingNotes, sourceHeaderOf, type Placeholder, type SourceDetails } from '../../core/records/record';
import { placeholderFrom } from './placeholder';

export interface RenderOptions {
  readonly maxPixels: number;
  readonly failOn: 'none' | 'truncated' | 'error' | 'warning';
  readonly webpEffort: number;
  readonly avifEffort: number;
  readonly colour: ColourPolicy;
  readonly metadata: 'strip' | readonly MetadataGroup[];
  readonly animated: MotionPolicy;
  readonly maxAnimatedPixels: number;
}

/** The render options of a configuration: one place, so the night and the upload lane render alike. */
export function renderOptionsOf(config: Pick<PipelineConfig, 'filter' | 'resize'>): RenderOptions {
  const { resize } = config;
  return {
    maxPixels: config.filter.maxPixels,
    failOn: resize.failOn,
    webpEffort: resize.webpEffort,
    avifEffort: resize.avifEffort,
    colour: resize.colour,
    metadata: resize.metadata,
    animated: resize.animated,
    maxAnimatedPixels: resize.maxAnimatedPixels,
  };
}

/** What the policies make of this source: its renditions' colour space, and whether its frames are all decoded. */
export interface RenderPlan {
  readonly colour: 'srgb' | 'p3' | 'source';
  readonly animate: boolean;
  readonly notes: readonly RecordReason[];
}

export interface SourceFacts {
  readonly format: string;
  /** Displayed size (after EXIF orientation); one frame's for an animation. */
  readonly width: number;
  readonly height: number;
  readonly pages: number;
  /** Several frames meant to play (core/records/record.ts sourceHeaderOf), not a multi-page TIFF. */
  readonly animated: boolean;
  readonly space: string;
  readonly hasAlpha: boolean;
  readonly orientation: number;
  /** HEVC-compressed HEIF: decoded by libheif, not libvips. */
  readonly hevc: boolean;
  /** Channels and bytes per channel as decoded: with the pixels, what the decode holds (core/memory-budget.ts). */
  readonly bands: number;
  readonly bytesPerSample: number;
  readonly decodedCopies: number;
  /** The embedded ICC profile's facts, when there is one. */
  readonly profile?: ProfileFacts;
  /** An animation's frame delays (ms) and loop count, as the source has them. */
  readonly delay?: readonly number[];
  readonly loop?: number;
  /** The embedded metadata blocks, for the metadata policy. */
  readonly embedded: { readonly exif?: Buffer; readonly xmp?: Buffer; readonly iptc?: Buffer };
  /** Set when inspect was given the policies: the decode it sized (bands, bytes, copies) for. */
  readonly plan?: RenderPlan;
}

/** Bytes per sample of each libvips band format (sharp's `depth`). */
const SAMPLE_BYTES: Record<string, number> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, complex: 8, double: 8, dpcomplex: 16 };

export interface Rendition {
  readonly preset: string;
  readonly format: OutputFormat;
  readonly width: number;
  readonly height: number;
  readonly data: Buffer;
}

/** A per-image failure with the code the report uses. */
export class RenderError extends Error {
  override readonly name = 'RenderError';
  constructor(
    readonly code: FailureCode,
    message: string,
  ) {
    super(message);
  }
}

type PolicyOptions = Pick<RenderOptions, 'colour' | 'animated' | 'maxAnimatedPixels'>;

/**
 * Reads the header only and checks that the image may be decoded. Given the policies, the facts
 * carry the plan and size the decode it needs (16 bits for a wide-gamut source, every frame of an
 * animation), so that the memory budget admits it for what it will hold.
 */
export async function inspect(input: Buffer, options: Pick<RenderOptions, 'maxPixels'> & Partial<PolicyOptions>): Promise<SourceFacts> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new RenderError('unsupported-format', `not a readable image: ${(error as Error).message}`);
  }
  if (!(INPUT_FORMATS as readonly string[]).includes(meta.format)) {
    throw new RenderError('unsupported-format', `content is ${meta.format.toUpperCase()}, not one of ${INPUT_FORMATS.join(', ')} (the format is sniffed from the bytes, not the name)`);
  }
  const pixels = meta.width * meta.height;
  if (pixels > options.maxPixels) {
    throw new RenderError('too-many-pixels', `${meta.width}×${meta.height} = ${pixels.toLocaleString('en-US')} pixels exceeds the limit of ${options.maxPixels.toLocaleString('en-US')} (filter.maxPixels)`);
  }
  const hevc = meta.format === 'heif' && meta.compression === 'hevc';
  const profile = meta.icc && !hevc ? profileFacts(meta.icc) : undefined;
  const facts: SourceFacts = {
    format: meta.format,
    width: meta.autoOrient.width,
    height: meta.autoOrient.height,
    pages: meta.pages ?? 1,
    animated: sourceHeaderOf(meta).animated,
    space: meta.space,
    hasAlpha: meta.hasAlpha,
    orientation: meta.orientation ?? 1,
    hevc,
    // libheif decodes a HEIC to 8-bit RGBA, whatever it holds.
    bands: hevc ? 4 : meta.channels,
    bytesPerSample: hevc ? 1 : (SAMPLE_BYTES[meta.depth] ?? 8),
    // libheif's output in its WebAssembly memory, and again as a Buffer (decodeHeic).
    decodedCopies: hevc ? 2 : 1,
    ...(profile ? { profile } : {}),
    ...(meta.delay ? { delay: meta.delay, loop: meta.loop ?? 0 } : {}),
    embedded: { exif: meta.exif, xmp: meta.xmp, iptc: meta.iptc },
  };
  if (options.colour === undefined || options.animated === undefined || options.maxAnimatedPixels === undefined) return facts;
  const plan = planOf(facts, options as PolicyOptions);
  return {
    ...facts,
    plan,
    bytesPerSample: plan.colour === 'p3' ? Math.max(2, facts.bytesPerSample) : facts.bytesPerSample,
    decodedCopies: facts.decodedCopies * (plan.animate ? facts.pages : 1),
  };
}

/** The colour space and motion the policies give this source (RenderPlan). */
export function planOf(facts: Omit<SourceFacts, 'plan'>, options: PolicyOptions): RenderPlan {
  const notes: RecordReason[] = [];
  const tagged = facts.profile?.rgb === true;
  const colour = options.colour === 'preserve' && tagged ? 'source' : options.colour === 'auto' && tagged && facts.profile!.wideGamut ? 'p3' : 'srgb';
  let animate = facts.animated && options.animated === 'animate';
  const animatedPixels = facts.pages * facts.width * facts.height;
  if (animate && animatedPixels > options.maxAnimatedPixels) {
    animate = false;
    notes.push({
      code: 'animation-over-budget',
      message: `${facts.pages} frames of ${facts.width}×${facts.height} = ${animatedPixels.toLocaleString('en-US')} pixels exceeds resize.maxAnimatedPixels (${options.maxAnimatedPixels.toLocaleString('en-US')}): rendered as its first frame; raise the limit to animate it`,
    });
  }
  return { colour, animate, notes };
}

function fromHeic(heic: Level, hasAlpha: boolean): Sharp {
  const image = rawInput(heic, false);
  return hasAlpha ? image : image.removeAlpha();
}

/** A HEIC's primary image as raw RGBA pixels, oriented by libheif. */
async function decodeHeic(input: Buffer): Promise<Level> {
  let image: Awaited<ReturnType<typeof heicDecode>>;
  // Loaded on the first HEIC only: libheif's WebAssembly costs every job's start-up otherwise.
  const decode = (await import('heic-decode')).default;
  try {
    image = await withHeifReports(() => decode({ buffer: input }));
  } catch (error) {
    const why = lastHeifReport;
    lastHeifReport = undefined;
    throw new RenderError('decode-failed', `HEIC: ${why ? `${why} (${(error as Error).message})` : (error as Error).message}`);
  }
  const data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return { data, info: { width: image.width, height: image.height, channels: 4 } as sharp.OutputInfo, sixteenBits: false };
}

/**
 * libheif (WebAssembly) says why a decode failed only with console.log ("Decoding image failed",
 * then an object with its message) before failing with "HEIF processing error". While a HEIC
 * decodes, that report is kept off stdout (the job's log lines are JSON) and becomes the failure's
 * message. libheif logs and fails in the same task, and the decode's rejection is handled before
 * any other task runs, so the last report is the failing decode's.
 */
let heicDecodes = 0;
let lastHeifReport: string | undefined;
let consoleLog: typeof console.log = console.log;

function captureHeifReport(...args: unknown[]): void {
  if (args[0] !== 'Decoding image failed') return consoleLog(...args);
  const detail = args[2] as { message?: unknown } | undefined;
  lastHeifReport = typeof detail?.message === 'string' ? detail.message.trim() : undefined;
}

async function withHeifReports<T>(decode: () => Promise<T>): Promise<T> {
  if (heicDecodes++ === 0) {
    consoleLog = console.log;
    console.log = captureHeifReport;
  }
  try {
    return await decode();
  } finally {
    if (--heicDecodes === 0) console.log = consoleLog;
  }
}

/** The scale (≤ 1) a preset needs relative to the displayed source: presets needing more come first. */
export function presetScale(preset: Preset, width: number, height: number): number {
  const sx = preset.width / width;
  const sy = preset.height === undefined ? sx : preset.height / height;
  const crops = preset.height !== undefined && (preset.fit === 'cover' || preset.fit === 'outside' || preset.fit === 'fill');
  return Math.min(1, crops ? Math.max(sx, sy) : Math.min(sx, sy));
}

/** Decoded pixels, 8 or 16 bits per sample; an animation's frames stacked, each `pageHeight` high. */
interface Level {
  readonly data: Buffer;
  readonly info: sharp.OutputInfo;
  readonly sixteenBits: boolean;
  readonly pageHeight?: number;
}

/** The record's source fields (core/records/record.ts) from the facts inspect read. */
export function sourceDetailsOf(facts: SourceFacts): SourceDetails {
  return { width: facts.width, height: facts.height, format: facts.format, hasAlpha: facts.hasAlpha, animated: facts.animated, pages: facts.pages, space: facts.space };
}

export interface Rendered {
  readonly source: SourceFacts;
  readonly renditions: Rendition[];
  /** From the smallest whole-image level the cascade decoded (the record's placeholder). */
  readonly placeholder: Placeholder;
  /** What the policies did (the record's `rendering`). */
  readonly rendering: RenderingNotes;
}

/** What is known of the stored object beyond its bytes: its user metadata (S3 returns it on GET, names lower-cased, without `x-amz-meta-`). */
export interface ObjectFacts {
  readonly metadata?: Readonly<Record<string, string>>;
}

/** One image's rendering: its bytes, facts, plan and what the policies decided for it. */
interface RenderContext {
  readonly input: Buffer;
  readonly source: SourceFacts;
  readonly options: RenderOptions;
  readonly plan: RenderPlan;
  /** Every frame decoded: the source animates and some rendition is in a format that can. */
  readonly animate: boolean;
  readonly kept?: KeptMetadata;
  readonly focal?: FocalPoint;
}

/** One preset's pixels, to encode in each format: a raw level (the cascade), or for `preserve` a pipeline from the source (a raw level cannot carry its profile). */
type Pixels = { readonly level: Level } | { readonly pipeline: (animated: boolean) => Sharp };

const COLOUR_NAMES = { srgb: 'srgb', p3: 'display-p3', source: 'source-profile' } as const;

/**
 * `inspected`: the input's facts when the caller read its header already (inspect); `object`: the
 * stored object's user metadata (an uploader's focal point).
 */
export async function render(input: Buffer, presets: readonly Preset[], options: RenderOptions, inspected?: SourceFacts, object?: ObjectFacts): Promise<Rendered> {
  const source = inspected ?? (await inspect(input, options));
  const plan = source.plan ?? planOf(source, options);
  const notes = [...plan.notes];
  const ctx: RenderContext = {
    input,
    source,
    options,
    plan,
    animate: plan.animate && presets.some((p) => p.formats.some((f) => ANIMATED_FORMATS.includes(f))),
    ...(options.metadata === 'strip' ? {} : { kept: keptMetadata(source.embedded, options.metadata) }),
    ...focalPointOf(object, notes),
  };
  const ordered = [...presets].sort((a, b) => presetScale(b, source.width, source.height) - presetScale(a, source.width, source.height));
  const renditions: Rendition[] = [];
  const framing: Record<string, string> = {};
  let level: Level | undefined;
  const heic = source.hevc ? await decodeHeic(input) : undefined;
  for (const preset of ordered) {
    const crop = cropOf(ctx, preset);
    if (crop) framing[preset.name] = crop.name;
    const pixels = await resizePreset(ctx, preset, level, heic);
    const outputs = await Promise.all(preset.formats.map((format) => encode(ctx, pixels, preset, format)));
    preset.formats.forEach((format, i) => renditions.push({ preset: preset.name, format, ...outputs[i]! }));
    if (keepsWholeImage(preset) && 'level' in pixels) level = pixels.level;
  }
  const rendering: RenderingNotes = {
    colour: COLOUR_NAMES[plan.colour],
    ...(source.animated ? { motion: ctx.animate ? 'animated' : 'first-frame' } : {}),
    ...(Object.keys(framing).length > 0 ? { framing } : {}),
    ...(notes.length > 0 ? { notes } : {}),
  };
  return { source, renditions, placeholder: await placeholderOfLevel(ctx, level, heic), rendering };
}

/** The uploader's focal point when it is valid; an invalid one is noted and ignored (a crop never fails on it). */
function focalPointOf(object: ObjectFacts | undefined, notes: RecordReason[]): { focal?: FocalPoint } {
  const value = object?.metadata?.[FOCAL_POINT_META];
  if (value === undefined) return {};
  const parsed = parseFocalPoint(value);
  if ('error' in parsed) return void notes.push({ code: 'focal-point-invalid', message: parsed.error }), {};
  return { focal: parsed };
}

/** The preset's pixels, resized from the previous whole-image level, the HEIC's pixels or the source. */
async function resizePreset(ctx: RenderContext, preset: Preset, level: Level | undefined, heic: Level | undefined): Promise<Pixels> {
  const crop = cropOf(ctx, preset);
  const shape = (image: Sharp, frames = 1): Sharp => {
    if (crop?.focal) return image.resize(crop.focal.resize).extract(crop.focal.extract);
    const size = resizeFor(preset, ctx.source, crop?.position);
    // A level's frames are one tall image to sharp: each is resized alike by resizing it whole.
    return image.resize(frames > 1 ? { ...size, height: size.height! * frames } : size);
  };
  if (ctx.plan.colour === 'source') return { pipeline: (animated) => shape(decode(ctx, animated)) };
  // A crop of an animation is made frame by frame by sharp from the source, not from a level's stacked frames.
  const fromLevel = level && !(level.pageHeight && crop);
  const from: Sharp = fromLevel ? rawInput(level, false, true) : heic ? fromHeic(heic, ctx.source.hasAlpha) : decode(ctx, ctx.animate);
  const sixteenBits = ctx.plan.colour === 'p3';
  const frames = ctx.animate ? ctx.source.pages : 1;
  try {
    const resized = await shape(from, fromLevel ? frames : 1)
      .toColourspace(sixteenBits ? 'rgb16' : 'srgb')
      .raw({ depth: sixteenBits ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { level: { data: resized.data, info: resized.info, sixteenBits, ...(frames > 1 ? { pageHeight: resized.info.height / frames } : {}) } };
  } catch (error) {
    throw classifyDecodeError(error);
  }
}

/**
 * Where a cover preset crops: the uploader's focal point, else the preset's position. sharp's
 * attention and entropy strategies do not apply to animations: those crop at the centre (so does
 * a focal point, the crop being sharp's own, frame by frame).
 */
function cropOf(ctx: RenderContext, preset: Preset): { name: string; position: Position; focal?: ReturnType<typeof focalCrop> } | undefined {
  if (preset.fit !== 'cover' || preset.height === undefined) return undefined;
  const position = preset.position ?? 'attention';
  if (ctx.animate && (ctx.focal || position === 'attention' || position === 'entropy')) return { name: 'centre', position: 'centre' };
  if (ctx.focal) return { name: `focal-point ${ctx.focal.x},${ctx.focal.y}`, position, focal: focalCrop(preset as Preset & { height: number }, ctx.source, ctx.focal) };
  return { name: position, position };
}

/**
 * A cover crop around the uploader's focal point: scaled to cover the box (never enlarged), then
 * the box's window centred on the point as far as the image allows.
 */
export function focalCrop(preset: Preset & { height: number }, source: { width: number; height: number }, focal: FocalPoint): { resize: sharp.ResizeOptions; extract: sharp.Region } {
  const scale = Math.min(1, Math.max(preset.width / source.width, preset.height / source.height));
  const [width, height] = [Math.max(1, Math.round(source.width * scale)), Math.max(1, Math.round(source.height * scale))];
  const [boxWidth, boxHeight] = [Math.min(preset.width, width), Math.min(preset.height, height)];
  const clamp = (v: number, max: number) => Math.min(Math.max(0, Math.round(v)), max);
  return {
    resize: { width, height, fit: 'fill' },
    extract: { left: clamp(focal.x * width - boxWidth / 2, width - boxWidth), top: clamp(focal.y * height - boxHeight / 2, height - boxHeight), width: boxWidth, height: boxHeight },
  };
}

/**
 * The cascade's last whole-image level is its smallest: the placeholder shrinks it further. When
 * every preset crops, or the levels are not 8-bit sRGB (Display P3, a kept profile), the source is
 * decoded again for it, in sRGB (shrink-on-load keeps that cheap).
 */
async function placeholderOfLevel(ctx: RenderContext, level: Level | undefined, heic: Level | undefined): Promise<Placeholder> {
  try {
    if (level && !level.sixteenBits) return await placeholderFrom(level.pageHeight ? rawInput(level, false) : level);
    if (heic) return await placeholderFrom(fromHeic(heic, ctx.source.hasAlpha));
    return await placeholderFrom(sharp(ctx.input, { failOn: ctx.options.failOn, limitInputPixels: ctx.options.maxPixels, pages: 1, autoOrient: true }));
  } catch (error) {
    throw classifyDecodeError(error);
  }
}

/**
 * A whole-image preset's size is computed once from the source's displayed size, so that a
 * rendition cascaded through smaller levels has exactly the size a direct resize would give
 * (rounding at each level would otherwise drift by a pixel). Cropping presets have a fixed box,
 * cropped where the preset's position says (sharp's attention strategy by default).
 */
export function resizeFor(preset: Preset, source: { width: number; height: number }, position?: Position): sharp.ResizeOptions {
  if (!keepsWholeImage(preset)) {
    const at = preset.fit === 'cover' ? (position ?? preset.position ?? 'attention') : undefined;
    return { width: preset.width, height: preset.height, fit: preset.fit, withoutEnlargement: true, ...(at ? { position: SHARP_POSITIONS[at] ?? at } : {}) };
  }
  const scale = presetScale(preset, source.width, source.height);
  return { width: Math.max(1, Math.round(source.width * scale)), height: Math.max(1, Math.round(source.height * scale)), fit: 'fill' };
}

const SHARP_POSITIONS: Partial<Record<string, number>> = { attention: sharp.strategy.attention, entropy: sharp.strategy.entropy };

/** Only a level that is the whole image at its own aspect ratio (no crop, padding or stretch) can feed a smaller preset. */
function keepsWholeImage(preset: Preset): boolean {
  return preset.height === undefined || preset.fit === 'inside' || preset.fit === 'outside';
}

/**
 * The source, auto-oriented, the pixel limit enforced again by libvips itself: the first frame
 * only unless it animates. Display P3 output takes a 16-bit pipeline, where sharp's processing
 * profile is P3 (in 8 bits it converts to sRGB on load, clipping); `preserve` keeps the profile.
 */
function decode(ctx: RenderContext, animated: boolean): Sharp {
  const { options, plan } = ctx;
  const limit = animated ? Math.max(options.maxPixels, options.maxAnimatedPixels) : options.maxPixels;
  const image = sharp(ctx.input, { failOn: options.failOn, limitInputPixels: limit, pages: animated ? -1 : 1, autoOrient: true });
  if (plan.colour === 'p3') return image.pipelineColourspace('rgb16');
  if (plan.colour === 'source') return image.keepIccProfile();
  return image;
}

/**
 * A level as sharp input: 16-bit samples as such; an animation's frames for encoding (`animated`),
 * stacked as one image (`stacked`, to resize them alike), or its first frame.
 */
function rawInput(level: Level, animated: boolean, stacked = false): Sharp {
  const { width, height, channels } = level.info;
  const data = level.sixteenBits ? new Uint16Array(level.data.buffer, level.data.byteOffset, level.data.byteLength / 2) : level.data;
  const raw = { width, height, channels: channels as 1 | 2 | 3 | 4 };
  if (!level.pageHeight || stacked) return sharp(data, { raw });
  if (animated) return sharp(data, { raw: { ...raw, pageHeight: level.pageHeight } });
  return sharp(data, { raw }).extract({ left: 0, top: 0, width, height: level.pageHeight });
}

async function encode(ctx: RenderContext, pixels: Pixels, preset: Preset, format: OutputFormat): Promise<Omit<Rendition, 'preset' | 'format'>> {
  const animated = ctx.animate && ANIMATED_FORMATS.includes(format);
  let image = withPolicies(ctx, 'level' in pixels ? rawInput(pixels.level, animated) : pixels.pipeline(animated));
  const quality = qualityOf(preset, format);
  try {
    switch (format) {
      case 'jpeg':
        if (ctx.source.hasAlpha || ('level' in pixels && (pixels.level.info.channels === 4 || pixels.level.info.channels === 2))) image = image.flatten({ background: '#ffffff' });
        image = image.jpeg({ quality });
        break;
      case 'webp':
        image = image.webp({ quality, effort: ctx.options.webpEffort, lossless: preset.lossless === true && ctx.source.hasAlpha, ...(animated ? { loop: ctx.source.loop ?? 0, delay: [...(ctx.source.delay ?? [])] } : {}) });
        break;
      case 'avif':
        image = image.avif({ quality, effort: ctx.options.avifEffort });
        break;
      case 'png':
        image = image.png();
        break;
      case 'gif':
        image = image.gif(animated ? { loop: ctx.source.loop ?? 0, delay: [...(ctx.source.delay ?? [])] } : {});
        break;
    }
    const { data, info } = await image.toBuffer({ resolveWithObject: true });
    const height = animated && 'level' in pixels && pixels.level.pageHeight ? pixels.level.pageHeight : (info.pageHeight ?? info.height);
    return { width: info.width, height, data };
  } catch (error) {
    throw new RenderError('encode-failed', `${format}: ${(error as Error).message}`);
  }
}

/** The colour profile and the kept metadata (written field by field: nothing else of the source's travels). */
function withPolicies(ctx: RenderContext, image: Sharp): Sharp {
  if (ctx.plan.colour === 'p3') image = image.withIccProfile('p3');
  const { kept } = ctx;
  if (kept && Object.keys(kept.exif).length > 0) image = image.withExif(kept.exif);
  if (kept?.xmp) image = image.withXmp(kept.xmp);
  return image;
}

function classifyDecodeError(error: unknown): RenderError {
  const message = (error as Error).message ?? String(error);
  if (/pixel limit/i.test(message)) return new RenderError('too-many-pixels', message);
  if (/unsupported image format|bad seek|no decoder|not in a known format/i.test(message)) return new RenderError('unsupported-format', message);
  return new RenderError('decode-failed', message);
}
