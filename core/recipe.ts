/**
 * What made a rendition: its preset's resolved parameters and the rendering pipeline's version.
 * Each rendition carries its recipe (user metadata `x-amz-meta-recipe`), and the promoted catalogue
 * records per image a digest of each preset's recipes: a rendition is current only when its
 * source's ETag and its recipe both match, so a changed preset is work with no flag.
 */
import { createHash } from 'node:crypto';
import type { OutputFormat, PipelineConfig, Preset } from './config';

/**
 * The rendering pipeline's own version: bump it when the same preset would render different
 * pixels or bytes (a change to decoding, resizing, colour handling or encoder settings in
 * adapters/image/render.ts), and every rendition is re-rendered on the next run.
 */
export const RENDERER_VERSION = 1;

type EncoderSettings = Pick<PipelineConfig['resize'], 'webpEffort' | 'avifEffort'>;

/**
 * One rendition's recipe, readable in the S3 console: `v1 w320 h- inside q80 webp e4`. Settings a
 * format does not use are left out (PNG has no quality; only WebP and AVIF have an effort), so
 * changing them re-renders nothing.
 */
export function renditionRecipe(preset: Preset, format: OutputFormat, encoder: EncoderSettings): string {
  const quality = format === 'png' ? 'q-' : `q${preset.quality}`;
  const effort = format === 'webp' ? ` e${encoder.webpEffort}` : format === 'avif' ? ` e${encoder.avifEffort}` : '';
  return `v${RENDERER_VERSION} w${preset.width} h${preset.height ?? '-'} ${preset.fit} ${quality} ${format}${effort}`;
}

/** A preset's recipes (every format's) as 8 hex digits: what the catalogue records once the preset is rendered. */
export function presetDigest(preset: Preset, encoder: EncoderSettings): string {
  const recipes = preset.formats.map((f) => renditionRecipe(preset, f, encoder)).join('\n');
  return createHash('sha256').update(recipes).digest('hex').slice(0, 8);
}

/** Every configured preset's digest, by name. */
export function presetDigests(config: Pick<PipelineConfig, 'presets' | 'resize'>): Record<string, string> {
  return Object.fromEntries(config.presets.map((p) => [p.name, presetDigest(p, config.resize)]));
}
