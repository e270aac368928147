/**
 * Catalogues as bytes: JSON Lines whose first field is "key" (as JSON.stringify writes a
 * CatalogRecord), sorted and merge-joined in S3 key order (UTF-8 byte order) without decoding or
 * parsing the lines that do not need it.
 *
 * Why not ExternalSorter<CatalogRecord>: on 1,000,000 records, parsing every line, comparing keys
 * as UTF-16 strings and yielding through async generators cost 11 s; GNU sort does the same sort in
 * under 1 s. Here a line is read once into a chunk, its key located in place, the lines of a run
 * sorted by MSD radix on the key bytes, and spilled and merged as bytes. Only lines whose bytes
 * differ from last night's are parsed by the diff (`npm run bench` measures it).
 *
 * Everything is synchronous file I/O: the catalog job does nothing else while it sorts, and the
 * callers yield to the event loop between batches.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { isChanged } from './diff';
import type { CatalogRecord } from './catalog';
import { MinHeap, SpillFiles } from './extsort';

/** One catalogue line (without its newline) and where its key's UTF-8 bytes are. */
export interface CatalogLine {
  readonly buf: Buffer;
  readonly start: number;
  readonly end: number;
  readonly keyBuf: Buffer;
  readonly keyStart: number;
  readonly keyEnd: number;
}

const KEY_PREFIX = Buffer.from('{"key":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

/**
 * Locates the key of a line in place. A key that JSON escaped (a quote, a backslash or a control
 * character in it) is decoded into its own buffer, so that keys always compare as UTF-8 bytes.
 */
export function catalogLine(buf: Buffer, start: number, end: number, where: { toString(): string }): CatalogLine {
  for (let i = 0; i < KEY_PREFIX.length; i++) {
    if (buf[start + i] !== KEY_PREFIX[i]) throw new Error(`${String(where)}: a catalogue line must start with {"key":" (a JSON object whose first field is the key), found ${JSON.stringify(buf.toString('utf8', start, Math.min(end, start + 40)))}`);
  }
  const keyStart = start + KEY_PREFIX.length;
  let escaped = false;
  let i = keyStart;
  for (; i < end; i++) {
    const c = buf[i];
    if (c === QUOTE) break;
    if (c === BACKSLASH) {
      escaped = true;
      i++;
    }
  }
  if (i >= end) throw new Error(`${String(where)}: the key of this catalogue line has no closing quote`);
  if (!escaped) return { buf, start, end, keyBuf: buf, keyStart, keyEnd: i };
  const key = Buffer.from(JSON.parse(buf.toString('utf8', keyStart - 1, i + 1)) as string, 'utf8');
  return { buf, start, end, keyBuf: key, keyStart: 0, keyEnd: key.length };
}

export function catalogLineFromText(text: string, where: string): CatalogLine {
  const buf = Buffer.from(text, 'utf8');
  return catalogLine(buf, 0, buf.length, where);
}

/** S3 order of two lines' keys: unsigned bytes, a prefix first. */
export function compareLineKeys(a: CatalogLine, b: CatalogLine): number {
  const ab = a.keyBuf;
  const bb = b.keyBuf;
  const al = a.keyEnd - a.keyStart;
  const bl = b.keyEnd - b.keyStart;
  const n = al < bl ? al : bl;
  for (let i = 0; i < n; i++) {
    const d = ab[a.keyStart + i]! - bb[b.keyStart + i]!;
    if (d !== 0) return d;
  }
  return al - bl;
}

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

export const lineText = (line: CatalogLine): string => line.buf.toString('utf8', line.start, line.end);
export const lineKey = (line: CatalogLine): string => line.keyBuf.toString('utf8', line.keyStart, line.keyEnd);
export function lineRecord<T extends CatalogRecord = CatalogRecord>(line: CatalogLine): T {
  const text = lineText(line);
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`A catalogue line is not valid JSON (${(error as Error).message}): ${JSON.stringify(text.slice(0, 120))}`);
  }
}

/** Reads a file of catalogue lines in 1 MiB chunks; every chunk is a new buffer, so returned lines stay valid. */
export class CatalogLineReader implements Iterable<CatalogLine> {
  private fd: number | undefined;
  private buf = Buffer.alloc(0);
  private pos = 0;
  private eof = false;
  lineNo = 0;

