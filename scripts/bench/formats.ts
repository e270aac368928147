/**
 * `npm run bench -- --only formats`: what each output format costs, so the README can say it. The
 * same generated photographs (12-MP JPEGs) and transparent PNGs rendered by the kernel
 * (adapters/image/render.ts, the configured policies and efforts) to one 2048-px preset per
 * format, one format at a time: bytes per image and CPU per image (the process's user + system
 * time over the render, single image in flight), each the median over the images. Lossless WebP
 * is measured on the transparent sources, where a preset may ask for it.
 */
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { OUTPUT_FORMATS, type OutputFormat, parsePipelineConfig, type Preset } from '../../core/config';
import { bytes } from '../../core/format';
import { inspect, render, renderOptionsOf } from '../../adapters/image/render';
import { photoJpeg } from '../../local/sample/images';
import { median } from './measure';

export interface FormatsSummary {
  /** Per format (and `webp-lossless`): median bytes and CPU milliseconds per image. */
  readonly formats: Record<string, { bytes: number; cpuMs: number; wallMs: number }>;
}

interface Case {
  readonly name: string;
  readonly format: OutputFormat;
  readonly lossless?: boolean;
  readonly inputs: readonly Buffer[];
}

/** A transparent PNG: the photograph with a soft circular alpha mask (logos and cut-outs have alpha). */
async function transparentPng(width: number, height: number, seed: number): Promise<Buffer> {
  const mask = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><ellipse cx="${width / 2}" cy="${height / 2}" rx="${width * 0.45}" ry="${height * 0.45}" fill="#fff"/></svg>`);
  const alpha = await sharp(mask).extractChannel(3).toBuffer();
  return sharp(await photoJpeg(width, height, seed)).joinChannel(alpha).png().toBuffer();
}

export async function formatsSection(images: number): Promise<{ lines: string[]; summary: FormatsSummary }> {
  const config = parsePipelineConfig({ buckets: { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' } });
  const options = renderOptionsOf(config);
  const photos = await Promise.all(Array.from({ length: images }, (_, i) => photoJpeg(4000, 3000, 700 + i)));
  const cutouts = await Promise.all(Array.from({ length: Math.max(1, Math.ceil(images / 2)) }, (_, i) => transparentPng(2400, 1600, 800 + i)));
  const cases: Case[] = [...OUTPUT_FORMATS.map((format) => ({ name: format, format, inputs: photos })), { name: 'webp-lossless', format: 'webp', lossless: true, inputs: cutouts }, { name: 'png (alpha)', format: 'png', inputs: cutouts }];
  const formats: FormatsSummary['formats'] = {};
  const lines = [`formats: ${images} photographs 4000×3000 JPEG (${cutouts.length} transparent 2400×1600 PNG for lossless), one 2048-px preset, quality ${config.presets[0]!.quality}, WebP effort ${options.webpEffort}, AVIF effort ${options.avifEffort}`];
  for (const c of cases) {
    const preset: Preset = { name: 'large', width: 2048, height: 2048, fit: 'inside', formats: [c.format], quality: config.presets[0]!.quality, ...(c.lossless ? { lossless: true } : {}) };
    const sizes: number[] = [];
    const cpu: number[] = [];
    const wall: number[] = [];
    for (const input of c.inputs) {
      const facts = await inspect(input, options);
      const [before, started] = [process.cpuUsage(), performance.now()];
      const { renditions } = await render(input, [preset], options, facts);
      const used = process.cpuUsage(before);
      wall.push(performance.now() - started);
      cpu.push((used.user + used.system) / 1000);
      sizes.push(renditions[0]!.data.length);
    }
    formats[c.name] = { bytes: Math.round(median(sizes)), cpuMs: Math.round(median(cpu)), wallMs: Math.round(median(wall)) };
    lines.push(`formats: ${c.name.padEnd(14)} ${bytes(formats[c.name]!.bytes).padStart(10)} per image, ${String(formats[c.name]!.cpuMs).padStart(6)} ms CPU (${formats[c.name]!.wallMs} ms wall) per image`);
  }
  return { lines, summary: { formats } };
}
