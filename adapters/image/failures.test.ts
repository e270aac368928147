/**
 * Every render failure the sample and hostile corpora produce, and the damaged files a real
 * bucket holds, is explained by a known cause (core/failures.ts): a stable code and one sentence
 * with what to do, never the generic "decode-failed" with libvips' words alone.
 */
import sharp from 'sharp';
import { DEFAULT_PRESETS, type Preset } from '../../core/config';
import { explainFailure, FAILURE_CAUSES, GENERIC_CODES } from '../../core/failures';
import { hostileCorpus } from '../../local/sample/corpus';
import { animatedGif, photoJpeg, photoPng } from '../../local/sample/images';
import { inspect, render, RenderError, type RenderOptions } from './render';

const options: RenderOptions = { maxPixels: 100_000_000, failOn: 'warning', webpEffort: 2, avifEffort: 2, colour: 'auto', metadata: ['rights'], animated: 'animate', maxAnimatedPixels: 50_000_000 };
const presets: Preset[] = DEFAULT_PRESETS.map((p) => ({ ...p, formats: [...p.formats] }));

/** The resize job's path for one image: the header checked, then every preset rendered. */
async function renderFailure(body: Buffer, opts = options): Promise<RenderError | undefined> {
  try {
    await inspect(body, opts);
    await render(body, presets, opts);
    return undefined;
  } catch (error) {
    if (error instanceof RenderError) return error;
    throw error;
  }
}

/** Damaged files of every input format, as uploads cut short or corrupted in transit leave them. */
async function damaged(): Promise<{ key: string; body: Buffer }[]> {
  const jpeg = await photoJpeg(300, 200, 4);
  const png = await photoPng(200, 100, 3);
  const gif = await sharp(jpeg).gif().toBuffer();
  const webp = await sharp(jpeg).webp().toBuffer();
  const tiff = await sharp(jpeg).tiff().toBuffer();
  const avif = await sharp(jpeg).avif().toBuffer();
  const flipped = Buffer.from(png);
  flipped[flipped.length - 40]! ^= 0xff;
  const midJpeg = Buffer.from(jpeg);
  midJpeg.fill(0xff, 2000, 2100);
  return [
    { key: 'cut/half.jpg', body: jpeg.subarray(0, jpeg.length / 2) },
    { key: 'corrupt/middle.jpg', body: midJpeg },
    { key: 'cut/half.png', body: png.subarray(0, png.length / 2) },
    { key: 'corrupt/idat.png', body: flipped },
    { key: 'cut/half.gif', body: gif.subarray(0, gif.length / 2) },
    { key: 'cut/head.webp', body: webp.subarray(0, 300) },
    { key: 'cut/head.tiff', body: tiff.subarray(0, 3000) },
    { key: 'cut/head.avif', body: avif.subarray(0, 300) },
    { key: 'animated/ok.gif', body: await animatedGif(30, 20, 3) },
  ];
}

describe('render failures a person understands', () => {
  it('maps every failure of the hostile corpus (the sample corpus) and of damaged files to a known cause with one sentence', async () => {
    const objects = [...(await hostileCorpus()), ...(await damaged())];
    const explained: Record<string, string> = {};
    for (const o of objects) {
      const error = await renderFailure(o.body);
      if (!error) continue;
      const { cause, advice } = explainFailure(error);
      explained[o.key] = cause;
      expect({ key: o.key, generic: GENERIC_CODES.has(cause) }).toEqual({ key: o.key, generic: false });
      expect(FAILURE_CAUSES.map((c) => c.cause)).toContain(cause);
      // One sentence: no line breaks (libheif's messages have a dozen), ends without a full stop.
      expect(advice).not.toMatch(/\n|\.$/);
    }
    expect(explained).toMatchObject({
      'hostile/truncated.jpg': 'jpeg-truncated',
      'hostile/cut-short.heic': 'heic-corrupt',
      'hostile/photo.heic': 'heif-truncated',
      'hostile/bomb-17000x17000.png': 'pixel-limit',
      'hostile/svg-named.jpg': 'not-accepted-format',
      'hostile/malformed-utf8-named.jpg': 'svg-invalid',
      'hostile/text-untyped.jpg': 'not-an-image',
      'hostile/pdf-named.jpg': 'not-an-image',
      'hostile/empty.png': 'empty-object',
      'cut/half.jpg': 'jpeg-truncated',
      'corrupt/middle.jpg': 'jpeg-corrupt',
      'cut/half.png': 'png-corrupt',
      'corrupt/idat.png': 'png-corrupt',
      'cut/half.gif': 'gif-corrupt',
      'cut/head.webp': 'webp-corrupt',
      'cut/head.avif': 'heif-truncated',
    });
  }, 120_000);

  it('keeps libheif\'s own words in a HEIC failure\'s raw message (libheif says them with console.log only), and prints nothing', async () => {
    const cut = (await hostileCorpus()).find((o) => o.key === 'hostile/cut-short.heic')!;
    const printed: unknown[][] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args));
    try {
      const error = (await renderFailure(cut.body))!;
      expect(error.message).toMatch(/^HEIC: .*(iloc box|end of file|Invalid input).*\(HEIF processing error\)$/s);
    } finally {
      log.mockRestore();
    }
    expect(printed).toEqual([]);
  });

  it('gives the truncated JPEG advice that works: with resize.failOn "none" the same file renders', async () => {
    const jpeg = await photoJpeg(300, 200, 4);
    const cut = jpeg.subarray(0, jpeg.length / 2);
    const error = (await renderFailure(cut))!;
    expect(explainFailure(error).advice).toBe('the JPEG is truncated: the file ends before the image data does; re-upload it, or set resize.failOn to "none" to render what is there');
    expect(await renderFailure(cut, { ...options, failOn: 'none' })).toBeUndefined();
  });

  it('explains sharp\'s failOn warning, and keeps specific codes as they are', () => {
    expect(explainFailure({ code: 'decode-failed', message: 'VipsJpeg: Warning treated as error due to failOn' }).cause).toBe('warning-as-error');
    expect(explainFailure({ code: 'source-missing', message: 'the object was deleted after it was catalogued' })).toEqual({ cause: 'source-missing', advice: 'the object was deleted after it was listed' });
  });
});