  constructor(
    readonly path: string,
    private readonly chunkBytes = 1 << 20,
  ) {
    this.fd = openSync(path, 'r');
  }

  next(): CatalogLine | undefined {
    for (;;) {
      const nl = this.buf.indexOf(NEWLINE, this.pos);
      if (nl !== -1) {
        const start = this.pos;
        this.pos = nl + 1;
        if (nl > start) return this.line(start, nl);
        continue;
      }
      if (this.eof) {
        const start = this.pos;
        this.pos = this.buf.length;
        if (this.buf.length > start) return this.line(start, this.buf.length);
        this.close();
        return undefined;
      }
      this.refill();
    }
  }

  *[Symbol.iterator](): Iterator<CatalogLine> {
    for (let line = this.next(); line; line = this.next()) yield line;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private line(start: number, end: number): CatalogLine {
    this.lineNo++;
    return catalogLine(this.buf, start, end, this);
  }

  /** Where a line is, for errors. */
  toString(): string {
    return `${this.path} line ${this.lineNo}`;
  }

  private refill(): void {
    const rest = this.buf.length - this.pos;
    const next = Buffer.allocUnsafe(rest + this.chunkBytes);
    this.buf.copy(next, 0, this.pos);
    const read = readSync(this.fd!, next, rest, this.chunkBytes, null);
    if (read === 0) this.eof = true;
    this.buf = next.subarray(0, rest + read);
    this.pos = 0;
  }
}

/** Writes lines to a file through a 1 MiB buffer. */
export class CatalogLineWriter {
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  bytes = 0;
  lines = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  write(line: CatalogLine): void {
    const n = line.end - line.start;
    if (this.used + n + 1 > this.buf.length) this.flush();
    if (n + 1 > this.buf.length) {
      writeSync(this.fd, line.buf, line.start, n);
      writeSync(this.fd, '\n');
    } else {
      line.buf.copy(this.buf, this.used, line.start, line.end);
      this.used += n;
      this.buf[this.used++] = NEWLINE;
    }
    this.bytes += n + 1;
    this.lines++;
  }

  /** Writes one line given as text (without its newline). */
  writeText(text: string): void {
    const buf = Buffer.from(text, 'utf8');
    this.write({ buf, start: 0, end: buf.length, keyBuf: buf, keyStart: 0, keyEnd: 0 });
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private flush(): void {
    let done = 0;
    while (done < this.used) done += writeSync(this.fd, this.buf, done, this.used - done);
    this.used = 0;
  }
}

export interface CatalogLineSortStats {
  records: number;
  spilledRuns: number;
  spilledBytes: number;
  mergePasses: number;
}

/** Bytes of bookkeeping per buffered line (the line object and its array slot), for the budget. */
const LINE_OVERHEAD_BYTES = 96;
const ARENA_BYTES = 4 << 20;

/**
 * External sort of catalogue lines by key. Lines are copied into 4 MiB arenas up to the memory
 * budget, radix-sorted and spilled as a run; runs are merged k ways (in passes past `fanIn`).
 * Equal keys keep their input order.
 */
export class CatalogLineSorter {
  readonly stats: CatalogLineSortStats = { records: 0, spilledRuns: 0, spilledBytes: 0, mergePasses: 0 };
  private lines: CatalogLine[] = [];
  private arena = Buffer.allocUnsafe(ARENA_BYTES);
  private arenaUsed = 0;
  private buffered = 0;
  private readonly runs: string[] = [];
  private readonly budget: number;
  private readonly fanIn: number;
  private readonly files: SpillFiles;

  constructor(options: { readonly memoryBytes?: number; readonly fanIn?: number; readonly tmpDir?: string } = {}) {
    this.budget = options.memoryBytes ?? 64 * 1024 * 1024;
    this.fanIn = Math.max(2, options.fanIn ?? 64);
    this.files = new SpillFiles(options.tmpDir);
  }

