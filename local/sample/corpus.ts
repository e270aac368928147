/**
 * A generated corpus with the outcome each object must have: good photos under awkward keys, and
 * the hostile objects a real bucket accumulates. Tests assert these outcomes; the local sample
 * corpus uses the same objects so that its report shows every kind of result.
 */
import { animatedGif, cmykJpeg, flatPng, heicPhoto, heicStub, orientedJpeg, photoJpeg, photoPng, photoTiff, png16WithAlpha, svgMalformedUtf8, svgWithExternalReference, tinyPdf } from './images';

export interface CorpusObject {
  readonly key: string;
  readonly body: Buffer;
  readonly contentType?: string;
  /** What the catalog does with it: a skip reason, or undefined when it is selected. */
  readonly catalog?: string;
  /** What resize does with a selected object: processed, or the skip/failure code. */
  readonly resize?: 'processed' | string;
  /** Its stem is another image's: its renditions are under disambiguated keys (core/keys.ts renditionKey). */
  readonly disambiguated?: true;
}

/** A key of exactly 1024 UTF-8 bytes (S3's maximum) made of two-byte characters. */
export function longKey(prefix: string, ext: string): string {
  const room = 1024 - Buffer.byteLength(prefix) - Buffer.byteLength(ext);
  const filler = 'é'.repeat(Math.floor(room / 2)) + (room % 2 ? 'e' : '');
  const key = prefix + filler + ext;
  if (Buffer.byteLength(key) !== 1024) throw new Error(`long key is ${Buffer.byteLength(key)} bytes`);
  return key;
}

export interface CorpusOptions {
  /** Size of the ordinary photos (default 1200×800; the sample corpus uses larger ones). */
  readonly photoWidth?: number;
  readonly photoHeight?: number;
  /** How many ordinary photos besides the awkward keys (default 4). */
  readonly photos?: number;
  readonly seed?: number;
}

export async function hostileCorpus(options: CorpusOptions = {}): Promise<CorpusObject[]> {
  const w = options.photoWidth ?? 1200;
  const h = options.photoHeight ?? 800;
  const seed = options.seed ?? 1;
  const photos = await Promise.all(Array.from({ length: options.photos ?? 4 }, (_, i) => photoJpeg(w, h, seed + i)));
  const truncated = await photoJpeg(800, 600, seed + 100);
  const objects: CorpusObject[] = [
    ...photos.map((body, i) => ({ key: `photos/2026/11/img_${String(i + 1).padStart(4, '0')}.jpg`, body, contentType: 'image/jpeg', resize: 'processed' })),
    { key: 'photos/beach.jpg', body: await photoJpeg(w, h, seed + 10), contentType: 'image/jpeg', resize: 'processed' },
    // Its stem is photos/beach.jpg's (first in key order): rendered under thumb/photos/beach.png/.webp and so on.
    { key: 'photos/beach.png', body: await photoPng(640, 480, seed + 11), contentType: 'image/png', resize: 'processed', disambiguated: true },
    { key: 'photos/Sunset at the pier.PNG', body: await photoPng(900, 600, seed + 12), resize: 'processed' },
    { key: 'photos/x y+z%2F&=.jpg', body: await photoJpeg(640, 480, seed + 13), resize: 'processed' },
    { key: 'photos/caf\u00e9.jpg', body: await photoJpeg(500, 400, seed + 14), resize: 'processed' }, // NFC
    { key: 'photos/cafe\u0301.jpg', body: await photoJpeg(400, 500, seed + 15), resize: 'processed' }, // NFD: another key
    { key: longKey('photos/long/', '.jpg'), body: await photoJpeg(300, 300, seed + 16), resize: 'processed' },
    ...(await Promise.all([2, 3, 4, 5, 6, 7, 8].map(async (o) => ({ key: `exif/orientation-${o}.jpg`, body: await orientedJpeg(400, 200, o), resize: 'processed' })))),
    { key: 'hostile/cmyk.jpg', body: await cmykJpeg(640, 480, seed + 20), resize: 'processed' },
    { key: 'hostile/rgba16.png', body: await png16WithAlpha(640, 480), resize: 'processed' },
    { key: 'hostile/animated-300-frames.gif', body: await animatedGif(64, 48, 300), resize: 'processed' },
    // A TIFF under a .jpg name: sniffed from its bytes, it is an image nightshift renders.
    { key: 'hostile/tiff-named.jpg', body: await photoTiff(320, 240, seed + 21), contentType: 'application/octet-stream', resize: 'processed' },
    // iPhone libraries: real HEIC is rendered (libheif decodes it); a truncated one and a HEIF
    // header with no HEVC behind it fail as corrupt, never fatal.
    { key: 'photos/iphone.heic', body: heicPhoto(), contentType: 'image/heic', resize: 'processed' },
    { key: 'hostile/cut-short.heic', body: heicPhoto().subarray(0, 12_000), contentType: 'image/heic', resize: 'decode-failed' },
    { key: 'hostile/photo.heic', body: heicStub(), contentType: 'image/heic', resize: 'unsupported-format' },
    { key: 'hostile/malformed-utf8-named.jpg', body: svgMalformedUtf8(), contentType: 'application/octet-stream', resize: 'unsupported-format' },
    { key: 'hostile/bomb-17000x17000.png', body: flatPng(17_000, 17_000), resize: 'too-many-pixels' },
    { key: 'hostile/truncated.jpg', body: truncated.subarray(0, Math.floor(truncated.length / 2)), resize: 'decode-failed' },
    { key: 'hostile/text-named.jpg', body: Buffer.from('not an image\n'), contentType: 'text/plain', resize: 'content-type' },
    { key: 'hostile/text-untyped.jpg', body: Buffer.from('not an image either\n'), contentType: 'application/octet-stream', resize: 'unsupported-format' },
    { key: 'hostile/pdf-named.jpg', body: tinyPdf(), contentType: 'application/octet-stream', resize: 'unsupported-format' },
    { key: 'hostile/svg-named.jpg', body: svgWithExternalReference(), contentType: 'application/octet-stream', resize: 'unsupported-format' },
    { key: 'hostile/external.svg', body: svgWithExternalReference(), contentType: 'image/svg+xml', catalog: 'not-an-image' },
    { key: 'hostile/empty.png', body: Buffer.alloc(0), catalog: 'zero-byte' },
    { key: 'photos/', body: Buffer.alloc(0), catalog: 'folder-placeholder' },
    { key: 'docs/README.txt', body: Buffer.from('notes about the corpus\n'), contentType: 'text/plain', catalog: 'not-an-image' },
  ];
  return objects;
}
