import sharp from 'sharp';
import { DEFAULT_PRESETS, type Preset } from '../../core/config';
import { animatedGif, cmykJpeg, flatPng, heicPhoto, heicRotated, heicStub, orientedJpeg, photoJpeg, png16WithAlpha, svgWithExternalReference, tinyPdf } from '../../local/sample/images';
import { inspect, presetScale, render, RenderError, type RenderOptions } from './render';

const options: RenderOptions = { maxPixels: 100_000_000, failOn: 'warning', webpEffort: 2, avifEffort: 2, colour: 'auto', metadata: ['rights'], animated: 'animate', maxAnimatedPixels: 50_000_000 };
const presets: Preset[] = DEFAULT_PRESETS.map((p) => ({ ...p, formats: [...p.formats] }));

async function renderError(input: Buffer, opts = options): Promise<RenderError> {
  try {
    await render(input, presets, opts);
  } catch (error) {
    if (error instanceof RenderError) return error;
    throw error;
  }
  throw new Error('expected a RenderError');
}

/** Mean colour of a region of a decoded rendition (sharp's stats() describes the whole input, not an extract). */
async function meanRgb(image: Buffer, left: number, top: number, width: number, height: number) {
  const { data, info } = await sharp(image).extract({ left, top, width, height }).raw().toBuffer({ resolveWithObject: true });
  const sums = [0, 0, 0];
  for (let i = 0; i < data.length; i += info.channels) for (let c = 0; c < 3; c++) sums[c]! += data[i + c]!;
  return sums.map((s) => Math.round(s / (info.width * info.height)));
}

describe('render: HEIC (iPhone libraries)', () => {
  it('decodes a real HEIC with libheif and renders every preset, with the colours of the picture it was made from', async () => {
    const { source, renditions } = await render(heicPhoto(), presets, options);
    expect(source).toMatchObject({ format: 'heif', hevc: true, width: 400, height: 300 });
    expect(renditions.map((r) => `${r.preset}/${r.format} ${r.width}x${r.height}`).sort()).toEqual(
      ['large/jpeg 400x300', 'large/webp 400x300', 'small/jpeg 400x300', 'small/webp 400x300', 'thumb/jpeg 320x240', 'thumb/webp 320x240', 'web/jpeg 400x300', 'web/webp 400x300'].sort(),
    );
    for (const r of renditions) expect((await sharp(r.data).metadata()).channels).toBe(3);
    // heic/photo.heic was encoded from photoJpeg(400, 300, 7): region by region, the same picture.
    const original = (await render(await photoJpeg(400, 300, 7), presets, options)).renditions.find((r) => r.preset === 'thumb' && r.format === 'jpeg')!.data;
    const thumb = renditions.find((r) => r.preset === 'thumb' && r.format === 'jpeg')!.data;
    for (const [left, top] of [[0, 0], [160, 0], [0, 120], [160, 120]] as const) {
      const [a, b] = [await meanRgb(thumb, left, top, 160, 120), await meanRgb(original, left, top, 160, 120)];
      for (let c = 0; c < 3; c++) expect(Math.abs(a[c]! - b[c]!)).toBeLessThanOrEqual(8);
    }
  });

  it.each([1, 2, 3] as const)('displays a HEIC upright from its HEIF rotation (irot %i × 90° anticlockwise), as iPhones store portraits', async (turns) => {
    const thumbPreset: Preset[] = [{ name: 'thumb', width: 400, height: 400, fit: 'inside', formats: ['jpeg'], quality: 90 }];
    const { source, renditions } = await render(heicRotated(turns), thumbPreset, options);
    const [w, h] = turns === 2 ? [400, 300] : [300, 400];
    expect([source.width, source.height, renditions[0]!.width, renditions[0]!.height]).toEqual([w, h, w, h]);
    // The picture it was made from, turned the same way by sharp (clockwise degrees).
    const expected = await sharp(await photoJpeg(400, 300, 7)).rotate(360 - 90 * turns).jpeg({ quality: 90 }).toBuffer();
    for (const [left, top] of [[0, 0], [w / 2, 0], [0, h / 2], [w / 2, h / 2]]) {
      const [a, b] = [await meanRgb(renditions[0]!.data, left!, top!, w / 2, h / 2), await meanRgb(expected, left!, top!, w / 2, h / 2)];
      for (let c = 0; c < 3; c++) expect(Math.abs(a[c]! - b[c]!)).toBeLessThanOrEqual(8);
    }
  });

  it('checks the pixel limit on the header, before decoding, and fails a corrupt HEIC with a reason', async () => {
    expect(await renderError(heicPhoto(), { ...options, maxPixels: 100_000 })).toMatchObject({ code: 'too-many-pixels' });
    expect(await renderError(heicPhoto().subarray(0, 12_000))).toMatchObject({ code: 'decode-failed', message: expect.stringContaining('HEIC') });
    expect(await renderError(heicStub())).toMatchObject({ code: 'unsupported-format' });
  });
});

