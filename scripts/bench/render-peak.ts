/**
 * How the resize job's memory estimate was measured (core/memory-budget.ts PIPELINE_FACTOR):
 * `tsx scripts/bench/render-peak.ts generate <kind> <width> <height> <file>` writes a noise image
 * of a kind (JPEG baseline, progressive or rotated, PNG plain or interlaced, 8- or 16-bit TIFF,
 * WebP); `tsx scripts/bench/render-peak.ts measure <file>` renders it once with the default
 * presets in a fresh process and prints its peak RSS, the RSS before the render, and the decoded
 * bytes (width × height × bands × bytes per sample). `beforeMb` includes the compressed bytes
 * (read first), so `factor` is the decode's own RSS over the decoded bytes. Run each measure in
 * its own process, with MALLOC_ARENA_MAX=2 as in the job image.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { DEFAULT_PRESETS, parsePipelineConfig } from '../../core/config';
import { inspect, render, renderOptionsOf } from '../../adapters/image/render';

const KINDS: Record<string, (image: sharp.Sharp) => sharp.Sharp> = {
  jpeg: (i) => i.jpeg({ quality: 85 }),
  'jpeg-progressive': (i) => i.jpeg({ quality: 85, progressive: true }),
  'jpeg-rotated': (i) => i.jpeg({ quality: 85 }).withMetadata({ orientation: 6 }),
  png: (i) => i.png({ compressionLevel: 1 }),
  'png-interlaced': (i) => i.png({ compressionLevel: 1, progressive: true }),
  tiff: (i) => i.tiff({ compression: 'lzw' }),
  tiff16: (i) => i.toColourspace('rgb16').tiff({ compression: 'lzw' }),
  webp: (i) => i.webp({ quality: 80, effort: 0 }),
};

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'generate') {
    const [kind, width, height, file] = args as [string, string, string, string];
    const noise = sharp({ create: { width: Number(width), height: Number(height), channels: 3, background: '#5a8cc8', noise: { type: 'gaussian', mean: 128, sigma: 40 } } });
    await KINDS[kind]!(noise).toFile(file);
    return;
  }
  const file = args[0]!;
  const input = readFileSync(file);
  const facts = await inspect(input, { maxPixels: Number.MAX_SAFE_INTEGER });
  const beforeMb = process.resourceUsage().maxRSS / 1024;
  await render(input, DEFAULT_PRESETS, { ...renderOptionsOf(parsePipelineConfig({ buckets: { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' } })), maxPixels: Number.MAX_SAFE_INTEGER });
  const peakMb = process.resourceUsage().maxRSS / 1024;
  const decodedMb = (facts.width * facts.height * facts.bands * facts.bytesPerSample) / 2 ** 20;
  process.stdout.write(`${JSON.stringify({ file, mp: (facts.width * facts.height) / 1e6, bands: facts.bands, bytesPerSample: facts.bytesPerSample, fileMb: input.length / 2 ** 20, beforeMb, peakMb, decodedMb, factor: (peakMb - beforeMb) / decodedMb })}\n`);
}

void main();
