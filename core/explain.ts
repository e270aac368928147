/**
 * Why a run's work is due, in words a person checks before the run does it: each preset whose
 * recipe changed (what changed, how many images that re-renders, with time and cost), new and
 * replaced originals, work retried from earlier runs, what adopting the rendering policies would
 * cost, and presets dropped from the configuration. The counts are made once, as the plan decides
 * each object (core/state.ts DueWhy); every text (plan, dry run, email) is derived from them.
 *
 * The previous presets' definitions come from state/presets.json, written when the catalogue is
 * promoted (PresetsState).
 */
import type { PipelineConfig, Preset } from './config';
import { runCost } from './cost';
import { count, duration, n, usd } from './format';
import { type PolicySettings, presetDigest } from './recipe';
import { shardCount } from './shards';
import type { DueWhy } from './state';
import { planTiming } from './timing';

/** The resize settings a recipe depends on (encoder efforts and rendering policies); a presets.json written before the policies lacks the policies. */
type Encoder = Pick<PipelineConfig['resize'], 'webpEffort' | 'avifEffort'> & Partial<PolicySettings>;
const recipeSettings = (r: PipelineConfig['resize']) => ({ webpEffort: r.webpEffort, avifEffort: r.avifEffort, colour: r.colour, metadata: r.metadata, animated: r.animated, maxAnimatedPixels: r.maxAnimatedPixels });

/** state/presets.json: the presets the promoted catalogue's renditions were made with, and how many images hold each one's renditions. */
export interface PresetsState {
  readonly runId: string;
  readonly presets: readonly Preset[];
  readonly encoder: Encoder;
  readonly digests: Readonly<Record<string, string>>;
  /** Images (tombstones too) that hold renditions of each preset, configured or removed. */
  readonly images: Readonly<Record<string, number>>;
}

/** Counts, over the promoted catalogue as it streams, the images holding each preset's renditions. */
export class PresetImageCounter {
  readonly images: Record<string, number> = {};
  add(record: { readonly done?: { readonly renditions?: Readonly<Record<string, string>> } }): void {
    for (const p of Object.keys(record.done?.renditions ?? {})) this.images[p] = (this.images[p] ?? 0) + 1;
  }
  /** The configured presets, and the previous definitions of removed presets whose renditions are still held. */
  state(runId: string, config: Pick<PipelineConfig, 'presets' | 'resize'>, previous: PresetsState | undefined): PresetsState {
    const encoder = recipeSettings(config.resize);
    const held = (previous?.presets ?? []).filter((p) => !config.presets.some((c) => c.name === p.name) && (this.images[p.name] ?? 0) > 0);
    return { runId, presets: [...config.presets, ...held], encoder, digests: Object.fromEntries(config.presets.map((p) => [p.name, presetDigest(p, encoder)])), images: this.images };
  }
}

/** Images per reason, tallied from each object's plan (DueTally.add). */
export interface DueCounts {
  /** Unchanged images due for work an earlier run left undone (failed, or a partial run). */
  retried: number;
  /** Per preset: images re-rendered because its recipe changed (`legacy`: of those, renditions made before the policies), and images rendered for the first time. */
  presets: Record<string, { recipe: number; legacy: number; missing: number }>;
  /** Images whose renditions made before the policies are kept current, and those renditions: what adopting the policies would re-render. */
  legacyKept: { images: number; renditions: number };
  /** Removed presets: images holding their renditions, held (not confirmed) or pruned tonight. */
  held: Record<string, number>;
  pruning: Record<string, number>;
}

export class DueTally {
  readonly counts: DueCounts = { retried: 0, presets: {}, legacyKept: { images: 0, renditions: 0 }, held: {}, pruning: {} };

  /** `known`: the presets configured when the catalogue was promoted (undefined: not recorded), to tell a new preset from work left undone. */
  constructor(
    private readonly formatsOf: ReadonlyMap<string, number>,
    private readonly known: ReadonlySet<string> | undefined,
  ) {}

  add(why: DueWhy | undefined, held: readonly string[] | undefined, pruning: readonly string[] | undefined): void {
    const c = this.counts;
    for (const p of held ?? []) c.held[p] = (c.held[p] ?? 0) + 1;
    for (const p of pruning ?? []) c.pruning[p] = (c.pruning[p] ?? 0) + 1;
    if (!why) return;
    const retried = why.backupMissing || why.missing.some((p) => this.known?.has(p));
    if (retried) c.retried++;
    const of = (p: string) => (c.presets[p] ??= { recipe: 0, legacy: 0, missing: 0 });
    for (const p of why.recipe) of(p).recipe++;
    for (const p of why.legacy) of(p).legacy++;
    for (const p of why.missing) if (!this.known?.has(p)) of(p).missing++;
    if (why.legacyKept.length > 0) {
      c.legacyKept.images++;
      for (const p of why.legacyKept) c.legacyKept.renditions += this.formatsOf.get(p) ?? 0;
    }
  }
}