describe('render (resize kernel)', () => {
  it('bounds the long side with the default presets, so a tall panorama gets a thumbnail, not a tower', async () => {
    const { renditions } = await render(await photoJpeg(300, 2000, 4), presets, options);
    const size = (name: string) => renditions.filter((r) => r.preset === name).map((r) => `${r.width}x${r.height}`);
    expect(size('thumb')).toEqual(['48x320', '48x320']);
    expect(size('small')).toEqual(['96x640', '96x640']);
    expect(size('large')).toEqual(['300x2000', '300x2000']); // never enlarged
  });

  it('writes every preset × format at the right size, never enlarged, sRGB, adding no metadata to a source that has none', async () => {
    const input = await photoJpeg(1600, 1200, 1);
    const { source, renditions } = await render(input, presets, options);
    expect(source).toMatchObject({ format: 'jpeg', width: 1600, height: 1200 });
    expect(renditions.map((r) => `${r.preset}/${r.format} ${r.width}x${r.height}`).sort()).toEqual(
      ['large/jpeg 1600x1200', 'large/webp 1600x1200', 'small/jpeg 640x480', 'small/webp 640x480', 'thumb/jpeg 320x240', 'thumb/webp 320x240', 'web/jpeg 1280x960', 'web/webp 1280x960'].sort(),
    );
    for (const r of renditions) {
      const meta = await sharp(r.data).metadata();
      expect(meta.format).toBe(r.format);
      expect([meta.width, meta.height]).toEqual([r.width, r.height]);
      expect(meta.space).toBe('srgb');
      expect(meta.channels).toBe(3);
      expect(meta.exif).toBeUndefined();
      expect(meta.icc).toBeUndefined();
    }
  });

  it('cascaded renditions look like the source (no colour shift or misplaced content)', async () => {
    const input = await photoJpeg(1200, 800, 7);
    const { renditions } = await render(input, presets, options);
    const thumb = renditions.find((r) => r.preset === 'thumb' && r.format === 'jpeg')!;
    const reference = await sharp(input).resize(320).jpeg().toBuffer();
    const [a, b] = await Promise.all([sharp(thumb.data).stats(), sharp(reference).stats()]);
    a.channels.slice(0, 3).forEach((c, i) => expect(Math.abs(c.mean - b.channels[i]!.mean)).toBeLessThan(3));
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('auto-orients EXIF orientation %i: upright, with width and height swapped where due', async (orientation) => {
    const input = await orientedJpeg(400, 200, orientation);
    expect((await sharp(input).metadata()).orientation).toBe(orientation);
    const { renditions } = await render(input, [{ name: 'thumb', width: 320, fit: 'inside', formats: ['jpeg'], quality: 90 }], options);
    const [r] = renditions;
    expect([r!.width, r!.height]).toEqual([320, 160]); // displayed 400×200 whatever the stored layout
    const [red] = await meanRgb(r!.data, 10, 10, 60, 40); // top-left quadrant is red...
    const [, , blue] = await meanRgb(r!.data, 250, 110, 60, 40); // ...the rest blue
    expect(red).toBeGreaterThan(180);
    expect(blue).toBeGreaterThan(180);
    expect((await sharp(r!.data).metadata()).orientation).toBeUndefined();
  });

  it('converts CMYK to sRGB', async () => {
    const input = await cmykJpeg(800, 600, 3);
    expect((await sharp(input).metadata()).space).toBe('cmyk');
    const { renditions } = await render(input, presets, options);
    for (const r of renditions) expect((await sharp(r.data).metadata()).space).toBe('srgb');
  });

  it('turns 16-bit RGBA into 8-bit: alpha kept in WebP, flattened on white in JPEG', async () => {
    const input = await png16WithAlpha(640, 480);
    expect((await sharp(input).metadata()).depth).toBe('ushort');
    const { renditions } = await render(input, [{ name: 'small', width: 320, fit: 'inside', formats: ['jpeg', 'webp'], quality: 90 }], options);
    const webp = await sharp(renditions.find((r) => r.format === 'webp')!.data).metadata();
    expect(webp).toMatchObject({ hasAlpha: true, depth: 'uchar', channels: 4 });
    const jpeg = renditions.find((r) => r.format === 'jpeg')!.data;
    expect((await sharp(jpeg).metadata()).channels).toBe(3);
    const [r, g, b] = await meanRgb(jpeg, 10, 10, 100, 100); // transparent half → white
    expect(Math.min(r!, g!, b!)).toBeGreaterThan(245);
  });

  it('renders the first frame of an animated GIF when resize.animated is first-frame', async () => {
    const input = await animatedGif(300, 200, 120);
    expect(await inspect(input, options)).toMatchObject({ format: 'gif', pages: 120, width: 300, height: 200 });
    const { renditions } = await render(input, [{ name: 'thumb', width: 320, fit: 'inside', formats: ['webp'], quality: 80 }], { ...options, animated: 'first-frame' });
    expect(renditions[0]).toMatchObject({ width: 300, height: 200 });
    expect((await sharp(renditions[0]!.data).metadata()).pages ?? 1).toBe(1);
  });

  it('rejects a 17000×17000 PNG by the pixel limit before decoding it', async () => {
    const bomb = flatPng(17_000, 17_000);
    expect(bomb.length).toBeLessThan(200_000);
    const e = await renderError(bomb);
    expect(e.code).toBe('too-many-pixels');
    expect(e.message).toContain('289,000,000 pixels exceeds the limit of 100,000,000');
  });

  it('rejects a truncated JPEG as corrupt', async () => {
    const whole = await photoJpeg(800, 600, 5);
    const e = await renderError(whole.subarray(0, Math.floor(whole.length / 2)));
    expect(e.code).toBe('decode-failed');
  });

  it.each([
    ['text', Buffer.from('this is not an image, just text in a file named .jpg\n')],
    ['SVG with an external reference', svgWithExternalReference()],
    ['PDF', tinyPdf()],
  ])('sniffs content, not names: %s is unsupported', async (_name, input) => {
    expect((await renderError(input)).code).toBe('unsupported-format');
  });

  it('orders presets by the scale they need, crops last', () => {
    const cover: Preset = { name: 'square', width: 300, height: 300, fit: 'cover', formats: ['jpeg'], quality: 80 };
    expect(presetScale(cover, 1200, 600)).toBe(0.5); // must cover 300 px of height
    expect(presetScale(presets[3]!, 1200, 600)).toBeCloseTo(320 / 1200);
    expect(presetScale(presets[0]!, 1200, 600)).toBe(1); // never enlarged
  });

  it('renders a cropping preset from a level that still has enough pixels', async () => {
    const input = await photoJpeg(1200, 600, 9);
    const square: Preset = { name: 'square', width: 300, height: 300, fit: 'cover', formats: ['jpeg'], quality: 80 };
    const { renditions } = await render(input, [...presets, square], options);
    expect(renditions.find((r) => r.preset === 'square')).toMatchObject({ width: 300, height: 300 });
    expect(renditions.find((r) => r.preset === 'thumb')).toMatchObject({ width: 320, height: 160 });
  });
});
