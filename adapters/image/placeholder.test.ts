/**
 * The placeholder from real images made with sharp: the ThumbHash decodes (with the reference
 * implementation's own decoder) back to roughly the image, with its alpha and its aspect ratio.
 */
import sharp from 'sharp';
import { thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA, thumbHashToRGBA } from 'thumbhash';
import { averageColor, placeholderOf } from '../../core/records/placeholder';
import { placeholderFrom } from './placeholder';

const hashBytes = (base64: string) => new Uint8Array(Buffer.from(base64, 'base64'));
const rgbOf = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

/** A width×height image: left half `left`, right half `right` (RGBA 0-255). */
function halves(width: number, height: number, left: number[], right: number[]): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(x < width / 2 ? left : right, (y * width + x) * 4);
  return sharp(data, { raw: { width, height, channels: 4 } }).png().toBuffer();
}

describe('placeholderFrom', () => {
  it('gives a solid colour image that colour, and a hash that decodes to it', async () => {
    const jpeg = await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#3a7bd5' } }).jpeg({ quality: 95 }).toBuffer();
    const { thumbhash, color } = await placeholderFrom(jpeg);
    const [r, g, b] = rgbOf(color);
    // JPEG's chroma rounding moves a flat colour by a unit or two.
    expect(Math.abs(r! - 0x3a)).toBeLessThanOrEqual(2);
    expect(Math.abs(g! - 0x7b)).toBeLessThanOrEqual(2);
    expect(Math.abs(b! - 0xd5)).toBeLessThanOrEqual(2);
    const avg = thumbHashToAverageRGBA(hashBytes(thumbhash));
    expect(Math.abs(avg.r * 255 - 0x3a)).toBeLessThan(8);
    expect(Math.abs(avg.b * 255 - 0xd5)).toBeLessThan(8);
    expect(avg.a).toBe(1);
  });

  it('hashes to roughly the image: a red-left/blue-right picture decodes red on the left, blue on the right', async () => {
    const png = await halves(400, 200, [220, 20, 20, 255], [20, 20, 220, 255]);
    const { thumbhash } = await placeholderFrom(png);
    const { w, h, rgba } = thumbHashToRGBA(hashBytes(thumbhash));
    const at = (x: number, y: number) => Array.from(rgba.subarray((y * w + x) * 4, (y * w + x) * 4 + 4));
    const [lr, , lb] = at(Math.floor(w * 0.1), Math.floor(h / 2));
    const [rr, , rb] = at(Math.floor(w * 0.9), Math.floor(h / 2));
    expect(lr! - lb!).toBeGreaterThan(100);
    expect(rb! - rr!).toBeGreaterThan(100);
  });

  it('records alpha: a half-transparent PNG hashes with alpha, and the colour ignores transparent pixels', async () => {
    // Left half opaque green, right half fully transparent *red*: the red is not in the picture.
    const png = await halves(200, 200, [0, 200, 0, 255], [255, 0, 0, 0]);
    const { thumbhash, color } = await placeholderFrom(png);
    const avg = thumbHashToAverageRGBA(hashBytes(thumbhash));
    expect(avg.a).toBeLessThan(0.75);
    expect(avg.a).toBeGreaterThan(0.25);
    // The hash's has_alpha bit (byte 2's top bit, per the format on evanw.github.io/thumbhash).
    expect(hashBytes(thumbhash)[2]! & 0x80).toBe(0x80);
    expect(color).toBe('#00c800');
  });

  it('keeps the aspect ratio: portrait stays portrait, landscape landscape', async () => {
    const portrait = await sharp({ create: { width: 600, height: 1200, channels: 3, background: '#808080' } }).png().toBuffer();
    const landscape = await sharp({ create: { width: 1600, height: 400, channels: 3, background: '#808080' } }).png().toBuffer();
    const ratio = async (image: Buffer) => thumbHashToApproximateAspectRatio(hashBytes((await placeholderFrom(image)).thumbhash));
    expect(await ratio(portrait)).toBeLessThan(0.75);
    expect(await ratio(landscape)).toBeGreaterThan(2);
  });

  it('applies the EXIF orientation of an encoded rendition or original (orientation 6: portrait as displayed)', async () => {
    const stored = await sharp({ create: { width: 1600, height: 400, channels: 3, background: '#808080' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const { thumbhash } = await placeholderFrom(stored);
    expect(thumbHashToApproximateAspectRatio(hashBytes(thumbhash))).toBeLessThan(0.5);
  });

  it('takes a decoded level (raw pixels, any channel count) or a sharp pipeline as cheaply as a buffer', async () => {
    const image = sharp({ create: { width: 320, height: 240, channels: 3, background: '#c08040' } });
    const level = await image.clone().raw().toBuffer({ resolveWithObject: true });
    const grey = await image.clone().greyscale().raw().toBuffer({ resolveWithObject: true });
    expect(grey.info.channels).toBe(1);
    const fromLevel = await placeholderFrom(level);
    const fromPipeline = await placeholderFrom(image.clone());
    expect(fromLevel).toEqual(fromPipeline);
    expect(fromLevel.color).toBe('#c08040');
    expect((await placeholderFrom(grey)).color).toMatch(/^#([0-9a-f]{2})\1\1$/);
  });
});

describe('placeholderOf (core)', () => {
  it('writes the hash as base64 without padding, as the ThumbHash page shows it', () => {
    // An opaque landscape hash is 19 bytes: padded base64 would end in "==".
    const data = new Uint8Array(20 * 10 * 4).fill(255);
    const { thumbhash } = placeholderOf({ width: 20, height: 10, data });
    expect(Buffer.from(thumbhash, 'base64').length).toBe(19);
    expect(thumbhash).toMatch(/^[A-Za-z0-9+/]{26}$/);
  });

  it('refuses more than 100 pixels a side, as the encoder requires, and a wrong buffer length', () => {
    expect(() => placeholderOf({ width: 101, height: 10, data: new Uint8Array(101 * 10 * 4) })).toThrow('1-100 on each side, received 101×10');
    expect(() => placeholderOf({ width: 10, height: 10, data: new Uint8Array(10 * 10 * 3) })).toThrow('expected 400 bytes of RGBA, received 300');
  });

  it('weights the average colour by alpha; a wholly transparent image averages plainly', () => {
    // One opaque white pixel and one half-transparent black pixel: (255·255 + 0·128) / 383.
    expect(averageColor(new Uint8Array([255, 255, 255, 255, 0, 0, 0, 128]))).toBe('#aaaaaa');
    expect(averageColor(new Uint8Array([255, 0, 0, 0, 0, 0, 255, 0]))).toBe('#800080');
  });
});