/** How long and how much rendering `images` images would take, as the plan estimates a run. */
export interface Estimate {
  readonly images: number;
  readonly seconds: number;
  readonly usd: number;
}

export function resizeEstimate(images: number, renditionsPerImage: number, bytesPerImage: number, config: Pick<PipelineConfig, 'compute' | 'shards' | 'backup'>): Estimate {
  if (images === 0) return { images, seconds: 0, usd: 0 };
  const bytes = images * bytesPerImage;
  const shards = shardCount(images, bytes, config.shards);
  const timing = planTiming({ shardCount: shards, objects: images, bytes, operations: ['resize'], elapsedSeconds: 0 }, config.compute);
  const resize = timing.arrayJobs.resize!;
  const cost = runCost({ listed: 0, backups: 0, images, renditionsPerImage, dense: false, taskSeconds: { resize: resize.taskSeconds }, compute: config.compute, backupStorageClass: config.backup.storageClass });
  return { images, seconds: resize.expectedSeconds, usd: cost.totalUsd };
}

/** One preset whose recipe changed since the catalogue was promoted, and what tonight re-renders for it. */
export interface PresetChange extends Estimate {
  readonly preset: string;
  /** What changed, in plain words: `bound was the long side 1280, now the width 1280`. */
  readonly change: string;
}

/** The explanations a plan carries (plan.json `explain`). */
export interface Explanation {
  readonly presetChanges: readonly PresetChange[];
  /** Presets rendered for the first time (new in the configuration), by images. */
  readonly newPresets: readonly { readonly preset: string; readonly images: number }[];
  readonly retried: number;
  /** Renditions made before the policies, kept current: what adopting them would cost (renditions.adoptPolicies, or a full run). */
  readonly adoption?: Estimate & { readonly renditions: number };
  /** Removed presets' renditions: held until confirmed in renditions.removePresets, or pruned tonight. */
  readonly removedPresets: readonly RemovedPreset[];
}

export interface RemovedPreset {
  readonly preset: string;
  readonly images: number;
  /** Its renditions, when its formats are known (state/presets.json); else undefined. */
  readonly renditions?: number;
  readonly action: 'held' | 'pruned';
}

/** The plan's explanations, from the tallies and the previous presets. */
export function explain(counts: DueCounts, previous: PresetsState | undefined, config: PipelineConfig, bytesPerImage: number): Explanation {
  const before = new Map((previous?.presets ?? []).map((p) => [p.name, p]));
  const encoder = recipeSettings(config.resize);
  const presetChanges: PresetChange[] = [];
  const newPresets: { preset: string; images: number }[] = [];
  for (const preset of config.presets) {
    const due = counts.presets[preset.name];
    const old = before.get(preset.name);
    if (due && due.recipe > 0) {
      const change = old ? describeChange(old, previous!.encoder, preset, encoder) : due.legacy === due.recipe ? 'adopting the rendering policies' : 'its recipe changed';
      presetChanges.push({ preset: preset.name, change, ...resizeEstimate(due.recipe, preset.formats.length, bytesPerImage, config) });
    }
    if (due && due.missing > 0) newPresets.push({ preset: preset.name, images: due.missing });
  }
  const { legacyKept } = counts;
  const adoption = legacyKept.images > 0 ? { ...resizeEstimate(legacyKept.images, legacyKept.renditions / legacyKept.images, bytesPerImage, config), renditions: legacyKept.renditions } : undefined;
  const removed = (images: Record<string, number>, action: RemovedPreset['action']) =>
    Object.entries(images).map(([preset, k]) => ({ preset, images: k, ...(before.has(preset) ? { renditions: k * before.get(preset)!.formats.length } : {}), action }));
  const removedPresets = [...removed(counts.held, 'held'), ...removed(counts.pruning, 'pruned')].sort((a, b) => (a.preset < b.preset ? -1 : 1));
  return { presetChanges, newPresets, retried: counts.retried, ...(adoption ? { adoption } : {}), removedPresets };
}

/** A preset's bound in words: the long side, the width, a box or a crop. */
export function boundWords(p: Pick<Preset, 'width' | 'height' | 'fit'>): string {
  if (p.height === undefined) return `the width ${p.width}`;
  if (p.fit === 'cover') return p.width === p.height ? `a ${p.width} square crop` : `a ${p.width}×${p.height} crop`;
  if (p.fit === 'inside') return p.width === p.height ? `the long side ${p.width}` : `a ${p.width}×${p.height} box`;
  return `${p.width}×${p.height} (${p.fit})`;
}

