/**
 * The rendering policies (issue 30), on generated images: colour (wide gamut kept in Display P3,
 * measured in CIELAB against the source), rights kept and location dropped (read back from the
 * rendition), animation (frame count and delays), framing (attention crop, focal point) and
 * lossless WebP for transparent sources.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Preset } from '../../core/config';
import { profileFacts, readExif } from '../../core/image-metadata';
import { inspect, render, type RenderOptions } from './render';

const options: RenderOptions = { maxPixels: 100_000_000, failOn: 'warning', webpEffort: 2, avifEffort: 2, colour: 'auto', metadata: ['rights'], animated: 'animate', maxAnimatedPixels: 50_000_000 };
const inside = (formats: Preset['formats'], width = 64): Preset => ({ name: 'small', width, height: width, fit: 'inside', formats, quality: 95 });

// ---- Colour ----

/** sRGB and Display P3 share the sRGB transfer curve (IEC 61966-2-1; Apple's Display P3); their RGB→XYZ (D65) matrices. */
const TO_XYZ = {
  srgb: [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]],
  p3: [[0.4866, 0.2657, 0.1982], [0.229, 0.6917, 0.0793], [0, 0.0451, 1.0439]],
} as const;

/** CIELAB (D65) of an 8-bit pixel in sRGB or Display P3. */
function lab(rgb: readonly number[], space: keyof typeof TO_XYZ): number[] {
  const linear = rgb.map((v) => (v / 255 <= 0.04045 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
  const [x, y, z] = TO_XYZ[space].map((row) => row[0] * linear[0]! + row[1] * linear[1]! + row[2] * linear[2]!);
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  const [fx, fy, fz] = [f(x! / 0.95047), f(y!), f(z! / 1.08883)];
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}
const deltaE = (a: readonly number[], b: readonly number[]) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);

let p3Profile: Buffer;
beforeAll(async () => {
  p3Profile = (await sharp(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).withIccProfile('p3').png().toBuffer()).metadata()).icc!;
});

/** A rendition's centre pixel as stored, and the space its profile says: sharp's Display P3, else sRGB (none, or sRGB's). */
async function storedColour(image: Buffer): Promise<{ space: 'srgb' | 'p3'; lab: number[] }> {
  const meta = await sharp(image).metadata();
  const { data, info } = await sharp(image).keepIccProfile().raw().toBuffer({ resolveWithObject: true });
  const at = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * info.channels;
  const space = meta.icc?.equals(p3Profile) ? 'p3' : 'srgb';
  if (meta.icc && space === 'srgb') expect(profileFacts(meta.icc)?.wideGamut).toBe(false);
  return { space, lab: lab([data[at]!, data[at + 1]!, data[at + 2]!], space) };
}

/** A flat 16-bit image of one Display P3 colour (0-1 per channel), to be tagged with a profile. */
function p3Pixels(rgb: readonly number[], size = 96) {
  const pixels = new Uint16Array(size * size * 3);
  for (let i = 0; i < size * size; i++) pixels.set(rgb.map((v) => Math.round(v * 65535)), i * 3);
  // A 16-bit sharp pipeline processes in Display P3: tagging it with 'p3' converts nothing.
  return sharp(pixels, { raw: { width: size, height: size, channels: 3 } });
}

const s15 = (v: number) => Math.round(v * 65536);
/**
 * A minimal ICC v2 matrix/TRC display profile (ICC.1:2001-04): Adobe RGB (1998)'s D50-adapted
 * colorants and its 563/256 gamma, as Adobe's own profile has them.
 */
