/**
 * What made a rendition: its preset's resolved parameters and the rendering pipeline's version.
 * Each rendition carries its recipe (user metadata `x-amz-meta-recipe`), and the promoted catalogue
 * records per image a digest of each preset's recipes: a rendition is current only when its
 * source's ETag and its recipe both match, so a changed preset is work with no flag.
 */
import { createHash } from 'node:crypto';
import { ANIMATED_FORMATS, type OutputFormat, type PipelineConfig, pipelineConfigSchema, type Preset } from './config';

/**
 * The rendering pipeline's own version: bump it when the same preset would render different
 * pixels or bytes (a change to decoding, resizing, colour handling or encoder settings in
 * adapters/image/render.ts), and every rendition is re-rendered on the next run.
 */
export const RENDERER_VERSION = 1;

type EncoderSettings = Pick<PipelineConfig['resize'], 'webpEffort' | 'avifEffort'>;
/** The rendering policies (config resize.colour, metadata, animated, maxAnimatedPixels). */
export type PolicySettings = Pick<PipelineConfig['resize'], 'colour' | 'metadata' | 'animated' | 'maxAnimatedPixels'>;
type RecipeSettings = EncoderSettings & PolicySettings;

/** The quality a format is encoded at: the preset's own for the format, else its `quality`. */
export function qualityOf(preset: Pick<Preset, 'quality' | 'formatQuality'>, format: OutputFormat): number {
  return format === 'png' || format === 'gif' ? preset.quality : (preset.formatQuality?.[format] ?? preset.quality);
}

/**
 * The recipe as it was before the rendering policies existed, readable in the S3 console:
 * `v1 w320 h- inside q80 webp e4`. Settings a format does not use are left out (PNG has no
 * quality, nor has GIF; only WebP and AVIF have an effort), so changing them re-renders nothing. Renditions
 * made before the policies carry exactly this text (see legacyPresetDigest).
 */
export function baseRecipe(preset: Preset, format: OutputFormat, encoder: EncoderSettings): string {
  const quality = format === 'png' || format === 'gif' ? 'q-' : `q${qualityOf(preset, format)}`;
  const effort = format === 'webp' ? ` e${encoder.webpEffort}` : format === 'avif' ? ` e${encoder.avifEffort}` : '';
  return `v${RENDERER_VERSION} w${preset.width} h${preset.height ?? '-'} ${preset.fit} ${quality} ${format}${effort}`;
}

/**
 * The policies that change this rendition's pixels or bytes, space-separated after the base:
 * ` colour:<auto|srgb|preserve> meta:<strip|group+group…> [anim:<animate|first-frame>/<maxAnimatedPixels>] [pos:<position>] [lossless:alpha]`.
 * `anim` only for formats that animate (WebP, GIF), `pos` only for `fit: cover` (the one fit that
 * crops by position), `lossless` only for WebP when the preset asks: changing a policy re-renders
 * the renditions it affects and no other.
 */
export function policySuffix(preset: Preset, format: OutputFormat, policies: PolicySettings): string {
  const meta = policies.metadata === 'strip' ? 'strip' : [...policies.metadata].sort().join('+');
  let suffix = ` colour:${policies.colour} meta:${meta}`;
  if (ANIMATED_FORMATS.includes(format)) suffix += ` anim:${policies.animated}${policies.animated === 'animate' ? `/${policies.maxAnimatedPixels}` : ''}`;
  if (preset.fit === 'cover') suffix += ` pos:${preset.position ?? 'attention'}`;
  if (format === 'webp' && preset.lossless) suffix += ' lossless:alpha';
  return suffix;
}

/**
 * Whether a preset renders with the policies' defaults (only then is a rendition made before the
 * policies current, see acceptsLegacy): the suffix it would have under default settings.
 */
export function policiesAtDefaults(preset: Preset, settings: PolicySettings): boolean {
  const defaults: PolicySettings = pipelineConfigSchema.shape.resize.parse(undefined); // every default, written once in config.ts
  const atDefaults = { ...preset, position: preset.position ?? 'attention', lossless: false } as Preset;
  return preset.formats.every((f) => policySuffix(preset, f, settings) === policySuffix(atDefaults, f, defaults));
}

/**
 * The rendering policies' part of the recipes. `suffix` is appended to the base recipe; `defaults`
 * says whether a preset renders with the policies' defaults (see acceptsLegacy). Tests replace
 * these to stand for a policy change.
 */
export const recipePolicy = {
  suffix: (preset: Preset, format: OutputFormat, settings: RecipeSettings): string => policySuffix(preset, format, settings),
  defaults: (preset: Preset, settings: RecipeSettings): boolean => policiesAtDefaults(preset, settings),
};

/** One rendition's recipe: the base (baseRecipe) and the policies that apply to it (policySuffix). */
export function renditionRecipe(preset: Preset, format: OutputFormat, settings: RecipeSettings): string {
  return baseRecipe(preset, format, settings) + recipePolicy.suffix(preset, format, settings);
}

const digestOf = (recipes: readonly string[]) => createHash('sha256').update(recipes.join('\n')).digest('hex').slice(0, 8);

/** A preset's recipes (every format's) as 8 hex digits: what the catalogue records once the preset is rendered. */
export function presetDigest(preset: Preset, settings: RecipeSettings): string {
  return digestOf(preset.formats.map((f) => renditionRecipe(preset, f, settings)));
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
