/**
 * The bench's large-original shard: 8 images of 50–100 MP as they come in real corpora
 * (panoramas as progressive and EXIF-rotated JPEG, an interlaced PNG, 16-bit TIFF scans, one
 * uncompressed), rendered by one resize task at the job's memory. Generated on demand from noise
 * enlarged with a linear kernel (smooth gradients: quick to make and to compress), cached.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

interface LargeImage {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly encode: (image: sharp.Sharp) => sharp.Sharp;
}

export const LARGE_IMAGES: readonly LargeImage[] = [
  { name: 'pano-100mp-progressive.jpg', width: 20_000, height: 5_000, encode: (i) => i.jpeg({ quality: 90, progressive: true }) },
  { name: 'pano-90mp-rotated.jpg', width: 15_000, height: 6_000, encode: (i) => i.jpeg({ quality: 90 }).withMetadata({ orientation: 6 }) },
  { name: 'pano-75mp-interlaced.png', width: 12_500, height: 6_000, encode: (i) => i.png({ progressive: true, compressionLevel: 3 }) },
  { name: 'scan-64mp-16bit-uncompressed.tif', width: 8_000, height: 8_000, encode: (i) => i.toColourspace('rgb16').tiff({ compression: 'none' }) },
  { name: 'scan-80mp-16bit.tif', width: 10_000, height: 8_000, encode: (i) => i.toColourspace('rgb16').tiff({ compression: 'lzw', predictor: 'horizontal' }) },
  { name: 'photo-50mp.jpg', width: 8_660, height: 5_774, encode: (i) => i.jpeg({ quality: 90 }) },
  { name: 'photo-60mp-progressive.jpg', width: 9_500, height: 6_334, encode: (i) => i.jpeg({ quality: 90, progressive: true }) },
  { name: 'scan-50mp.png', width: 8_660, height: 5_774, encode: (i) => i.png({ compressionLevel: 3 }) },
];

/** The images, generated into `dir` once; their file names, sizes and megapixels. */
export async function largeImages(dir: string): Promise<{ dir: string; files: { name: string; bytes: number; mp: number }[] }> {
  const done = join(dir, '.complete');
  if (!existsSync(done)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    process.stdout.write(`generating ${LARGE_IMAGES.length} images of 50–100 MP into ${dir} (once; cached for later runs)…\n`);
    for (const [i, image] of LARGE_IMAGES.entries()) {
      const seedW = Math.ceil(image.width / 20);
      const seedH = Math.ceil(image.height / 20);
      const seed = await sharp({ create: { width: seedW, height: seedH, channels: 3, background: { r: 40 * i, g: 120, b: 200 }, noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).raw().toBuffer();
      const enlarged = sharp(seed, { raw: { width: seedW, height: seedH, channels: 3 } }).resize(image.width, image.height, { kernel: 'linear', fit: 'fill' });
      await image.encode(enlarged).toFile(join(dir, image.name));
    }
    writeFileSync(done, '');
  }
  const byName = new Map(LARGE_IMAGES.map((i) => [i.name, i]));
  const files = readdirSync(dir)
    .filter((f) => byName.has(f))
    .sort()
    .map((name) => ({ name, bytes: statSync(join(dir, name)).size, mp: (byName.get(name)!.width * byName.get(name)!.height) / 1e6 }));
  return { dir, files };
}

/** The most images the job's log shows admitted at once (its `admitted` debug lines). */
export function mostAdmittedAtOnce(logText: string): number {
  let most = 0;
  for (const line of logText.split('\n')) {
    if (!line.startsWith('{') || !line.includes('"admitted"')) continue;
    const entry = JSON.parse(line) as { msg?: string; images?: number };
    if (entry.msg === 'admitted' && typeof entry.images === 'number') most = Math.max(most, entry.images);
  }
  return most;
}