function adobeRgbProfile(): Buffer {
  const xyz = (x: number, y: number, z: number) => {
    const b = Buffer.alloc(20);
    b.write('XYZ ', 0, 'latin1');
    [x, y, z].forEach((v, i) => b.writeInt32BE(s15(v), 8 + i * 4));
    return b;
  };
  const curve = Buffer.alloc(16);
  curve.write('curv', 0, 'latin1');
  curve.writeUInt32BE(1, 8);
  curve.writeUInt16BE(563, 12);
  const name = 'Adobe RGB (1998) test';
  const desc = Buffer.alloc(12 + name.length + 1 + 8 + 3 + 67 + 1);
  desc.write('desc', 0, 'latin1');
  desc.writeUInt32BE(name.length + 1, 8);
  desc.write(name, 12, 'latin1');
  const tags: [string, Buffer][] = [['desc', desc], ['wtpt', xyz(0.9642, 1, 0.8249)], ['rXYZ', xyz(0.6097, 0.3111, 0.0195)], ['gXYZ', xyz(0.2053, 0.6257, 0.0609)], ['bXYZ', xyz(0.1492, 0.0632, 0.7446)], ['rTRC', curve], ['gTRC', curve], ['bTRC', curve]];
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  const table = Buffer.alloc(4 + tags.length * 12);
  table.writeUInt32BE(tags.length, 0);
  let offset = 128 + table.length;
  const bodies = tags.map(([sig, body], i) => {
    table.write(sig, 4 + i * 12, 'latin1');
    table.writeUInt32BE(offset, 8 + i * 12);
    table.writeUInt32BE(body.length, 12 + i * 12);
    offset += pad(body).length;
    return pad(body);
  });
  const header = Buffer.alloc(128);
  header.writeUInt32BE(offset, 0);
  header.writeUInt32BE(0x02100000, 8);
  header.write('mntrRGB XYZ ', 12, 'latin1');
  header.write('acsp', 36, 'latin1');
  [0.9642, 1, 0.8249].forEach((v, i) => header.writeInt32BE(s15(v), 68 + i * 4));
  return Buffer.concat([header, table, ...bodies]);
}

describe('colour: resize.colour', () => {
  // Display P3's pure red (CIELAB ≈ 55, 94, 95): far outside sRGB, whose red is ≈ 53, 80, 67.
  const p3Red = [1, 0, 0];
  // A green inside P3 but outside sRGB.
  const p3Green = [0.2, 0.85, 0.2];
  let p3Source: Buffer;
  let adobeSource: Buffer;

  beforeAll(async () => {
    p3Source = await p3Pixels(p3Red).withIccProfile('p3').png().toBuffer();
    const dir = mkdtempSync(join(tmpdir(), 'nightshift-icc-'));
    writeFileSync(join(dir, 'adobe-rgb.icc'), adobeRgbProfile());
    // 16 bits per sample, tagged Adobe RGB: the same green, in Adobe RGB's numbers.
    adobeSource = await p3Pixels(p3Green).toColourspace('rgb16').withIccProfile(join(dir, 'adobe-rgb.icc')).png().toBuffer();
  });

  it('auto: a Display P3 source renders in Display P3 with its profile, its colours kept (ΔE < 2); srgb clips them', async () => {
    const source = lab([255, 0, 0], 'p3');
    expect((await sharp(p3Source).metadata()).depth).toBe('uchar'); // the 8-bit case the issue calls out
    const auto = await render(p3Source, [inside(['jpeg', 'webp', 'avif', 'png'])], options);
    expect(auto.rendering.colour).toBe('display-p3');
    for (const r of auto.renditions) {
      const got = await storedColour(r.data);
      expect([r.format, got.space]).toEqual([r.format, 'p3']);
      expect(deltaE(got.lab, source)).toBeLessThan(2);
    }
    const srgb = await render(p3Source, [inside(['jpeg'])], { ...options, colour: 'srgb' });
    expect(srgb.rendering.colour).toBe('srgb');
    const clipped = await storedColour(srgb.renditions[0]!.data);
    expect(clipped.space).toBe('srgb');
    expect(deltaE(clipped.lab, source)).toBeGreaterThan(20);
    expect(deltaE(clipped.lab, lab([255, 0, 0], 'srgb'))).toBeLessThan(2); // clipped to sRGB's red, as documented
  });

  it('auto: a 16-bit Adobe RGB source renders to Display P3 through a 16-bit pipeline, keeping what P3 holds', async () => {
    expect(profileFacts((await sharp(adobeSource).metadata()).icc!)).toMatchObject({ rgb: true, wideGamut: true });
    expect((await sharp(adobeSource).metadata()).depth).toBe('ushort');
    expect(await inspect(p3Source, options)).toMatchObject({ bytesPerSample: 2, plan: { colour: 'p3' } }); // the 16-bit pipeline, budgeted as such
    const source = lab(p3Green.map((v) => v * 255), 'p3');
    const { renditions, rendering } = await render(adobeSource, [inside(['jpeg', 'webp'])], options);
    expect(rendering.colour).toBe('display-p3');
    for (const r of renditions) expect(deltaE((await storedColour(r.data)).lab, source)).toBeLessThan(2.5);
    const srgb = await render(adobeSource, [inside(['jpeg'])], { ...options, colour: 'srgb' });
    expect(deltaE((await storedColour(srgb.renditions[0]!.data)).lab, source)).toBeGreaterThan(8);
  });

  it('preserve: keeps the source profile and its numbers; an untagged or sRGB source renders as sRGB under every policy', async () => {
    const { renditions, rendering } = await render(adobeSource, [inside(['jpeg'])], { ...options, colour: 'preserve' });
    expect(rendering.colour).toBe('source-profile');
    const meta = await sharp(renditions[0]!.data).metadata();
    expect(profileFacts(meta.icc!)?.description).toBe('Adobe RGB (1998) test');
    const plain = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    for (const colour of ['auto', 'preserve'] as const) {
      const r = await render(plain, [inside(['jpeg'])], { ...options, colour });
      expect(r.rendering.colour).toBe('srgb');
      expect((await sharp(r.renditions[0]!.data).metadata()).icc).toBeUndefined();
    }
  });
});

