/**
 * Synthetic catalogue records for scale tests and benchmarks: deterministic, S3-like keys,
 * generated lazily so that a million records never sit in memory at once.
 */
import type { CatalogRecord } from '../../core/catalog';
import { prng } from '../../local/sample/images';

export function syntheticKey(i: number): string {
  return `photos/${String(i % 997).padStart(3, '0')}/${(i * 2654435761 >>> 0).toString(36)}-${i}.jpg`;
}

export function syntheticRecord(i: number, version = 0): CatalogRecord {
  return { key: syntheticKey(i), size: 50_000 + ((i * 7919) % 5_000_000), etag: `"${((i + version * 1_000_003) * 2246822519 >>> 0).toString(16).padStart(8, '0')}"`, lastModified: '2026-11-21T02:00:00.000Z', storageClass: 'STANDARD' };
}

/**
 * Tonight's catalogue against last night's: `count` records, of which about 1 % changed, 1 % new
 * (replacing 1 % deleted), in an unsorted (listing) order.
 */
export function* tonight(count: number, seed = 1): Generator<CatalogRecord> {
  const random = prng(seed);
  for (let n = 0; n < count; n++) {
    const i = (n * 48271 + 11) % count; // a permutation: listing order is not key order
    const r = random();
    if (r < 0.01) yield syntheticRecord(i + count); // new (and record i deleted)
    else if (r < 0.02) yield syntheticRecord(i, 1); // changed ETag
    else yield syntheticRecord(i);
  }
}
