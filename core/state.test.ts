import type { CatalogRecord } from './catalog';
import { parsePipelineConfig } from './config';
import { compareKeys } from './keys';
import { baseRecipe, legacyDigests, presetDigest, presetDigests, recipePolicy, renditionRecipe } from './recipe';
import { type Ownership, planObject, promotedLine, promotedRecords, pruneDecision, pruneItem, type RunChoices, type StateRecord, type StemMember, StemOwnership, tombstone } from './state';

const config = parsePipelineConfig({
  buckets: { corpus: 'aaa', renditions: 'bbb', backup: 'ccc', work: 'ddd' },
  presets: [
    { name: 'thumb', width: 320, formats: ['jpeg', 'webp'] },
    { name: 'web', width: 1280, formats: ['jpeg'] },
  ],
});
const digests = presetDigests(config);
const rec = (key: string, etag = '"e1"'): CatalogRecord => ({ key, size: 100, etag, lastModified: '2026-11-01T00:00:00.000Z', storageClass: 'STANDARD' });
const night = (extra: Partial<RunChoices> = {}): RunChoices => ({ operations: ['backup', 'resize'], presets: ['thumb', 'web'], full: false, force: false, digests, ...extra });
const owner: Ownership = { role: 'owner' };
const done = (record: CatalogRecord, state: StateRecord['done']): StateRecord => ({ ...record, done: state });

describe('recipes', () => {
  it('name every parameter that changes a rendition, and only those', () => {
    const thumb = config.presets[0]!;
    expect(baseRecipe(thumb, 'webp', config.resize)).toBe('v1 w320 h- inside q80 webp e4');
    expect(baseRecipe(thumb, 'jpeg', { webpEffort: 6, avifEffort: 9 })).toBe('v1 w320 h- inside q80 jpeg');
    expect(baseRecipe({ ...thumb, quality: 50 }, 'png', config.resize)).toBe('v1 w320 h- inside q- png');
    expect(presetDigest(thumb, config.resize)).toMatch(/^[0-9a-f]{8}$/);
    expect(presetDigest({ ...thumb, width: 321 }, config.resize)).not.toBe(presetDigest(thumb, config.resize));
    expect(presetDigest({ ...thumb, formats: ['jpeg', 'webp', 'avif'] }, config.resize)).not.toBe(presetDigest(thumb, config.resize));
    expect(presetDigest(thumb, { ...config.resize, webpEffort: 2 })).not.toBe(presetDigest(thumb, config.resize));
  });

  it('add to the base the policies that change each rendition, and only those (a policy change re-renders what it affects)', () => {
    const thumb = config.presets[0]!;
    const square = { ...thumb, height: 320, fit: 'cover' as const };
    expect(renditionRecipe(thumb, 'jpeg', config.resize)).toBe('v1 w320 h- inside q80 jpeg colour:auto meta:rights');
    expect(renditionRecipe(thumb, 'webp', config.resize)).toBe('v1 w320 h- inside q80 webp e4 colour:auto meta:rights anim:animate/50000000');
    expect(renditionRecipe(square, 'jpeg', config.resize)).toBe('v1 w320 h320 cover q80 jpeg colour:auto meta:rights pos:attention');
    expect(renditionRecipe({ ...square, position: 'north', lossless: true }, 'webp', { ...config.resize, metadata: ['location', 'rights'], animated: 'first-frame' })).toBe(
      'v1 w320 h320 cover q80 webp e4 colour:auto meta:location+rights anim:first-frame pos:north lossless:alpha',
    );
    expect(renditionRecipe({ ...thumb, formatQuality: { avif: 55 } }, 'avif', { ...config.resize, metadata: 'strip', colour: 'srgb' })).toBe('v1 w320 h- inside q55 avif e4 colour:srgb meta:strip');
    // The animation budget and a crop's position touch only the renditions they shape.
    expect(renditionRecipe(thumb, 'jpeg', { ...config.resize, maxAnimatedPixels: 1 })).toBe(renditionRecipe(thumb, 'jpeg', config.resize));
    expect(renditionRecipe({ ...thumb, position: 'north' }, 'jpeg', config.resize)).toBe(renditionRecipe(thumb, 'jpeg', config.resize));
    expect(presetDigest(thumb, { ...config.resize, colour: 'srgb' })).not.toBe(presetDigest(thumb, config.resize));
  });
});

