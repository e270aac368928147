import fc from 'fast-check';
import type { CatalogRecord } from './catalog';
import { type DiffEntry, diffCatalogs } from './diff';
import { compareKeys } from './keys';

const r = (key: string, etag = 'e1', size = 10): CatalogRecord => ({ key, etag: `"${etag}"`, size, lastModified: '2026-11-01T00:00:00.000Z', storageClass: 'STANDARD' });

async function diff(current: CatalogRecord[], previous: CatalogRecord[]): Promise<DiffEntry[]> {
  const out: DiffEntry[] = [];
  for await (const e of diffCatalogs(current, previous)) out.push(e);
  return out;
}

/** Applies a diff to the previous catalogue; the result must be the current one. */
function apply(previous: CatalogRecord[], entries: DiffEntry[]): CatalogRecord[] {
  const byKey = new Map(previous.map((x) => [x.key, x]));
  for (const e of entries) {
    if (e.kind === 'deleted') byKey.delete(e.previous.key);
    else byKey.set(e.record.key, e.record);
  }
  return [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
}

describe('catalogue diff (merge join)', () => {
  it('tells new, changed (ETag or size), unchanged and deleted apart', async () => {
    const previous = [r('a'), r('b'), r('c'), r('d', 'e1', 10)];
    const current = [r('a'), r('b', 'e2'), r('d', 'e1', 11), r('e')];
    expect((await diff(current, previous)).map((e) => `${e.kind}:${e.kind === 'deleted' ? e.previous.key : e.record.key}`)).toEqual([
      'unchanged:a',
      'changed:b',
      'deleted:c',
      'changed:d',
      'new:e',
    ]);
  });

  it('treats everything as new on a first run', async () => {
    expect((await diff([r('a'), r('b')], [])).map((e) => e.kind)).toEqual(['new', 'new']);
  });

  it('refuses unsorted or duplicated input instead of diffing it wrongly', async () => {
    await expect(diff([r('b'), r('a')], [])).rejects.toThrow(/current catalogue is not sorted by key: "a" follows "b"/);
    await expect(diff([], [r('a'), r('a')])).rejects.toThrow(/previous catalogue is not sorted/);
  });

  it('diff(current, previous) applied to previous gives current (property)', async () => {
    const catalogue = fc
      .uniqueArray(fc.record({ key: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }), etag: fc.constantFrom('x', 'y'), size: fc.constantFrom(1, 2) }), { selector: (x) => x.key, maxLength: 40 })
      .map((xs) => xs.map((x) => r(x.key, x.etag, x.size)).sort((a, b) => compareKeys(a.key, b.key)));
    await fc.assert(
      fc.asyncProperty(catalogue, catalogue, async (current, previous) => {
        const entries = await diff(current, previous);
        expect(apply(previous, entries)).toEqual(current);
        expect(entries.filter((e) => e.kind !== 'deleted')).toHaveLength(current.length);
      }),
      { numRuns: 300 },
    );
  });
});
