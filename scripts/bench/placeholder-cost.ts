/**
 * The placeholder's share of the resize CPU (issue 28: at most 3 %). Renders photographic 12-MP
 * JPEGs (the bench corpus's kind) with the default presets, then computes the placeholder the
 * two ways the job can: from the smallest decoded level (raw pixels the cascade already holds)
 * and from the smallest encoded rendition (the backfill's one small GET). CPU is process CPU
 * (libvips threads included), one image at a time so nothing else is counted; the placeholder's
 * JavaScript is warmed first, as it is a few images into a job.
 *
 *   tsx scripts/bench/placeholder-cost.ts [images, default 6]
 *
 * `npm run bench` (its records section) calls placeholderCost() and reports the level's share,
 * the way the resize job computes it.
 */
import { setTimeout } from 'node:timers';
import sharp from 'sharp';
import { parsePipelineConfig } from '../../core/config';
import { placeholderFrom } from '../../adapters/image/placeholder';
import { render, renderOptionsOf, resizeFor } from '../../adapters/image/render';
import { photoPixels } from '../../local/sample/images';

const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

export interface PlaceholderCost {
  readonly images: number;
  readonly presets: string;
  /** render()'s CPU per image, ms. */
  readonly renderMs: number;
  /** The placeholder's CPU per image from the smallest level (what the resize job does), ms. */
  readonly levelMs: number;
  /** ... from the smallest WebP rendition (what the backfill does), ms. */
  readonly renditionMs: number;
}

export async function placeholderCost(count: number): Promise<PlaceholderCost> {
  const config = parsePipelineConfig({ buckets: { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' } });
  const options = renderOptionsOf(config);
  const smallest = [...config.presets].sort((a, b) => a.width - b.width)[0]!;
  // A job computes thousands: warm the JIT (ThumbHash's encoder is JavaScript) and libvips first.
  const warm = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#808080' } }).webp().toBuffer();
  for (let i = 0; i < 20; i++) await placeholderFrom(warm);
  let renderCpu = 0;
  let levelCpu = 0;
  let renditionCpu = 0;
  for (let i = 0; i < count; i++) {
    const jpeg = await sharp(photoPixels(4000, 3000, 1000 + i), { raw: { width: 4000, height: 3000, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    let since = process.cpuUsage();
    const { source, renditions } = await render(jpeg, config.presets, options);
    renderCpu += cpuMs(since);
    // Not timed: the level render() resized to last (it holds it; the integration passes it on).
    const level = await sharp(jpeg).autoOrient().resize(resizeFor(smallest, source)).raw().toBuffer({ resolveWithObject: true });
    const encoded = renditions.find((r) => r.preset === smallest.name && r.format === 'webp')!.data;
    // Let render()'s garbage and libvips' threads settle, so their CPU is not counted here.
    await new Promise((resolve) => setTimeout(resolve, 100));
    since = process.cpuUsage();
    await placeholderFrom(level);
    levelCpu += cpuMs(since);
    since = process.cpuUsage();
    await placeholderFrom(encoded);
    renditionCpu += cpuMs(since);
  }
  const presets = `${config.presets.map((p) => p.name).join('/')} × ${config.presets[0]!.formats.join('+')}`;
  return { images: count, presets, renderMs: renderCpu / count, levelMs: levelCpu / count, renditionMs: renditionCpu / count };
}

async function main(): Promise<void> {
  const c = await placeholderCost(Number(process.argv[2] ?? 6));
  const pct = (x: number) => `${((100 * x) / c.renderMs).toFixed(2)} %`;
  process.stdout.write(
    `${c.images} × 12-MP JPEG, presets ${c.presets}: render ${c.renderMs.toFixed(0)} ms CPU per image\n` +
      `placeholder from the smallest level (raw): ${c.levelMs.toFixed(2)} ms per image = ${pct(c.levelMs)} of the resize CPU\n` +
      `placeholder from the smallest WebP rendition (decode + shrink): ${c.renditionMs.toFixed(2)} ms per image = ${pct(c.renditionMs)}\n`,
  );
}

if (require.main === module) main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exitCode = 1;
});
