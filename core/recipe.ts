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
 * One rendition's recipe before the rendering policies (colour, metadata, motion, framing) existed,
 * readable in the S3 console: `v1 w320 h- inside q80 webp e4`. Settings a format does not use are
 * left out (PNG has no quality; only WebP and AVIF have an effort), so changing them re-renders
 * nothing. Renditions made before the policies carry exactly this (see legacyPresetDigest).
 */
export function baseRecipe(preset: Preset, format: OutputFormat, encoder: EncoderSettings): string {
  const quality = format === 'png' ? 'q-' : `q${preset.quality}`;
  const effort = format === 'webp' ? ` e${encoder.webpEffort}` : format === 'avif' ? ` e${encoder.avifEffort}` : '';
  return `v${RENDERER_VERSION} w${preset.width} h${preset.height ?? '-'} ${preset.fit} ${quality} ${format}${effort}`;
}

/**
 * The rendering policies' part of the recipes. `suffix` is appended to the base recipe; `defaults`
 * says whether a preset renders with the policies' defaults (only then is a rendition made before
 * the policies current, see acceptsLegacy). Tests replace these to stand for a policy change.
 */
export const recipePolicy = {
  suffix: (_preset: Preset, _format: OutputFormat, _settings: EncoderSettings): string => '',
  defaults: (_preset: Preset, _settings: EncoderSettings): boolean => true,
};

/** One rendition's recipe: the base recipe and its policies. */
export function renditionRecipe(preset: Preset, format: OutputFormat, encoder: EncoderSettings): string {
  return baseRecipe(preset, format, encoder) + recipePolicy.suffix(preset, format, encoder);
}

const digestOf = (recipes: readonly string[]) => createHash('sha256').update(recipes.join('\n')).digest('hex').slice(0, 8);

/** A preset's recipes (every format's) as 8 hex digits: what the catalogue records once the preset is rendered. */
export function presetDigest(preset: Preset, encoder: EncoderSettings): string {
  return digestOf(preset.formats.map((f) => renditionRecipe(preset, f, encoder)));
}

/** The digest the catalogue holds for a preset rendered before the policies existed, with the same base recipe as today's. */
export function legacyPresetDigest(preset: Preset, encoder: EncoderSettings): string {
  return digestOf(preset.formats.map((f) => baseRecipe(preset, f, encoder)));
}

/** Every configured preset's digest, by name. */
export function presetDigests(config: Pick<PipelineConfig, 'presets' | 'resize'>): Record<string, string> {
  return Object.fromEntries(config.presets.map((p) => [p.name, presetDigest(p, config.resize)]));
}

/**
 * Renditions made before the policies existed stay current until the operator asks for the new
 * ones: a `full` run, or renditions.adoptPolicies. Only while the preset renders with the
 * policies' defaults: a policy the operator set is a change like any other.
 */
export function acceptsLegacy(preset: Preset, config: Pick<PipelineConfig, 'resize' | 'renditions'>, full: boolean): boolean {
  return !full && !config.renditions.adoptPolicies && recipePolicy.defaults(preset, config.resize);
}

/**
 * Each configured preset's legacy digest where it differs from today's, and whether renditions
 * carrying it are current (acceptsLegacy): the catalogue's records carrying it need nothing then.
 */
export function legacyDigests(config: Pick<PipelineConfig, 'presets' | 'resize' | 'renditions'>, full: boolean): Record<string, { digest: string; current: boolean }> {
  const digests: Record<string, { digest: string; current: boolean }> = {};
  for (const p of config.presets) {
    const legacy = legacyPresetDigest(p, config.resize);
    if (legacy !== presetDigest(p, config.resize)) digests[p.name] = { digest: legacy, current: acceptsLegacy(p, config, full) };
  }
  return digests;
}
