/**
 * External merge sort of JSON-serialisable records with bounded memory: records are buffered up to
 * a memory budget, each full buffer is sorted and spilled to a temporary file as a sorted run, and
 * the runs are merged k ways with a binary heap (in several passes when there are more runs than
 * `fanIn`). Input that fits the budget never touches the disk.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJsonLines, writeJsonLines } from './jsonl';

export interface ExternalSortOptions<T> {
  readonly compare: (a: T, b: T) => number;
  /**
   * Approximate memory held by buffered records before a run is spilled, in bytes, estimated as
   * twice the JSON length of each record plus a fixed overhead. Default: 64 MiB.
   */
  readonly memoryBytes?: number;
  /** Most runs merged at once; more runs are merged in passes. Default: 64. */
  readonly fanIn?: number;
  /** Where run files go. Default: a new folder under the OS temp dir, removed at the end. */
  readonly tmpDir?: string;
}

export interface ExternalSortStats {
  records: number;
  /** Sorted runs written to disk (0 when everything fitted in memory). */
  spilledRuns: number;
  spilledBytes: number;
  mergePasses: number;
}

const RECORD_OVERHEAD_BYTES = 64;

export class ExternalSorter<T> {
  readonly stats: ExternalSortStats = { records: 0, spilledRuns: 0, spilledBytes: 0, mergePasses: 0 };
  private buffer: T[] = [];
  private bufferedBytes = 0;
  private readonly runs: string[] = [];
  private readonly budget: number;
  private readonly fanIn: number;
  private readonly files: SpillFiles;
  private finished = false;

  constructor(private readonly options: ExternalSortOptions<T>) {
    this.budget = options.memoryBytes ?? 64 * 1024 * 1024;
    this.fanIn = Math.max(2, options.fanIn ?? 64);
    this.files = new SpillFiles(options.tmpDir);
  }

  /** Adds a record; spills a sorted run when the buffer reaches the memory budget. */
  async add(record: T): Promise<void> {
    if (this.finished) throw new Error('ExternalSorter.add() after sorted()');
    this.buffer.push(record);
    this.stats.records++;
    this.bufferedBytes += JSON.stringify(record).length * 2 + RECORD_OVERHEAD_BYTES;
    if (this.bufferedBytes >= this.budget) await this.spill();
  }

  /** Yields every record added, in order. Temporary files are removed when iteration ends. */
  async *sorted(): AsyncGenerator<T> {
    this.finished = true;
    try {
      if (this.runs.length === 0) {
        const records = this.buffer.sort(this.options.compare);
        this.buffer = [];
        yield* records;
        return;
      }
      if (this.buffer.length > 0) await this.spill();
      while (this.runs.length > this.fanIn) {
        const group = this.runs.splice(0, this.fanIn);
        const merged = this.files.next();
        await writeJsonLines(merged, mergeRuns(group, this.options.compare));
        for (const file of group) rmSync(file, { force: true });
        this.runs.push(merged);
        this.stats.mergePasses++;
      }
      this.stats.mergePasses++;
      yield* mergeRuns(this.runs, this.options.compare);
    } finally {
      this.cleanup();
    }
  }

  /** Removes temporary files; safe to call more than once. */
  cleanup(): void {
    this.files.cleanup(this.runs);
  }

  private async spill(): Promise<void> {
    const records = this.buffer.sort(this.options.compare);
    this.buffer = [];
    this.bufferedBytes = 0;
    const path = this.files.next();
    this.stats.spilledBytes += await writeJsonLines(path, records);
    this.stats.spilledRuns++;
    this.runs.push(path);
  }
}

/**
 * The temporary files of an external sort: in the given folder (the caller's, left in place), or
 * in a new folder of the OS temp dir, removed whole.
 */
export class SpillFiles {
  private dir: string | undefined;
  private count = 0;
  private readonly id = randomUUID().slice(0, 8);

  constructor(private readonly tmpDir?: string) {}

  /** A new file path (the file is not created). */
  next(): string {
    this.dir ??= this.tmpDir ?? mkdtempSync(join(tmpdir(), 'nightshift-sort-'));
    return join(this.dir, `run-${this.id}-${this.count++}.jsonl`);
  }

  /** Removes `runs` (or the whole folder when it is ours) and empties the list; safe to repeat. */
  cleanup(runs: string[]): void {
    if (this.dir && !this.tmpDir) rmSync(this.dir, { recursive: true, force: true });
    else for (const file of runs) rmSync(file, { force: true });
    runs.length = 0;
  }
}

/** Sorts an async source with bounded memory. `stats` is filled in as the result is consumed. */
export async function* externalSort<T>(source: AsyncIterable<T> | Iterable<T>, options: ExternalSortOptions<T>, stats?: (s: ExternalSortStats) => void): AsyncGenerator<T> {
  const sorter = new ExternalSorter(options);
  try {
    for await (const record of source) await sorter.add(record);
    yield* sorter.sorted();
  } finally {
    sorter.cleanup();
    stats?.(sorter.stats);
  }
}

/** k-way merge of sorted runs with a binary min-heap keyed on each run's current head. */
async function* mergeRuns<T>(paths: readonly string[], compare: (a: T, b: T) => number): AsyncGenerator<T> {
  const heap = new MinHeap<{ value: T; source: AsyncGenerator<T> }>((a, b) => compare(a.value, b.value));
  for (const path of paths) {
    const source = readJsonLines<T>(path);
    const first = await source.next();
    if (!first.done) heap.push({ value: first.value, source });
  }
  while (heap.size > 0) {
    const top = heap.peek()!;
    yield top.value;
    const next = await top.source.next();
    if (next.done) heap.pop();
    else {
      top.value = next.value;
      heap.siftDownTop();
    }
  }
}

export class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(items[i]!, items[parent]!) >= 0) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.siftDownTop();
    }
    return top;
  }

  /** Restores heap order after the top item's key grew. */
  siftDownTop(): void {
    const items = this.items;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && this.compare(items[left]!, items[smallest]!) < 0) smallest = left;
      if (right < items.length && this.compare(items[right]!, items[smallest]!) < 0) smallest = right;
      if (smallest === i) return;
      [items[i], items[smallest]] = [items[smallest]!, items[i]!];
      i = smallest;
    }
  }
}
