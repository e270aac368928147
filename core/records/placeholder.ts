/**
 * The record's placeholder: a ThumbHash (https://evanw.github.io/thumbhash/) and the average colour,
 * both from one small RGBA image (at most 100×100: ThumbHash's encoder requires it).
 */
import { rgbaToThumbHash } from 'thumbhash';
import type { Placeholder } from './record';

/** ThumbHash's encoder takes at most this many pixels on either side. */
export const PLACEHOLDER_MAX_SIDE = 100;

export interface RgbaPixels {
  readonly width: number;
  readonly height: number;
  /** Row by row, 4 bytes a pixel, RGB not premultiplied by A (as sharp's `.ensureAlpha().raw()` gives). */
  readonly data: Uint8Array;
}

export function placeholderOf(pixels: RgbaPixels): Placeholder {
  const { width, height, data } = pixels;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > PLACEHOLDER_MAX_SIDE || height > PLACEHOLDER_MAX_SIDE) {
    throw new RangeError(`placeholder pixels must be 1-${PLACEHOLDER_MAX_SIDE} on each side, received ${width}×${height}`);
  }
  if (data.length !== width * height * 4) throw new RangeError(`placeholder pixels: expected ${width * height * 4} bytes of RGBA, received ${data.length}`);
  return { thumbhash: thumbHashBase64(rgbaToThumbHash(width, height, data)), color: averageColor(data) };
}

/** Standard base64 without the `=` padding, as the ThumbHash page shows hashes (atob and Buffer read it back as is). */
export function thumbHashBase64(hash: Uint8Array): string {
  return Buffer.from(hash).toString('base64').replace(/=+$/, '');
}

/**
 * The mean colour as `#rrggbb`, each pixel weighted by its alpha: a transparent pixel's RGB is not
 * part of the picture (encoders leave anything there), so it counts for nothing, a half-transparent
 * one for half. Averaged over the sRGB values, as ThumbHash averages. A wholly transparent image
 * has no colour to average: its pixels count equally.
 */
export function averageColor(rgba: Uint8Array): string {
  let r = 0;
  let g = 0;
  let b = 0;
  let weight = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    const a = rgba[i + 3]!;
    r += rgba[i]! * a;
    g += rgba[i + 1]! * a;
    b += rgba[i + 2]! * a;
    weight += a;
  }
  if (weight === 0) {
    for (let i = 0; i < rgba.length; i += 4) [r, g, b, weight] = [r + rgba[i]!, g + rgba[i + 1]!, b + rgba[i + 2]!, weight + 1];
  }
  const hex = (sum: number) => Math.round(sum / weight).toString(16).padStart(2, '0');
  return `#${hex(r)}${hex(g)}${hex(b)}`;
}