describe('planObject: what a night does for one object', () => {
  it('backs up and renders every preset of a new image, and records both as done', () => {
    const { work, next } = planObject(rec('a.jpg'), undefined, owner, night());
    expect(work).toMatchObject({ key: 'a.jpg', change: 'new', backup: true, presets: ['thumb', 'web'] });
    expect(next.done).toEqual({ backup: true, renditions: digests });
  });

  it('has no work for an image whose backup and renditions are current', () => {
    const previous = done(rec('a.jpg'), { backup: true, renditions: digests });
    expect(planObject(rec('a.jpg'), previous, owner, night())).toEqual({ next: previous });
  });

  it('re-renders exactly the presets whose recipe changed or that are new, without a flag', () => {
    const previous = done(rec('a.jpg'), { backup: true, renditions: { thumb: 'old00000', web: digests.web! } });
    const { work, next } = planObject(rec('a.jpg'), previous, owner, night());
    expect(work).toMatchObject({ change: 'unchanged', backup: false, presets: ['thumb'] });
    expect(next.done?.renditions).toEqual(digests);
    const added = planObject(rec('a.jpg'), done(rec('a.jpg'), { backup: true, renditions: { thumb: digests.thumb! } }), owner, night());
    expect(added.work).toMatchObject({ backup: false, presets: ['web'] });
  });

  it('leaves what a presets- or operations-limited night did not do for the next night', () => {
    const partial = planObject(rec('a.jpg'), undefined, owner, night({ presets: ['thumb'] }));
    expect(partial.next.done).toEqual({ backup: true, renditions: { thumb: digests.thumb } });
    expect(planObject(rec('a.jpg'), partial.next, owner, night()).work).toMatchObject({ backup: false, presets: ['web'] });
    const renderOnly = planObject(rec('b.jpg'), undefined, owner, night({ operations: ['resize'] }));
    expect(renderOnly.next.done).toEqual({ renditions: digests });
    expect(planObject(rec('b.jpg'), renderOnly.next, owner, night()).work).toMatchObject({ backup: true, presets: [] });
    const catalogueOnly = planObject(rec('c.jpg'), undefined, owner, night({ operations: [] }));
    expect(catalogueOnly).toEqual({ next: { ...rec('c.jpg'), done: {} } });
    expect(planObject(rec('c.jpg'), catalogueOnly.next, owner, night()).work).toMatchObject({ backup: true, presets: ['thumb', 'web'] });
  });

  it('starts over for a replaced original (another ETag)', () => {
    const previous = done(rec('a.jpg'), { backup: true, renditions: digests });
    expect(planObject(rec('a.jpg', '"e2"'), previous, owner, night()).work).toMatchObject({ change: 'changed', backup: true, presets: ['thumb', 'web'] });
  });

  it('makes everything work on a full run, and keeps the state of operations it does not run', () => {
    const previous = done(rec('a.jpg'), { backup: true, renditions: digests });
    expect(planObject(rec('a.jpg'), previous, owner, night({ full: true })).work).toMatchObject({ backup: true, presets: ['thumb', 'web'] });
    const { work, next } = planObject(rec('a.jpg'), done(rec('a.jpg'), { backup: true }), owner, night({ full: true, operations: ['resize'] }));
    expect(work).toMatchObject({ backup: false, presets: ['thumb', 'web'] });
    expect(next.done).toEqual({ backup: true, renditions: digests });
  });

  it('takes a record promoted before per-object state existed as done with today\'s recipes', () => {
    expect(planObject(rec('a.jpg'), rec('a.jpg'), owner, night())).toEqual({ next: { ...rec('a.jpg'), done: { backup: true, renditions: digests } } });
  });

  it('renders a newcomer whose stem another image holds under disambiguated keys, and keeps them there', () => {
    const lost: Ownership = { role: 'collision', owner: 'a.png' };
    const first = planObject(rec('a.jpg'), undefined, lost, night());
    expect(first.work).toMatchObject({ backup: true, presets: ['thumb', 'web'], collidesWith: 'a.png' });
    expect(first.work).not.toHaveProperty('resizeSkip');
    expect(first.next).toEqual({ ...rec('a.jpg'), collidesWith: 'a.png', done: { backup: true, renditions: digests } });
    expect(planObject(rec('a.jpg'), first.next, lost, night()).work).toBeUndefined();
    // Replaced, it renders again under the same (disambiguated) keys.
    expect(planObject(rec('a.jpg', '"e2"'), first.next, lost, night()).work).toMatchObject({ change: 'changed', presets: ['thumb', 'web'], collidesWith: 'a.png' });
    // Its renditions went with it when it was deleted: the prune looks under the disambiguated keys.
    expect(pruneItem(tombstone(first.next, true))).toMatchObject({ change: 'deleted', presets: ['thumb', 'web'], collidesWith: 'a.png' });
    // Skipped as a collision by an earlier version (no renditions): rendered now.
    const skippedBefore = { ...rec('a.jpg'), collidesWith: 'a.png', done: { backup: true as const } };
    expect(planObject(rec('a.jpg'), skippedBefore, lost, night()).work).toMatchObject({ backup: false, presets: ['thumb', 'web'], collidesWith: 'a.png' });
    // An owner that lost its stem (decided early, core/state.ts StemOwnership overflow) renders again under the other keys.
    expect(planObject(rec('a.jpg'), done(rec('a.jpg'), { backup: true, renditions: digests }), lost, night()).work).toMatchObject({ presets: ['thumb', 'web'] });
  });

  it('gives an image without a record backfill work (record only, no render) when records are kept, and records it as done', () => {
    const rendered = done(rec('a.jpg'), { backup: true, renditions: digests });
    const { work, next } = planObject(rec('a.jpg'), rendered, owner, night({ records: true }));
    expect(work).toEqual({ ...rec('a.jpg'), change: 'unchanged', backup: false, presets: [], backfill: true });
    expect(next.done).toEqual({ backup: true, renditions: digests, record: true });
    expect(planObject(rec('a.jpg'), next, owner, night({ records: true }))).toEqual({ next });
    // A catalogue promoted before per-object state: backfilled too.
    expect(planObject(rec('a.jpg'), rec('a.jpg'), owner, night({ records: true })).work).toMatchObject({ presets: [], backfill: true });
    // Work that renders writes the record anyway: no backfill flag.
    expect(planObject(rec('b.jpg'), undefined, owner, night({ records: true })).work).not.toHaveProperty('backfill');
    // Without a table no record is written: the marker goes, and the next run with one backfills.
    const without = planObject(rec('a.jpg'), next, owner, night());
    expect(without).toEqual({ next: rendered });
    expect(planObject(rec('a.jpg'), without.next, owner, night({ records: true })).work).toMatchObject({ backfill: true });
    // A run that does not render keeps the marker as it is, and backfills nothing.
    expect(planObject(rec('a.jpg'), rendered, owner, night({ records: true, operations: ['backup'] }))).toEqual({ next: rendered });
    expect(planObject(rec('a.jpg'), next, owner, night({ operations: ['backup'] })).next.done).toEqual(next.done);
    // An image too large to render gets its skipped record once.
    const large: Ownership = { role: 'too-large', message: 'too big' };
    const skipped = planObject(rec('c.jpg'), { ...rec('c.jpg'), done: { backup: true } }, large, night({ records: true }));
    expect(skipped.work).toMatchObject({ presets: [], resizeSkip: { code: 'too-large' } });
    expect(planObject(rec('c.jpg'), skipped.next, large, night({ records: true })).work).toBeUndefined();
  });

  it('skips rendering an image too large to decode, once, and renders it when the limit allows', () => {
    const large: Ownership = { role: 'too-large', message: 'too big' };
    const first = planObject(rec('a.jpg'), undefined, large, night());
    expect(first.work).toMatchObject({ backup: true, presets: [], resizeSkip: { code: 'too-large' } });
    expect(planObject(rec('a.jpg'), first.next, large, night()).work).toBeUndefined();
    expect(planObject(rec('a.jpg'), first.next, owner, night()).work).toMatchObject({ presets: ['thumb', 'web'] });
  });
});

