import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { byKey, type CatalogRecord } from './catalog';
import { ExternalSorter, externalSort, type ExternalSortStats } from './extsort';
import { compareKeys } from './keys';

function record(i: number, key: string): CatalogRecord {
  return { key, size: i, etag: `"${i}"`, lastModified: '2026-11-01T00:00:00.000Z', storageClass: 'STANDARD' };
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of source) out.push(x);
  return out;
}

describe('external merge sort', () => {
  it('sorts more records than its memory budget holds by spilling runs, with the exact S3 order', async () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `photos/${((i * 7919) % 20_000).toString(36)}-${i % 3 === 0 ? 'Ä' : 'a'}-${i}.jpg`);
    let stats: ExternalSortStats | undefined;
    const sorted = await collect(externalSort(keys.map((k, i) => record(i, k)), { compare: byKey, memoryBytes: 256 * 1024 }, (s) => (stats = s)));
    expect(stats!.spilledRuns).toBeGreaterThan(10); // 20,000 records of ~150 bytes do not fit 256 KiB
    expect(stats!.records).toBe(20_000);
    expect(sorted.map((r) => r.key)).toEqual([...keys].sort(compareKeys));
  });

  it('merges in several passes when there are more runs than its fan-in, and removes its files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'extsort-test-'));
    try {
      const sorter = new ExternalSorter<number>({ compare: (a, b) => a - b, memoryBytes: 2_000, fanIn: 3, tmpDir: dir });
      const values = Array.from({ length: 3_000 }, (_, i) => (i * 104_729) % 3_001);
      for (const v of values) await sorter.add(v);
      const out = await collect(sorter.sorted());
      expect(out).toEqual([...values].sort((a, b) => a - b));
      expect(sorter.stats.spilledRuns).toBeGreaterThan(9);
      expect(sorter.stats.mergePasses).toBeGreaterThan(2);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps small input in memory', async () => {
    let stats: ExternalSortStats | undefined;
    expect(await collect(externalSort([3, 1, 2], { compare: (a, b) => a - b }, (s) => (stats = s)))).toEqual([1, 2, 3]);
    expect(stats).toMatchObject({ records: 3, spilledRuns: 0 });
  });

  it('sorts any input exactly (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer(), { maxLength: 400 }), async (values) => {
        const out = await collect(externalSort(values, { compare: (a, b) => a - b, memoryBytes: 500, fanIn: 4 }));
        expect(out).toEqual([...values].sort((a, b) => a - b));
      }),
      { numRuns: 40 },
    );
  });
});
