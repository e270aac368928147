/** The record's source fields from sharp's header read of real images (core/records/record.ts). */
import sharp from 'sharp';
import { sourceDetails, sourceHeaderOf } from '../core/records/record';

/** `n` frames of different greys stacked (identical frames would be merged by the GIF encoder). */
function frames(width: number, height: number, n: number) {
  const data = Buffer.alloc(width * height * n * 3);
  for (let f = 0; f < n; f++) data.fill(40 + 80 * f, f * width * height * 3, (f + 1) * width * height * 3);
  return { data, raw: { width, height: height * n, channels: 3 as const, pageHeight: height } };
}
const detailsOf = async (image: Buffer) => sourceDetails(sourceHeaderOf(await sharp(image).metadata()));

it('calls an animated GIF and WebP animated, a still GIF and a multi-page TIFF not', async () => {
  const { data, raw } = frames(40, 30, 3);
  const gif = await sharp(data, { raw }).gif({ delay: [100, 100, 100], loop: 0 }).toBuffer();
  const webp = await sharp(data, { raw }).webp({ delay: [50, 50, 50], loop: 0 }).toBuffer();
  const tiff = await sharp(data, { raw }).tiff().toBuffer();
  const still = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#fff' } }).gif().toBuffer();
  expect(await detailsOf(gif)).toMatchObject({ format: 'gif', width: 40, height: 30, pages: 3, animated: true });
  expect(await detailsOf(webp)).toMatchObject({ format: 'webp', pages: 3, animated: true });
  expect(await detailsOf(tiff)).toMatchObject({ format: 'tiff', pages: 3, animated: false });
  expect(await detailsOf(still)).toMatchObject({ format: 'gif', pages: 1, animated: false });
});

it('gives the displayed size of every EXIF orientation, and alpha and colour space as read', async () => {
  const stored = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#fff' } }).jpeg().toBuffer();
  for (let orientation = 1; orientation <= 8; orientation++) {
    const jpeg = await sharp(stored).withMetadata({ orientation }).toBuffer();
    const details = await detailsOf(jpeg);
    expect([details.width, details.height]).toEqual(orientation >= 5 ? [300, 400] : [400, 300]);
    // What sharp itself shows after auto-orienting is the same size.
    const shown = await sharp(jpeg).autoOrient().toBuffer({ resolveWithObject: true });
    expect([shown.info.width, shown.info.height]).toEqual([details.width, details.height]);
  }
  const png = await sharp({ create: { width: 10, height: 20, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
  expect(await detailsOf(png)).toEqual({ width: 10, height: 20, format: 'png', hasAlpha: true, animated: false, pages: 1, space: 'srgb' });
});
