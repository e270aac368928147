/** The in-memory sort of catalogue lines by their key bytes (MSD radix), for the runs of core/linesort.ts. */
import type { CatalogLine } from './catalog-line';

/**
 * Sorts lines by key bytes, stably. MSD radix, several key bytes at a time: each line's next bytes
 * (or their end) become one number packed with the line's position into a float, the range is
 * sorted natively (Float64Array.sort), and runs of equal numbers recurse deeper. The smaller the
 * range, the fewer bits its positions need and the more bytes one pass takes (4 for a million
 * lines, 5 for a thousand). Small ranges use insertion sort.
 */
export function sortLines(lines: CatalogLine[]): CatalogLine[] {
  if (lines.length < 2) return lines;
  if (lines.length > MAX_RUN_LINES) throw new RangeError(`cannot sort more than ${MAX_RUN_LINES} lines in one run`);
  const order = new Uint32Array(lines.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  radix(lines, order, 0, lines.length, 0);
  const sorted = new Array<CatalogLine>(lines.length);
  for (let i = 0; i < order.length; i++) sorted[i] = lines[order[i]!]!;
  return sorted;
}

const INSERTION_CUTOFF = 24;
/** 257 values a byte position can take: ended (0) or byte + 1. */
const RADIX = 257;
/** Doubles hold integers exactly up to 2^53: digits × positions must stay below it. */
const EXACT = 2 ** 53;
const MAX_RUN_LINES = 2 ** 28;

function radix(lines: CatalogLine[], order: Uint32Array, lo: number, hi: number, depth: number): void {
  if (hi - lo <= INSERTION_CUTOFF) return insertion(lines, order, lo, hi, depth);
  depth += sharedPrefix(lines, order, lo, hi, depth);
  const n = hi - lo;
  let positions = 2;
  while (positions < n) positions *= 2;
  let bytes = 1;
  while (RADIX ** (bytes + 1) * positions <= EXACT) bytes++;
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const line = lines[order[lo + i]!]!;
    const buf = line.keyBuf;
    const at = line.keyStart + depth;
    const end = line.keyEnd;
    let digits = 0;
    for (let b = 0; b < bytes; b++) digits = digits * RADIX + (at + b < end ? buf[at + b]! + 1 : 0);
    packed[i] = digits * positions + i; // < 257^bytes × positions ≤ 2^53: exact in a double
  }
  packed.sort();
  const from = order.slice(lo, hi);
  const digitsOf = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const digits = Math.floor(packed[i]! / positions); // exact: positions is a power of two
    digitsOf[i] = digits;
    order[lo + i] = from[packed[i]! - digits * positions]!;
  }
  // Runs with the same digits, the key not ended among them, need the next bytes.
  let start = 0;
  for (let i = 1; i <= n; i++) {
    if (i < n && digitsOf[i] === digitsOf[start]) continue;
    if (i - start > 1 && digitsOf[start]! % RADIX !== 0) radix(lines, order, lo + start, lo + i, depth + bytes);
    start = i;
  }
}

/** How many bytes past `depth` all keys of the range have in common. */
function sharedPrefix(lines: CatalogLine[], order: Uint32Array, lo: number, hi: number, depth: number): number {
  const first = lines[order[lo]!]!;
  let shared = first.keyEnd - first.keyStart - depth;
  for (let i = lo + 1; i < hi && shared > 0; i++) {
    const line = lines[order[i]!]!;
    const n = Math.min(shared, line.keyEnd - line.keyStart - depth);
    let k = 0;
    while (k < n && line.keyBuf[line.keyStart + depth + k] === first.keyBuf[first.keyStart + depth + k]) k++;
    shared = k;
  }
  return Math.max(0, shared);
}

function insertion(lines: CatalogLine[], order: Uint32Array, lo: number, hi: number, depth: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const current = order[i]!;
    const line = lines[current]!;
    let j = i - 1;
    while (j >= lo && compareFrom(lines[order[j]!]!, line, depth) > 0) {
      order[j + 1] = order[j]!;
      j--;
    }
    order[j + 1] = current;
  }
}

function compareFrom(a: CatalogLine, b: CatalogLine, depth: number): number {
  const al = a.keyEnd - a.keyStart;
  const bl = b.keyEnd - b.keyStart;
  const n = al < bl ? al : bl;
  for (let i = depth; i < n; i++) {
    const d = a.keyBuf[a.keyStart + i]! - b.keyBuf[b.keyStart + i]!;
    if (d !== 0) return d;
  }
  return al - bl;
}
