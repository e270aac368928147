/**
 * The record's placeholder from pixels the resize already has: the smallest decoded level (raw
 * pixels and their info), a sharp pipeline, or an encoded rendition (the backfill's small GET).
 * Shrinking an already-small level to at most 100×100 costs a fraction of a percent of the resize
 * (measured by scripts/placeholder-cost.ts); the hash and the average come from core.
 */
import sharp, { type Sharp } from 'sharp';
import { PLACEHOLDER_MAX_SIDE, placeholderOf } from '../../core/records/placeholder';
import type { Placeholder } from '../../core/records/record';

/** Raw pixels as sharp's `.raw().toBuffer({ resolveWithObject: true })` gives them. */
export interface RawLevel {
  readonly data: Buffer;
  readonly info: { readonly width: number; readonly height: number; readonly channels: number };
}

export type PlaceholderSource = Sharp | Buffer | RawLevel;

/**
 * Shrinks the source to fit 100×100 (never enlarged), as 8-bit RGBA, and computes the placeholder.
 * sharp's output is sRGB unless told otherwise, so a grey or CMYK level comes out RGB too. A sharp
 * instance is consumed: pass `.clone()` to keep using it.
 */
export async function placeholderFrom(source: PlaceholderSource): Promise<Placeholder> {
  const { data, info } = await pipelineOf(source)
    .resize(PLACEHOLDER_MAX_SIDE, PLACEHOLDER_MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
    .ensureAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return placeholderOf({ width: info.width, height: info.height, data });
}

function pipelineOf(source: PlaceholderSource): Sharp {
  if (Buffer.isBuffer(source)) return sharp(source, { pages: 1, autoOrient: true });
  if (isSharp(source)) return source;
  const { width, height, channels } = source.info;
  return sharp(source.data, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } });
}

const isSharp = (source: Sharp | RawLevel): source is Sharp => typeof (source as Sharp).toBuffer === 'function';
