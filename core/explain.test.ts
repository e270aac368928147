import { parsePipelineConfig } from './config';
import { describeChange, DueTally, explain, explanationLines, PresetImageCounter, removalRefusal, unconfirmedRemovals } from './explain';

const buckets = { corpus: 'aaa', renditions: 'bbb', backup: 'ccc', work: 'ddd' };
const enc = { webpEffort: 4, avifEffort: 4 };
const web = { name: 'web', width: 1280, height: 1280, fit: 'inside' as const, formats: ['jpeg' as const, 'webp' as const], quality: 80 };

describe('a changed preset in plain words', () => {
  it('names the bound: the long side, the width, a box, a cropped square', () => {
    expect(describeChange(web, enc, { ...web, height: undefined }, enc)).toBe('bound was the long side 1280, now the width 1280');
    expect(describeChange(web, enc, { ...web, height: 720 }, enc)).toBe('bound was the long side 1280, now a 1280×720 box');
    expect(describeChange(web, enc, { ...web, width: 320, height: 320, fit: 'cover' }, enc)).toBe('bound was the long side 1280, now a 320 square crop');
  });

  it('names quality, formats and encoder effort, and a policy change when nothing else differs', () => {
    expect(describeChange(web, enc, { ...web, quality: 70, formats: ['jpeg', 'webp', 'avif'] }, { webpEffort: 6, avifEffort: 4 })).toBe('quality was 80, now 70 and formats were jpeg+webp, now jpeg+webp+avif and WebP effort was 4, now 6');
    expect(describeChange(web, enc, web, enc)).toBe('its rendering policies changed');
  });
});

describe('the plan explains its work', () => {
  const config = parsePipelineConfig({ buckets, presets: [{ name: 'web', width: 1280, formats: ['jpeg', 'webp'] }, { name: 'tiny', width: 32, formats: ['jpeg'] }] });
  const previous = { runId: 'r0', presets: [web, { name: 'small', width: 640, height: 640, fit: 'inside' as const, formats: ['jpeg' as const], quality: 80 }], encoder: enc, digests: {}, images: { web: 10, small: 12 } };

  it('counts per preset what its change re-renders, with time and cost, and tells a new preset from a retry', () => {
    const tally = new DueTally(new Map([['web', 2], ['tiny', 1]]), new Set(['web', 'small']));
    for (let i = 0; i < 3; i++) tally.add({ recipe: ['web'], legacy: [], missing: ['tiny'], backupMissing: false, legacyKept: [] }, ['small'], undefined);
    tally.add({ recipe: [], legacy: [], missing: ['web'], backupMissing: false, legacyKept: [] }, undefined, undefined);
    const x = explain(tally.counts, previous, config, 50_000);
    expect(x.presetChanges).toEqual([{ preset: 'web', change: 'bound was the long side 1280, now the width 1280', images: 3, seconds: expect.any(Number), usd: expect.any(Number) }]);
    expect(x.newPresets).toEqual([{ preset: 'tiny', images: 3 }]);
    expect(x.retried).toBe(1);
    expect(x.removedPresets).toEqual([{ preset: 'small', images: 3, renditions: 3, action: 'held' }]);
    const lines = explanationLines(x, { new: 2, changed: 12 });
    expect(lines.map((l) => l.label)).toEqual(['Presets', 'Due', 'HELD']);
    expect(lines[0]!.text).toMatch(/^web: bound was the long side 1280, now the width 1280: re-renders 3 images, about \d+ s and \$[\d.]+; tiny: new, rendered for 3 images$/);
    expect(lines[1]!.text).toBe('2 new images; 12 due because their originals were replaced; 1 retried from earlier runs (failed or partial)');
    expect(lines[2]!.text).toContain('renditions.removePresets: ["small"]');
  });

  it('refuses an unconfirmed removal in one line naming the preset, its renditions and the confirmation', () => {
    const held = unconfirmedRemovals(previous, config);
    expect(held).toEqual([{ preset: 'small', images: 12, renditions: 12, action: 'held' }]);
    const line = removalRefusal(held)!;
    expect(line).not.toContain('\n');
    expect(line).toBe('presets: the configuration drops "small", which still has renditions ("small" has 12 renditions): to delete them, set renditions.removePresets: ["small"] in the configuration; to keep them, put the preset back in presets');
    expect(unconfirmedRemovals(previous, { ...config, renditions: { ...config.renditions, removePresets: ['small'] } })).toEqual([]);
  });

  it('counts, as the promoted catalogue streams, the images holding each preset', () => {
    const counter = new PresetImageCounter();
    counter.add({ done: { renditions: { web: 'a', small: 'b' } } });
    counter.add({ done: { renditions: { web: 'a' } } });
    counter.add({});
    expect(counter.state('r1', config, previous)).toMatchObject({ runId: 'r1', images: { web: 2, small: 1 }, presets: [...config.presets, previous.presets[1]] });
  });
});

describe('renditions.removePresets', () => {
  it('refuses a preset that is still configured, in one line naming the field', () => {
    expect(() => parsePipelineConfig({ buckets, presets: [web], renditions: { removePresets: ['web'] } })).toThrow(/renditions\.removePresets\[0\]: expected a preset dropped from presets \("web" is still there: .*\), received "web"/);
  });
});