/** What changed between two definitions of a preset, in plain words (" and " between changes). */
export function describeChange(before: Preset, encBefore: Encoder, after: Preset, encAfter: Encoder): string {
  const changes: string[] = [];
  const was = (what: string, a: string | number, b: string | number) => a !== b && changes.push(`${what} ${what === 'formats' ? 'were' : 'was'} ${a}, now ${b}`);
  was('bound', boundWords(before), boundWords(after));
  if (before.fit !== after.fit && boundWords(before) === boundWords(after)) was('fit', before.fit, after.fit);
  was('quality', before.quality, after.quality);
  was('formats', before.formats.join('+'), after.formats.join('+'));
  if (after.formats.includes('webp')) was('WebP effort', encBefore.webpEffort, encAfter.webpEffort);
  if (after.formats.includes('avif')) was('AVIF effort', encBefore.avifEffort, encAfter.avifEffort);
  was('position', before.position ?? 'attention', after.position ?? 'attention');
  was('per-format quality', JSON.stringify(before.formatQuality ?? {}), JSON.stringify(after.formatQuality ?? {}));
  was('lossless', String(before.lossless ?? false), String(after.lossless ?? false));
  // Policies: only when the earlier presets.json knew them (before the policies, a change is adoption).
  if (encBefore.colour !== undefined) {
    was('colour', encBefore.colour, encAfter.colour ?? 'auto');
    was('metadata', String(encBefore.metadata), String(encAfter.metadata));
    was('animation', `${encBefore.animated}/${encBefore.maxAnimatedPixels}`, `${encAfter.animated}/${encAfter.maxAnimatedPixels}`);
  }
  return changes.length > 0 ? changes.join(' and ') : 'its rendering policies changed';
}

/**
 * The explanations as labelled lines, the same in the plan's text, the dry run and the email: the
 * changed presets in one line, why the rest is due in another, then adoption and removed presets.
 */
export function explanationLines(x: Explanation, due: { readonly new: number; readonly changed: number }): { label: string; text: string }[] {
  const lines: { label: string; text: string }[] = [];
  const presets = [
    ...x.presetChanges.map((c) => `${c.preset}: ${c.change}: re-renders ${count(c.images, 'image')}${estimateWords(c)}`),
    ...x.newPresets.map((p) => `${p.preset}: new, rendered for ${count(p.images, 'image')}`),
  ];
  if (presets.length > 0) lines.push({ label: 'Presets', text: presets.join('; ') });
  const why = [due.new > 0 && count(due.new, 'new image'), due.changed > 0 && `${n(due.changed)} due because their originals were replaced`, x.retried > 0 && `${n(x.retried)} retried from earlier runs (failed or partial)`].filter(Boolean);
  if (why.length > 0) lines.push({ label: 'Due', text: why.join('; ') });
  if (x.adoption) lines.push({ label: 'Policies', text: `${count(x.adoption.renditions, 'rendition')} of ${count(x.adoption.images, 'image')} made before the rendering policies are kept; adopting the policies for them (renditions.adoptPolicies: true, or a full run) would re-render them${estimateWords(x.adoption)}` });
  for (const r of x.removedPresets) lines.push({ label: r.action === 'held' ? 'HELD' : 'Removed', text: removedWords(r) });
  return lines;
}

/** A removed preset, held or pruned, in one line. */
export function removedWords(r: RemovedPreset): string {
  const what = r.renditions !== undefined ? `${count(r.renditions, 'rendition')} (${count(r.images, 'image')})` : `renditions of ${count(r.images, 'image')}`;
  return r.action === 'pruned'
    ? `preset ${JSON.stringify(r.preset)} removed (renditions.removePresets): its ${what} pruned`
    : `preset ${JSON.stringify(r.preset)} dropped from presets: its ${what} held; to delete them, add renditions.removePresets: [${JSON.stringify(r.preset)}] to the configuration`;
}

/**
 * Presets the promoted catalogue holds renditions of that the configuration drops without
 * confirming it (renditions.removePresets): what a local run refuses before it starts.
 */
export function unconfirmedRemovals(state: PresetsState | undefined, config: Pick<PipelineConfig, 'presets' | 'renditions'>): RemovedPreset[] {
  if (!state) return [];
  const formats = new Map(state.presets.map((p) => [p.name, p.formats.length]));
  return Object.entries(state.images)
    .filter(([preset, images]) => images > 0 && !config.presets.some((p) => p.name === preset) && !config.renditions.removePresets.includes(preset))
    .map(([preset, images]) => ({ preset, images, ...(formats.has(preset) ? { renditions: images * formats.get(preset)! } : {}), action: 'held' as const }));
}

/** The refusal of a dry run or a local run whose configuration drops presets that still have renditions: one line. */
export function removalRefusal(held: readonly RemovedPreset[]): string | undefined {
  if (held.length === 0) return undefined;
  const names = held.map((r) => JSON.stringify(r.preset)).join(', ');
  const what = held.map((r) => `${JSON.stringify(r.preset)} has ${r.renditions !== undefined ? count(r.renditions, 'rendition') : `renditions of ${count(r.images, 'image')}`}`).join(', ');
  return `presets: the configuration drops ${names}, which still ${held.length === 1 ? 'has' : 'have'} renditions (${what}): to delete them, set renditions.removePresets: [${names}] in the configuration; to keep them, put the preset back in presets`;
}

function estimateWords(e: Estimate): string {
  return `, about ${duration(e.seconds * 1000)} and ${usd(e.usd)}`;
}
