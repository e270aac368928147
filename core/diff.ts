/**
 * Merge-join diff of two catalogues sorted by key (S3 order): one pass over each, constant memory,
 * whatever their size. That is how a run knows what is new or changed since the last good run.
 */
import type { CatalogRecord } from './catalog';
import { compareKeys } from './keys';

export type DiffEntry<T extends CatalogRecord = CatalogRecord> =
  | { readonly kind: 'new'; readonly record: T }
  | { readonly kind: 'changed'; readonly record: T; readonly previous: CatalogRecord }
  | { readonly kind: 'unchanged'; readonly record: T; readonly previous: CatalogRecord }
  | { readonly kind: 'deleted'; readonly previous: CatalogRecord };

/** An object changed when its ETag or its size differs. */
export function isChanged(current: CatalogRecord, previous: CatalogRecord): boolean {
  return current.etag !== previous.etag || current.size !== previous.size;
}

/**
 * Yields one entry per key of either side, in key order. Both inputs must be sorted by key with
 * no duplicates; an input out of order is an error (a diff of unsorted input would be wrong silently).
 */
export async function* diffCatalogs<T extends CatalogRecord>(
  current: AsyncIterable<T> | Iterable<T>,
  previous: AsyncIterable<CatalogRecord> | Iterable<CatalogRecord>,
): AsyncGenerator<DiffEntry<T>> {
  const cur = ordered(current, 'current');
  const prev = ordered(previous, 'previous');
  let a = await cur.next();
  let b = await prev.next();
  while (!a.done || !b.done) {
    if (b.done || (!a.done && compareKeys(a.value.key, b.value.key) < 0)) {
      yield { kind: 'new', record: (a as IteratorYieldResult<T>).value };
      a = await cur.next();
    } else if (a.done || compareKeys(a.value.key, b.value.key) > 0) {
      yield { kind: 'deleted', previous: b.value };
      b = await prev.next();
    } else {
      yield isChanged(a.value, b.value) ? { kind: 'changed', record: a.value, previous: b.value } : { kind: 'unchanged', record: a.value, previous: b.value };
      a = await cur.next();
      b = await prev.next();
    }
  }
}

async function* ordered<T extends CatalogRecord>(source: AsyncIterable<T> | Iterable<T>, side: string): AsyncGenerator<T> {
  let last: string | undefined;
  for await (const record of source) {
    if (last !== undefined && compareKeys(last, record.key) >= 0) {
      throw new Error(`The ${side} catalogue is not sorted by key: ${JSON.stringify(record.key)} follows ${JSON.stringify(last)}. Catalogues must be in S3 key order without duplicates.`);
    }
    last = record.key;
    yield record;
  }
}