// ---- Metadata ----

const XMP = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:aux="http://ns.adobe.com/exif/1.0/aux/"
 photoshop:Credit="Agence Exemple" photoshop:City="Lisbon" aux:SerialNumber="SN-998877">
<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">© 2026 Ada Photographer, all rights reserved</rdf:li></rdf:Alt></dc:rights>
<dc:creator><rdf:Seq><rdf:li>Ada Photographer</rdf:li></rdf:Seq></dc:creator>
<exif:GPSLatitude>38,42.5N</exif:GPSLatitude>
</rdf:Description></rdf:RDF></x:xmpmeta>`;

async function photoWithMetadata(): Promise<Buffer> {
  return sharp({ create: { width: 400, height: 300, channels: 3, background: '#4a6a8a' } })
    .withExif({
      IFD0: { Copyright: '(c) 2026 Ada Photographer', Artist: 'Ada Photographer', Make: 'Canon', Model: 'EOS R5' },
      IFD2: { BodySerialNumber: '0123456789', DateTimeOriginal: '2026:01:02 03:04:05' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '38/1 42/1 3000/100', GPSLongitudeRef: 'W', GPSLongitude: '9/1 8/1 2400/100' },
    })
    .withXmp(XMP)
    .jpeg()
    .toBuffer();
}

/** A JPEG with an IPTC-IIM block (APP13, Photoshop 3.0 resource 0x0404) and nothing else. */
async function jpegWithIptc(): Promise<Buffer> {
  const dataset = (n: number, text: string) => Buffer.concat([Buffer.from([0x1c, 2, n, 0, Buffer.byteLength(text)]), Buffer.from(text)]);
  let iim = Buffer.concat([dataset(116, '(c) Agency Photographer'), dataset(80, 'Bo Byline'), dataset(110, 'Agency Credit')]);
  if (iim.length % 2) iim = Buffer.concat([iim, Buffer.alloc(1)]);
  const resource = Buffer.concat([Buffer.from('8BIM'), Buffer.from([0x04, 0x04, 0, 0]), Buffer.alloc(4), iim]);
  resource.writeUInt32BE(iim.length, 8);
  const payload = Buffer.concat([Buffer.from('Photoshop 3.0\0'), resource]);
  const segment = Buffer.concat([Buffer.from([0xff, 0xed, 0, 0]), payload]);
  segment.writeUInt16BE(payload.length + 2, 2);
  const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).jpeg().toBuffer();
  return Buffer.concat([jpeg.subarray(0, 2), segment, jpeg.subarray(2)]);
}

describe('metadata: resize.metadata', () => {
  it('keeps the rights (EXIF Copyright and Artist; XMP dc:rights, dc:creator, photoshop:Credit) and drops GPS, location, serial numbers and camera', async () => {
    const input = await photoWithMetadata();
    expect(readExif((await sharp(input).metadata()).exif!).get('IFD3:2')).toBe('38/1 42/1 3000/100'); // the source has GPS
    const { renditions } = await render(input, [inside(['jpeg', 'webp', 'avif'])], options);
    for (const r of renditions) {
      const meta = await sharp(r.data).metadata();
      const exif = readExif(meta.exif!);
      expect([r.format, exif.get('IFD0:33432'), exif.get('IFD0:315')]).toEqual([r.format, '(c) 2026 Ada Photographer', 'Ada Photographer']);
      const kept = [...exif.keys()].filter((k) => !['IFD0:33432', 'IFD0:315'].includes(k) && !/^IFD[02]:(274|282|283|296|531|36864|40960|40961|40962|40963|37121)$/.test(k));
      expect([...exif.keys()].some((k) => k.startsWith('IFD3:'))).toBe(false);
      expect(kept).toEqual([]); // no serial number, no camera, no capture time
      const bytes = meta.exif!.toString('latin1');
      for (const gone of ['0123456789', 'Canon', 'EOS R5']) expect(bytes).not.toContain(gone);
      const xmp = meta.xmp!.toString('utf8');
      expect(xmp).toContain('© 2026 Ada Photographer, all rights reserved');
      expect(xmp).toContain('<rdf:li>Ada Photographer</rdf:li>');
      expect(xmp).toContain('Agence Exemple');
      for (const gone of ['Lisbon', 'GPSLatitude', 'SN-998877']) expect(xmp).not.toContain(gone);
    }
  });

  it('keeps the location only when the operator lists it, and strip removes everything', async () => {
    const input = await photoWithMetadata();
    const located = await render(input, [inside(['jpeg'])], { ...options, metadata: ['rights', 'location'] });
    const meta = await sharp(located.renditions[0]!.data).metadata();
    const exif = readExif(meta.exif!);
    expect([exif.get('IFD3:1'), exif.get('IFD3:2'), exif.get('IFD3:3'), exif.get('IFD3:4')]).toEqual(['N', '38/1 42/1 3000/100', 'W', '9/1 8/1 2400/100']);
    expect(meta.xmp!.toString()).toContain('Lisbon');
    const stripped = await render(input, [inside(['jpeg', 'webp'])], { ...options, metadata: 'strip' });
    for (const r of stripped.renditions) {
      const meta = await sharp(r.data).metadata();
      expect([meta.exif, meta.xmp, meta.iptc]).toEqual([undefined, undefined, undefined]);
    }
  });

  it('carries IPTC rights over as XMP (sharp has no IPTC writer)', async () => {
    const input = await jpegWithIptc();
    expect((await sharp(input).metadata()).iptc).toBeDefined();
    const { renditions } = await render(input, [inside(['jpeg'])], options);
    const meta = await sharp(renditions[0]!.data).metadata();
    expect(meta.iptc).toBeUndefined();
    const xmp = meta.xmp!.toString('utf8');
    expect(xmp).toMatch(/<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">\(c\) Agency Photographer<\/rdf:li>/);
    expect(xmp).toContain('<dc:creator><rdf:Seq><rdf:li>Bo Byline</rdf:li></rdf:Seq></dc:creator>');
    expect(xmp).toContain('<photoshop:Credit>Agency Credit</photoshop:Credit>');
  });
});

// ---- Motion ----

/** An animated image of `delays.length` frames, each its own colour, with those delays (ms). */
async function animation(format: 'gif' | 'webp', width: number, height: number, delays: number[]): Promise<Buffer> {
  const frames = await Promise.all(delays.map((_, i) => sharp({ create: { width, height, channels: 3, background: { r: (i * 60) % 256, g: 255 - ((i * 60) % 256), b: 90 } } }).png().toBuffer()));
  return sharp(frames, { join: { animated: true } })[format]({ delay: delays, loop: 0 }).toBuffer();
}

describe('motion: resize.animated', () => {
  const delays = [100, 200, 300, 400, 500, 600];

  it.each(['gif', 'webp'] as const)('an animated %s renders to an animated WebP with every frame and its delays, at every level of the cascade; JPEG takes the first frame', async (format) => {
    const input = await animation(format, 240, 160, delays);
    const presets: Preset[] = [inside(['webp', 'jpeg'], 200), { ...inside(['webp'], 60), name: 'thumb' }];
    const { renditions, rendering, source } = await render(input, presets, options);
    expect([source.animated, source.pages, rendering.motion]).toEqual([true, 6, 'animated']);
    for (const r of renditions.filter((x) => x.format === 'webp')) {
      const meta = await sharp(r.data).metadata();
      expect([r.preset, meta.pages, meta.delay, meta.loop, r.width, r.height]).toEqual([r.preset, 6, delays, 0, r.preset === 'thumb' ? 60 : 200, r.preset === 'thumb' ? 40 : 133]);
      expect(meta.height).toBe(r.height); // one frame's height
    }
    const jpeg = renditions.find((r) => r.format === 'jpeg')!;
    expect([jpeg.width, jpeg.height, (await sharp(jpeg.data).metadata()).pages ?? 1]).toEqual([200, 133, 1]);
    const { dominant } = await sharp(jpeg.data).stats();
    expect(dominant.g).toBeGreaterThan(200); // frame 0 is (0, 255, 90)
  });

  it('sizes the decode the memory budget admits for every frame an animation decodes, and none it does not', async () => {
    const input = await animation('gif', 240, 160, delays);
    expect(await inspect(input, options)).toMatchObject({ pages: 6, decodedCopies: 6 });
    expect(await inspect(input, { ...options, animated: 'first-frame' })).toMatchObject({ pages: 6, decodedCopies: 1 });
    expect(await inspect(input, { ...options, maxAnimatedPixels: 1000 })).toMatchObject({ pages: 6, decodedCopies: 1 });
  });

  it('a preset asking for GIF gets an animated GIF with the same frames and delays', async () => {
    const input = await animation('webp', 240, 160, delays);
    const { renditions } = await render(input, [{ ...inside(['gif', 'jpeg'], 120), name: 'gif' }], options);
    const gif = renditions.find((r) => r.format === 'gif')!;
    const meta = await sharp(gif.data).metadata();
    expect([meta.format, meta.pages, meta.delay, gif.width, gif.height]).toEqual(['gif', 6, delays, 120, 80]);
  });

  it('above resize.maxAnimatedPixels renders the first frame, and says why', async () => {
    const input = await animation('gif', 240, 160, delays);
    const { renditions, rendering } = await render(input, [inside(['webp'], 200)], { ...options, maxAnimatedPixels: 240 * 160 * 6 - 1 });
    expect((await sharp(renditions[0]!.data).metadata()).pages ?? 1).toBe(1);
    expect(rendering.motion).toBe('first-frame');
    expect(rendering.notes).toEqual([{ code: 'animation-over-budget', message: expect.stringContaining('6 frames of 240×160 = 230,400 pixels exceeds resize.maxAnimatedPixels (230,399)') }]);
  });
});

// ---- Framing ----

/** A flat grey 600×300 image with one salient, detailed red disc centred at (cx, 150). */
async function salient(cx: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="600" height="300"><rect width="600" height="300" fill="#8a8a8a"/>
    <circle cx="${cx}" cy="150" r="60" fill="#e01010"/><circle cx="${cx}" cy="150" r="25" fill="#ffe000"/></svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 95 }).toBuffer();
}

/** Share of a rendition's pixels that are the disc's red or yellow. */
async function discShare(image: Buffer): Promise<number> {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let i = 0; i < data.length; i += info.channels) if (data[i]! > 180 && data[i + 2]! < 90) n++;
  return n / (info.width * info.height);
}

describe('framing: a preset\'s fit and position', () => {
  const square: Preset = { name: 'square', width: 150, height: 150, fit: 'cover', formats: ['jpeg'], quality: 90 };

  it('a cover crop keeps the salient region by default (attention), where a centre crop loses it', async () => {
    const input = await salient(530);
    const { renditions, rendering } = await render(input, [square], options);
    expect(rendering.framing).toEqual({ square: 'attention' });
    expect(await discShare(renditions[0]!.data)).toBeGreaterThan(0.1); // the whole disc: π·30² of 150²
    const centred = await render(input, [{ ...square, position: 'centre' }], options);
    expect(await discShare(centred.renditions[0]!.data)).toBe(0);
  });

  it('honours the uploader\'s focal point, and ignores an invalid one with a reason', async () => {
    const input = await salient(90);
    const focal = await render(input, [square], options, undefined, { metadata: { 'focal-point': '0.85,0.5' } });
    expect(focal.rendering.framing).toEqual({ square: 'focal-point 0.85,0.5' });
    expect(await discShare(focal.renditions[0]!.data)).toBe(0); // the crop sits right, away from the disc
    const invalid = await render(input, [square], options, undefined, { metadata: { 'focal-point': '1.5,abc' } });
    expect(invalid.rendering.framing).toEqual({ square: 'attention' });
    expect(invalid.rendering.notes).toEqual([{ code: 'focal-point-invalid', message: expect.stringContaining('"1.5,abc" is not "x,y" with each from 0 to 1') }]);
    expect(await discShare(invalid.renditions[0]!.data)).toBeGreaterThan(0.1);
  });
});

// ---- Formats ----

describe('formats: lossless WebP for transparent sources where a preset asks', () => {
  it('encodes a source with alpha losslessly (VP8L), pixel for pixel', async () => {
    const pixels = Buffer.alloc(48 * 48 * 4);
    for (let i = 0; i < pixels.length; i += 4) pixels.set([(i * 7) % 256, (i * 13) % 256, (i * 29) % 256, i % 3 ? 255 : 0], i);
    const input = await sharp(pixels, { raw: { width: 48, height: 48, channels: 4 } }).png().toBuffer();
    const lossless = await render(input, [{ ...inside(['webp'], 48), lossless: true, quality: 50 }], options);
    const webp = lossless.renditions[0]!.data;
    expect(webp.includes(Buffer.from('VP8L'))).toBe(true);
    const back = await sharp(webp).raw().toBuffer();
    const visible = (b: Buffer) => Buffer.from(b.filter((_, i) => b[i - (i % 4) + 3] !== 0));
    expect(visible(back).equals(visible(pixels))).toBe(true);
    const lossy = await render(input, [{ ...inside(['webp'], 48), quality: 50 }], options);
    expect(lossy.renditions[0]!.data.includes(Buffer.from('VP8L'))).toBe(false);
  });
});
