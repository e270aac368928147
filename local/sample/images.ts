/**
 * Generated images, deterministic from a seed: photographic-looking pictures (gradients, shapes
 * with hard edges, fine noise, so encoders and resamplers do real work, unlike flat colour) and
 * the hostile inputs a corpus meets in the wild. Used by the tests, the local sample corpus and
 * the benchmark. The one exception is real HEIC, which nothing on npm can encode: heic/ holds it,
 * with how it was made.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import sharp from 'sharp';

/** A small, fast, seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Raw RGB pixels of a photographic-looking scene: sky/ground gradients, a sun, shapes with edges, sensor noise. */
export function photoPixels(width: number, height: number, seed: number): Buffer {
  const rand = prng(seed);
  const px = Buffer.alloc(width * height * 3);
  const horizon = Math.floor(height * (0.45 + rand() * 0.2));
  const sky = [60 + rand() * 80, 120 + rand() * 80, 200 + rand() * 55];
  const ground = [60 + rand() * 90, 80 + rand() * 80, 30 + rand() * 50];
  const sun = { x: rand() * width, y: rand() * horizon * 0.8, r: Math.max(4, Math.min(width, height) * (0.05 + rand() * 0.07)) };
  const shapes = Array.from({ length: 12 }, () => ({
    x0: rand() * width,
    y0: horizon - rand() * height * 0.35,
    w: width * (0.03 + rand() * 0.15),
    h: height * (0.05 + rand() * 0.3),
    c: [rand() * 255, rand() * 255, rand() * 255],
  }));
  let noise = (seed * 2654435761) >>> 0;
  for (let y = 0; y < height; y++) {
    const inSky = y < horizon;
    const t = inSky ? y / horizon : (y - horizon) / Math.max(1, height - horizon);
    const base = inSky ? sky : ground;
    const shade = inSky ? 1 - 0.35 * t : 0.75 + 0.25 * t;
    for (let x = 0; x < width; x++) {
      let r = base[0]! * shade;
      let g = base[1]! * shade;
      let b = base[2]! * shade;
      const dx = x - sun.x;
      const dy = y - sun.y;
      if (dx * dx + dy * dy < sun.r * sun.r) {
        r = 255;
        g = 236;
        b = 170;
      }
      for (const s of shapes) {
        if (x >= s.x0 && x < s.x0 + s.w && y >= s.y0 && y < s.y0 + s.h) {
          const stripe = ((x - s.x0) / 6) % 2 < 1 ? 1 : 0.82; // windows/bark: high-frequency detail
          r = s.c[0]! * stripe;
          g = s.c[1]! * stripe;
          b = s.c[2]! * stripe;
        }
      }
      if (!inSky) {
        const grass = Math.sin(x * 0.9 + y * 0.35) * 12;
        g += grass;
        r += grass * 0.4;
      }
      noise = (Math.imul(noise, 1103515245) + 12345) >>> 0;
      const n = ((noise >>> 16) & 0xff) / 255 - 0.5;
      const i = (y * width + x) * 3;
      px[i] = clamp(r + n * 18);
      px[i + 1] = clamp(g + n * 18);
      px[i + 2] = clamp(b + n * 18);
    }
  }
  return px;
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v | 0;
}

export function photo(width: number, height: number, seed: number): sharp.Sharp {
  return sharp(photoPixels(width, height, seed), { raw: { width, height, channels: 3 } });
}

export const photoJpeg = (width: number, height: number, seed: number, quality = 90) => photo(width, height, seed).jpeg({ quality }).toBuffer();
export const photoPng = (width: number, height: number, seed: number) => photo(width, height, seed).png().toBuffer();

/**
 * A JPEG that displays as `width`×`height` with a red top-left quadrant (the rest blue), stored
 * with EXIF orientation `orientation`: the pixels are transformed by the inverse of what the tag
 * tells a viewer to do, so only a correct auto-orient shows the red corner at the top left.
 */
