import fc from 'fast-check';
import { ShardCutter, shardCount } from './shards';

const rules = { targetObjects: 500, targetBytes: 2 * 1024 ** 3, maxShards: 10_000 };

function cut(sizes: number[], count: number): { objects: number[]; bytes: number[] } {
  const total = sizes.reduce((a, b) => a + b, 0);
  const cutter = new ShardCutter(count, sizes.length, total);
  const objects = new Array<number>(count).fill(0);
  const bytes = new Array<number>(count).fill(0);
  let last = 0;
  for (const size of sizes) {
    const i = cutter.next(size);
    expect(i).toBeGreaterThanOrEqual(last); // contiguous: never goes back
    last = i;
    objects[i]!++;
    bytes[i]! += size;
  }
  return { objects, bytes };
}

describe('shard planning', () => {
  it('is 0 with no work, and otherwise between 2 and 10,000 (AWS Batch array bounds)', () => {
    expect(shardCount(0, 0, rules)).toBe(0);
    expect(shardCount(1, 10, rules)).toBe(2);
    expect(shardCount(499, 10, rules)).toBe(2);
    expect(shardCount(5_000, 10, rules)).toBe(10);
    expect(shardCount(100_000_000, 1, rules)).toBe(10_000);
    expect(shardCount(20, 100 * 1024 ** 3, rules)).toBe(20); // by bytes, but no more shards than objects
    expect(shardCount(3, 100 * 1024 ** 3, { ...rules, maxShards: 2 })).toBe(2);
  });

  it('balances equal objects to within one object per shard', () => {
    const { objects } = cut(new Array(100_000).fill(1000), shardCount(100_000, 100_000_000, rules));
    expect(objects).toHaveLength(200);
    expect(Math.max(...objects) - Math.min(...objects)).toBeLessThanOrEqual(1);
  });

  it('balances mixed sizes by count and bytes together', () => {
    const sizes = Array.from({ length: 20_000 }, (_, i) => (i % 10 === 0 ? 20_000_000 : 200_000));
    const { objects, bytes } = cut(sizes, 40);
    const ratio = (xs: number[]) => Math.max(...xs) / Math.min(...xs);
    expect(ratio(objects)).toBeLessThan(1.1);
    expect(ratio(bytes)).toBeLessThan(1.1);
  });

  it('assigns every item to a shard in range (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1e9 }), { minLength: 1, maxLength: 300 }), fc.integer({ min: 2, max: 50 }), (sizes, count) => {
        const { objects } = cut(sizes, count);
        expect(objects.reduce((a, b) => a + b, 0)).toBe(sizes.length);
      }),
    );
  });
});