describe('upgrading costs nothing by surprise: renditions made before the policies', () => {
  // A stand-in for a rendering policy (the recipe's policy suffix), so that today's recipe differs from the bare base recipe.
  const policy = { ...recipePolicy };
  beforeEach(() => {
    recipePolicy.suffix = () => ' cAuto';
  });
  afterEach(() => Object.assign(recipePolicy, policy));
  const withPolicy = (adoptPolicies = false) => parsePipelineConfig({ ...config, renditions: { ...config.renditions, adoptPolicies } });
  const choices = (c = withPolicy(), full = false) => night({ full, digests: presetDigests(c), legacy: legacyDigests(c, full) });
  const legacyState = (c = withPolicy()) => done(rec('a.jpg'), { backup: true, renditions: Object.fromEntries(Object.entries(legacyDigests(c, false)).map(([p, l]) => [p, l.digest])) });

  it('keeps them current (and their digest) until adoption is asked, and counts what adopting would re-render', () => {
    const thumb = config.presets[0]!;
    expect(renditionRecipe(thumb, 'webp', config.resize)).toBe(`${baseRecipe(thumb, 'webp', config.resize)} cAuto`);
    const plan = planObject(rec('a.jpg'), legacyState(), owner, choices());
    expect(plan.work).toBeUndefined();
    expect(plan.next.done).toEqual(legacyState().done);
    expect(plan.why?.legacyKept).toEqual(['thumb', 'web']);
  });

  it('renders new and replaced images with the new recipe', () => {
    expect(planObject(rec('b.jpg'), undefined, owner, choices()).next.done?.renditions).toEqual(presetDigests(withPolicy()));
    const replaced = planObject(rec('a.jpg', '"e2"'), legacyState(), owner, choices());
    expect(replaced.work).toMatchObject({ change: 'changed', presets: ['thumb', 'web'] });
    expect(replaced.next.done?.renditions).toEqual(presetDigests(withPolicy()));
  });

  it('re-renders them on a full run, or with renditions.adoptPolicies, and says they were legacy', () => {
    const full = planObject(rec('a.jpg'), legacyState(), owner, choices(withPolicy(), true));
    expect(full.work).toMatchObject({ presets: ['thumb', 'web'] });
    const adopt = withPolicy(true);
    const adopted = planObject(rec('a.jpg'), legacyState(adopt), owner, choices(adopt));
    expect(adopted.work).toMatchObject({ change: 'unchanged', presets: ['thumb', 'web'] });
    expect(adopted.why).toMatchObject({ recipe: ['thumb', 'web'], legacy: ['thumb', 'web'], legacyKept: [] });
    expect(adopted.next.done?.renditions).toEqual(presetDigests(adopt));
  });

  it('re-renders them when the operator set a policy away from its defaults', () => {
    recipePolicy.defaults = (preset) => preset.name !== 'web';
    const plan = planObject(rec('a.jpg'), legacyState(), owner, choices());
    expect(plan.work).toMatchObject({ presets: ['web'] });
    expect(plan.why?.legacyKept).toEqual(['thumb']);
  });
});