  /**
   * Adds a line: text is copied into an arena; a line read by CatalogLineReader is kept by reference
   * (the reader never reuses a chunk, so its bytes cannot change).
   */
  add(line: string | CatalogLine): void {
    let stored: CatalogLine;
    if (typeof line === 'string') {
      const n = Buffer.byteLength(line);
      if (this.arenaUsed + n > this.arena.length) {
        this.arena = Buffer.allocUnsafe(Math.max(ARENA_BYTES, n));
        this.arenaUsed = 0;
      }
      const start = this.arenaUsed;
      this.arena.write(line, start, 'utf8');
      this.arenaUsed += n;
      stored = catalogLine(this.arena, start, start + n, this);
    } else stored = line;
    this.lines.push(stored);
    this.stats.records++;
    this.buffered += stored.end - stored.start + LINE_OVERHEAD_BYTES + (stored.keyBuf === stored.buf ? 0 : stored.keyEnd);
    if (this.buffered >= this.budget) this.spill();
  }

  /** Every line added, in key order. Temporary files are removed when iteration ends. */
  sorted(): Iterator<CatalogLine> & Iterable<CatalogLine> {
    if (this.runs.length === 0) {
      const lines = sortLines(this.lines);
      this.lines = [];
      return lines.values();
    }
    try {
      while (this.runs.length >= this.fanIn) {
        const group = this.runs.splice(0, this.fanIn);
        const path = this.files.next();
        const writer = new CatalogLineWriter(path);
        for (const line of mergeLines(group)) writer.write(line);
        writer.close();
        for (const file of group) rmSync(file, { force: true });
        this.runs.push(path);
        this.stats.mergePasses++;
      }
    } catch (error) {
      this.cleanup();
      throw error;
    }
    this.stats.mergePasses++;
    // The last buffer is never spilled: it joins the merge from memory.
    const last = sortLines(this.lines);
    this.lines = [];
    let i = 0;
    return mergeLines(this.runs, { next: () => last[i++], close: () => undefined }, () => this.cleanup());
  }

  /** Where a line is, for errors. */
  toString(): string {
    return `catalogue record ${this.stats.records + 1}`;
  }

  cleanup(): void {
    this.files.cleanup(this.runs);
  }

  private spill(): void {
    const path = this.files.next();
    const writer = new CatalogLineWriter(path);
    for (const line of sortLines(this.lines)) writer.write(line);
    writer.close();
    this.lines = [];
    this.buffered = 0;
    this.arena = Buffer.allocUnsafe(ARENA_BYTES);
    this.arenaUsed = 0;
    this.stats.spilledBytes += writer.bytes;
    this.stats.spilledRuns++;
    this.runs.push(path);
  }
}

interface LineSource {
  next(): CatalogLine | undefined;
  close(): void;
}

/** k-way merge of sorted line files (and lines in memory, last); on equal keys the earlier source comes first. */
function* mergeLines(paths: readonly string[], inMemory?: LineSource, onDone?: () => void): Generator<CatalogLine> {
  type Head = { line: CatalogLine; reader: LineSource; rank: number };
  const heap = new MinHeap<Head>((a, b) => compareLineKeys(a.line, b.line) || a.rank - b.rank);
  const readers: LineSource[] = paths.map((path) => new CatalogLineReader(path));
  if (inMemory) readers.push(inMemory);
  try {
    if (readers.length === 2) {
      // The common case (one spilled run and the lines in memory) needs no heap.
      const [first, second] = readers as [LineSource, LineSource];
      let a = first.next();
      let b = second.next();
      while (a && b) {
        if (compareLineKeys(a, b) <= 0) {
          yield a;
          a = first.next();
        } else {
          yield b;
          b = second.next();
        }
      }
      for (; a; a = first.next()) yield a;
      for (; b; b = second.next()) yield b;
      return;
    }
    readers.forEach((reader, rank) => {
      const line = reader.next();
      if (line) heap.push({ line, reader, rank });
    });
    while (heap.size > 0) {
      const top = heap.peek()!;
      yield top.line;
      const next = top.reader.next();
      if (next) {
        top.line = next;
        heap.siftDownTop();
      } else heap.pop();
    }
  } finally {
    for (const reader of readers) reader.close();
    onDone?.();
  }
}

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