export async function orientedJpeg(width: number, height: number, orientation: number): Promise<Buffer> {
  const upright = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const red = x < width / 2 && y < height / 2;
      const i = (y * width + x) * 3;
      upright[i] = red ? 230 : 20;
      upright[i + 1] = 20;
      upright[i + 2] = red ? 20 : 230;
    }
  }
  // The stored image S such that displaying S per the tag gives the upright picture. Within one
  // sharp pipeline flip/flop happen before rotate, so the two-step transforms take two passes.
  const once = async (input: Buffer, w: number, h: number, op: (s: sharp.Sharp) => sharp.Sharp) =>
    op(sharp(input, { raw: { width: w, height: h, channels: 3 } })).raw().toBuffer({ resolveWithObject: true });
  const rotate90 = await once(upright, width, height, (s) => s.rotate(90));
  const steps: Record<number, () => Promise<{ data: Buffer; info: sharp.OutputInfo }>> = {
    1: () => once(upright, width, height, (s) => s),
    2: () => once(upright, width, height, (s) => s.flop()),
    3: () => once(upright, width, height, (s) => s.rotate(180)),
    4: () => once(upright, width, height, (s) => s.flip()),
    5: () => once(rotate90.data, height, width, (s) => s.flop()), // transpose, its own inverse
    6: () => once(upright, width, height, (s) => s.rotate(270)), // the tag says "rotate 90° clockwise to view"
    7: () => once(rotate90.data, height, width, (s) => s.flip()), // transverse, its own inverse
    8: () => Promise.resolve(rotate90), // the tag says "rotate 270° clockwise to view"
  };
  const step = steps[orientation];
  if (!step) throw new RangeError(`EXIF orientation is 1-8, received ${orientation}`);
  const stored = await step();
  return sharp(stored.data, { raw: { width: stored.info.width, height: stored.info.height, channels: 3 } })
    .jpeg({ quality: 95 })
    .withMetadata({ orientation })
    .toBuffer();
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A valid, flat (all black) 1-bit greyscale PNG of any size: a decompression bomb in a few kB.
 * 17,000 × 17,000 is 289 megapixels from ~35 kB on disk.
 */
export function flatPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const row = Buffer.alloc(1 + Math.ceil(width / 8)); // filter byte 0 + zero bits
  const raw = Buffer.alloc(row.length * height); // zero-filled: every row is the same
  const idat = deflateSync(raw, { level: 9 });
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** An animated GIF of `frames` frames, each a different colour. */
export async function animatedGif(width: number, height: number, frames: number): Promise<Buffer> {
  const images = await Promise.all(
    Array.from({ length: frames }, (_, i) =>
      sharp({ create: { width, height, channels: 3, background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 151) % 256 } } })
        .png()
        .toBuffer(),
    ),
  );
  return sharp(images, { join: { animated: true } }).gif({ delay: 50 }).toBuffer();
}

/** A CMYK JPEG without an embedded profile. */
export const cmykJpeg = (width: number, height: number, seed: number) => photo(width, height, seed).toColourspace('cmyk').jpeg({ quality: 90 }).toBuffer();

/** A 16-bit RGBA PNG with a transparent left half. */
export async function png16WithAlpha(width: number, height: number): Promise<Buffer> {
  const px = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      px[i] = (x * 255) / width;
      px[i + 1] = (y * 255) / height;
      px[i + 2] = 128;
      px[i + 3] = x < width / 2 ? 0 : 255;
    }
  }
  return sharp(px, { raw: { width, height, channels: 4 } }).toColourspace('rgb16').png().toBuffer();
}

/** An SVG that points at a file outside itself: must never be rendered. */
export const svgWithExternalReference = () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="200"><image xlink:href="file:///etc/passwd" width="200" height="200"/></svg>');

/** A minimal one-page PDF. */
export const tinyPdf = () =>
  Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj 3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');

/** The start of a HEIC file (an ISO-BMFF 'ftyp' box with the heic brand) and no decodable image. */
/** A real HEIC (HEVC in HEIF, as iPhones write), 400×300: see heic/README.md for how it was made. */
export const heicPhoto = (): Buffer => readFileSync(join(__dirname, 'heic', 'photo.heic'));