describe('a removed preset is never dropped silently', () => {
  const configured = ['thumb', 'web'];
  const withSmall = () => done(rec('a.jpg'), { backup: true, renditions: { ...digests, small: 'abcd0123' } });

  it('holds the renditions of a removed preset, kept in the state, until its removal is confirmed', () => {
    const plan = planObject(rec('a.jpg'), withSmall(), owner, night({ configured }));
    expect(plan.work).toBeUndefined();
    expect(plan.held).toEqual(['small']);
    expect(plan.next.done?.renditions).toEqual(withSmall().done?.renditions);
    // A replaced original still holds them: their keys are still there.
    const replaced = planObject(rec('a.jpg', '"e2"'), withSmall(), owner, night({ configured }));
    expect(replaced.held).toEqual(['small']);
    expect(replaced.next.done?.renditions).toEqual({ ...digests, small: 'abcd0123' });
  });

  it('prunes a confirmed removal in that run, and forgets it; only with resize', () => {
    const plan = planObject(rec('a.jpg'), withSmall(), owner, night({ configured, removePresets: ['small'] }));
    expect(plan.work).toMatchObject({ change: 'unchanged', backup: false, presets: [], prunePresets: ['small'] });
    expect(plan.held).toBeUndefined();
    // Recorded until promotion sees them pruned: forgotten then, kept to prune again when the prune failed.
    expect(plan.next.done?.renditions).toEqual(withSmall().done?.renditions);
    expect(promotedLine(plan.next, undefined, false, { all: ['small'], pruned: ['small'] })?.done?.renditions).toEqual(digests);
    expect(promotedLine(plan.next, new Set(['resize']), false, { all: ['small'], pruned: ['small'] })?.done).toEqual({ backup: true, renditions: { small: 'abcd0123' } });
    // Held ones survive a failed render too.
    expect(promotedLine(withSmall(), new Set(['resize']), false, { all: ['small'], pruned: [] })?.done?.renditions).toEqual({ small: 'abcd0123' });
    const backupOnly = planObject(rec('a.jpg'), withSmall(), owner, night({ configured, removePresets: ['small'], operations: ['backup'] }));
    expect(backupOnly.work).toBeUndefined();
    expect(backupOnly.next.done?.renditions).toEqual(withSmall().done?.renditions);
  });
});

