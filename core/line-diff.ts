/** Tonight's catalogue against last night's, both in key order, as lines: a merge join that parses only the lines that differ. */
import { isChanged } from './diff';
import { type CatalogLine, compareLineKeys, lineKey, lineRecord } from './catalog-line';

const COMMA = 0x2c;
const CLOSE = 0x7d;

/**
 * Whether `state` holds the same listing facts as `listed`: the same bytes, or the same bytes up to
 * `listed`'s closing brace and then more fields (a state line appends what was done, core/state.ts).
 */
function sameListing(listed: CatalogLine, state: CatalogLine): boolean {
  const n = listed.end - listed.start;
  const m = state.end - state.start;
  if (n === m) return listed.buf.compare(state.buf, state.start, state.end, listed.start, listed.end) === 0;
  return m > n && listed.buf[listed.end - 1] === CLOSE && state.buf[state.start + n - 1] === COMMA && listed.buf.compare(state.buf, state.start, state.start + n - 1, listed.start, listed.end - 1) === 0;
}

export type LineDiffEntry =
  | { readonly kind: 'new'; readonly line: CatalogLine }
  | { readonly kind: 'changed' | 'unchanged'; readonly line: CatalogLine; readonly previous: CatalogLine }
  | { readonly kind: 'deleted'; readonly previous: CatalogLine };

/**
 * Merge-join diff of two catalogues in key order, as diffCatalogs but on lines: lines with identical listing facts (a state line may add fields after them) are
 * unchanged without being parsed; other pairs with the same key are parsed and compared by ETag
 * and size. Out-of-order keys on either side are an error, and so are repeated keys, except on
 * the current side when `onRepeat` is given: a listing may repeat a key across pages, and the
 * repeat is dropped and reported.
 */
export function* diffLines(current: Iterable<CatalogLine>, previous: Iterable<CatalogLine>, onRepeat?: (key: string) => void): Generator<LineDiffEntry> {
  const cur = current[Symbol.iterator]();
  const prev = previous[Symbol.iterator]();
  const next = (side: Iterator<CatalogLine>, last: CatalogLine | undefined, name: string, repeats?: (key: string) => void): CatalogLine | undefined => {
    for (;;) {
      const r = side.next();
      if (r.done) return undefined;
      const order = last === undefined ? 1 : compareLineKeys(last, r.value) * -1;
      if (order > 0) return r.value;
      if (order === 0 && repeats) {
        repeats(lineKey(r.value));
        continue;
      }
      throw new Error(`The ${name} catalogue is not sorted by key: ${JSON.stringify(lineKey(r.value))} follows ${JSON.stringify(lineKey(last!))}. Catalogues must be in S3 key order without duplicates.`);
    }
  };
  let a = next(cur, undefined, 'current', onRepeat);
  let b = next(prev, undefined, 'previous');
  while (a || b) {
    const order = !a ? 1 : !b ? -1 : compareLineKeys(a, b);
    if (order < 0) {
      yield { kind: 'new', line: a! };
      a = next(cur, a, 'current', onRepeat);
    } else if (order > 0) {
      yield { kind: 'deleted', previous: b! };
      b = next(prev, b, 'previous');
    } else {
      const kind = sameListing(a!, b!) || !isChanged(lineRecord(a!), lineRecord(b!)) ? 'unchanged' : 'changed';
      yield { kind, line: a!, previous: b! };
      a = next(cur, a, 'current', onRepeat);
      b = next(prev, b, 'previous');
    }
  }
}