/**
 * heic/photo.heic with a HEIF rotation (an `irot` property on its primary image, ISO/IEC
 * 23008-12 §6.5.10: `quarterTurns` × 90° anticlockwise), as iPhones store portrait photos: the
 * pixels as the sensor saw them, and the turn to display them upright. heif-enc writes no irot,
 * so the box is added here: appended to ipco, associated (essential) in ipma, the enclosing box
 * sizes grown and iloc's offsets into mdat shifted past the bytes inserted.
 */
export function heicRotated(quarterTurns: 1 | 2 | 3): Buffer {
  const src = heicPhoto();
  const boxes = new Map<string, { at: number; size: number }>();
  const walk = (start: number, end: number) => {
    for (let p = start; p < end; ) {
      const size = src.readUInt32BE(p);
      const type = src.toString('latin1', p + 4, p + 8);
      boxes.set(type, { at: p, size });
      if (type === 'meta') walk(p + 12, p + size);
      if (type === 'iprp' || type === 'ipco') walk(p + 8, p + size);
      p += size;
    }
  };
  walk(0, src.length);
  const [meta, iprp, ipco, ipma, iloc, mdat] = ['meta', 'iprp', 'ipco', 'ipma', 'iloc', 'mdat'].map((t) => boxes.get(t)!);
  const properties = (() => {
    let n = 0;
    for (let p = ipco!.at + 8; p < ipco!.at + ipco!.size; p += src.readUInt32BE(p)) n++;
    return n;
  })();
  // This file's layout (heif-enc 1.15): ipma v0 with one entry, 1-byte associations; iloc v0 with 4-byte offsets; mdat after meta.
  if (src[ipma!.at + 8] !== 0 || src.readUInt32BE(ipma!.at + 12) !== 1 || src[iloc!.at + 8] !== 0 || src[iloc!.at + 12] !== 0x44 || src[iloc!.at + 13] !== 0x40 || mdat!.at < meta!.at) {
    throw new Error('heicRotated: heic/photo.heic is not laid out as expected');
  }
  const irot = Buffer.from([0, 0, 0, 9, ...Buffer.from('irot', 'latin1'), quarterTurns]);
  const association = Buffer.from([0x80 | (properties + 1)]);
  const ipcoEnd = ipco!.at + ipco!.size;
  const ipmaEnd = ipma!.at + ipma!.size;
  const out = Buffer.concat([src.subarray(0, ipcoEnd), irot, src.subarray(ipcoEnd, ipmaEnd), association, src.subarray(ipmaEnd)]);
  const grow = (box: { at: number; size: number }, by: number, shift = 0) => out.writeUInt32BE(box.size + by, box.at + shift);
  grow(meta!, 10);
  grow(iprp!, 10);
  grow(ipco!, 9);
  grow(ipma!, 1, 9);
  out[ipma!.at + 9 + 18] = src[ipma!.at + 18]! + 1; // the entry's association count (after version/flags, entry_count, item_ID)
  // iloc v0: item_count, then per item: item_ID, data_reference_index, base_offset, extent_count, extents.
  let p = iloc!.at + 14;
  const items = out.readUInt16BE(p);
  p += 2;
  for (let i = 0; i < items; i++) {
    p += 4; // item_ID, data_reference_index
    out.writeUInt32BE(out.readUInt32BE(p) + 10, p);
    p += 4;
    const extents = out.readUInt16BE(p);
    p += 2 + extents * 8;
  }
  return out;
}

export function heicStub(): Buffer {
  const ftyp = Buffer.alloc(24);
  ftyp.writeUInt32BE(24, 0);
  ftyp.write('ftypheic', 4, 'latin1');
  ftyp.writeUInt32BE(0, 12);
  ftyp.write('mif1heic', 16, 'latin1');
  return Buffer.concat([ftyp, Buffer.from('not really an hevc bitstream')]);
}

/** An SVG whose text is not valid UTF-8. */
export const svgMalformedUtf8 = () => Buffer.concat([Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('</text></svg>')]);

export const photoTiff = (width: number, height: number, seed: number) => photo(width, height, seed).tiff().toBuffer();