describe('promotion: only done work is recorded', () => {
  const line = done(rec('a.jpg'), { backup: true, renditions: digests });

  it('takes back the state of the operation that failed, and keeps the rest', () => {
    expect(promotedLine(line, undefined, true)).toBe(line);
    expect(promotedLine(line, new Set(['backup' as const]), true)?.done).toEqual({ renditions: digests });
    expect(promotedLine(line, new Set(['resize' as const]), true)?.done).toEqual({ backup: true });
    expect(promotedLine(line, new Set(['resize', 'backup'] as const), true)?.done).toEqual({});
    const recorded = done(rec('a.jpg'), { backup: true, renditions: digests, record: true });
    expect(promotedLine(recorded, new Set(['record' as const]), true)?.done).toEqual({ backup: true, renditions: digests });
    expect(promotedLine(recorded, new Set(['resize' as const]), true)?.done).toEqual({ backup: true });
  });

  it('drops a tombstone once pruned, and keeps it when the prune failed, was held or did not run', () => {
    const pruning = tombstone(line, true);
    expect(pruning).toMatchObject({ deleted: true, pruning: true, done: line.done });
    expect(promotedLine(pruning, undefined, true)).toBeUndefined();
    const kept = promotedLine(pruning, new Set(['resize' as const]), true);
    expect(kept).toMatchObject({ deleted: true, done: line.done });
    expect(kept).not.toHaveProperty('pruning');
    expect(promotedLine(pruning, undefined, false)).toEqual(kept);
    expect(pruneItem(pruning)).toEqual({ ...rec('a.jpg'), change: 'deleted', backup: false, presets: ['thumb', 'web'] });
  });
});

describe('promotion joins the catalogue with what was left undone, in key order', () => {
  const records = (...keys: string[]) =>
    (async function* () {
      for (const k of keys) yield done(rec(k), { backup: true, renditions: digests });
    })();
  const undone = (...entries: [string, ('backup' | 'resize')[]][]) =>
    (async function* () {
      for (const [k, ops] of entries) yield [k, new Set(ops)] as const;
    })();
  const collect = async (it: AsyncIterable<StateRecord>) => {
    const out: StateRecord[] = [];
    for await (const r of it) out.push(r);
    return out;
  };

  it('takes back exactly the undone keys, streaming both sides', async () => {
    const out = await collect(promotedRecords(records('a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'), undone(['b.jpg', ['backup']], ['d.jpg', ['resize', 'backup']]), true));
    expect(out.map((r) => [r.key, r.done])).toEqual([
      ['a.jpg', { backup: true, renditions: digests }],
      ['b.jpg', { renditions: digests }],
      ['c.jpg', { backup: true, renditions: digests }],
      ['d.jpg', {}],
    ]);
  });

  it('refuses undone keys out of order or missing from the catalogue, rather than promote unfinished work as done', async () => {
    await expect(collect(promotedRecords(records('a.jpg', 'b.jpg', 'c.jpg'), undone(['c.jpg', ['backup']], ['b.jpg', ['backup']]), true))).rejects.toThrow('undone keys out of order: "b.jpg" after "c.jpg"');
    await expect(collect(promotedRecords(records('a.jpg', 'c.jpg'), undone(['b.jpg', ['backup']]), true))).rejects.toThrow('undone key "b.jpg" is not in the run\'s catalogue');
    await expect(collect(promotedRecords(records('a.jpg'), undone(['z.jpg', ['resize']]), true))).rejects.toThrow('undone key "z.jpg" is not in the run\'s catalogue (after its last record)');
  });
});

describe('rendition-key ownership', () => {
  const decide = (members: StemMember[], maxPending?: number) => {
    const owners = new StemOwnership<string>(maxPending);
    const out: [string, string | undefined][] = [];
    for (const m of members) for (const d of owners.push(m.key, m)) out.push([d.item, d.owner]);
    for (const d of owners.flush()) out.push([d.item, d.owner]);
    return out;
  };
  const fresh = (key: string): StemMember => ({ key, candidate: true, holds: false });

  it('finds keys that differ only by extension, wherever they fall in S3 order, and releases every key in order', () => {
    const keys = ['a b.jpg', 'a.b/c.jpg', 'a.jpg', 'a.jpg.png', 'a.png', 'a.webp', 'b.jpg', 'b/c.jpg'].sort(compareKeys);
    const out = decide(keys.map(fresh));
    expect(out.map(([k]) => k)).toEqual(keys);
    expect(out.filter(([, o]) => o)).toEqual([
      ['a.png', 'a.jpg'],
      ['a.webp', 'a.jpg'],
    ]);
  });

  it('keeps a key without extension as owner across keys that sort between "a" and "a."', () => {
    expect(decide(['a', 'a b.jpg', 'a-1.jpg', 'a.jpg'].map(fresh))).toEqual([['a', undefined], ['a b.jpg', undefined], ['a-1.jpg', undefined], ['a.jpg', 'a']]);
  });

  it('leaves the renditions with the image that held them, even when a newcomer sorts first', () => {
    expect(decide([fresh('a.jpg'), { key: 'a.png', candidate: true, holds: true }])).toEqual([['a.jpg', 'a.png'], ['a.png', undefined]]);
  });

  it('lets a deleted owner hold its keys until its renditions are pruned', () => {
    expect(decide([fresh('a.jpg'), { key: 'a.png', candidate: false, holds: true }])).toEqual([['a.jpg', 'a.png'], ['a.png', undefined]]);
  });

  it('decides by key order what a pathological layout keeps waiting beyond the bound, and sticks to it', () => {
    // Every a.jz<i>.png sorts inside a.jpg's range ("a."), so a.jpg waits for the range to end.
    const keys = ['a.jpg', ...Array.from({ length: 5 }, (_, i) => `a.jz${i}.png`), 'a.png'];
    expect([...keys].sort(compareKeys)).toEqual(keys);
    const out = decide([...keys.slice(0, -1).map(fresh), { key: 'a.png', candidate: true, holds: true }], 3);
    expect(out.map(([k]) => k)).toEqual(keys);
    // a.jpg was decided before the holder came: first in order, as without state; the holder loses to it rather than share the keys.
    expect(out.filter(([, o]) => o)).toEqual([['a.png', 'a.jpg']]);
  });
});

describe('the prune guard', () => {
  const base = { candidates: 30, catalogued: 100, maxShare: 0.2, confirmed: false, resize: true, enabled: true };
  it('holds a prune of more than maxPruneShare of the catalogue unless confirmed, and prunes nothing without resize', () => {
    expect(pruneDecision(base)).toEqual({ enabled: true, originals: 0, held: 30, share: 0.3, maxShare: 0.2 });
    expect(pruneDecision({ ...base, confirmed: true })).toMatchObject({ originals: 30, held: 0 });
    expect(pruneDecision({ ...base, candidates: 20 })).toMatchObject({ originals: 20, held: 0, share: 0.2 });
    expect(pruneDecision({ ...base, candidates: 10, resize: false })).toMatchObject({ originals: 0, held: 0 });
    expect(pruneDecision({ ...base, catalogued: 0 })).toMatchObject({ originals: 30, share: 0 });
  });
});
