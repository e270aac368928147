/**
 * Catalogue records and the filter rules that decide which listed objects are images to work on.
 * A record is one JSON line: `{key, size, etag, lastModified, storageClass}`.
 */
import { ARCHIVED_STORAGE_CLASSES, type FilterRules, type SortKey } from './config';
import { compareKeys, extensionOf, stripExtension } from './keys';

export interface CatalogRecord {
  readonly key: string;
  readonly size: number;
  /** The ETag as S3 returns it, quotes included. */
  readonly etag: string;
  /** ISO 8601. */
  readonly lastModified: string;
  readonly storageClass: string;
  /** True when an archived object has a readable restored copy. */
  readonly restored?: boolean;
}

export type ChangeKind = 'new' | 'changed' | 'unchanged';

/** One object for the shard jobs: a catalogue record and why it is in the work list. */
export interface WorkItem extends CatalogRecord {
  readonly change: ChangeKind;
  /** Reason this item must not be resized (it still gets backed up), e.g. a rendition-key collision. */
  readonly resizeSkip?: { readonly code: string; readonly message: string };
}

export function toLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/** Parses one JSON line as a catalogue record, naming the line when it is not one. */
export function parseRecordLine<T extends CatalogRecord = CatalogRecord>(line: string, where: string): T {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new Error(`${where}: not a JSON line (${(error as Error).message}): ${line.slice(0, 200)}`);
  }
  const r = value as Partial<CatalogRecord> | null;
  if (!r || typeof r.key !== 'string' || typeof r.size !== 'number' || typeof r.etag !== 'string' || typeof r.lastModified !== 'string') {
    throw new Error(`${where}: expected a catalogue record {key, size, etag, lastModified, storageClass}, received ${line.slice(0, 200)}`);
  }
  return value as T;
}

export const byKey = (a: CatalogRecord, b: CatalogRecord): number => compareKeys(a.key, b.key);

/** The order a catalogue is written in; ties are broken by key so the order is total. */
export function recordComparator(by: SortKey): (a: CatalogRecord, b: CatalogRecord) => number {
  switch (by) {
    case 'key':
      return byKey;
    case 'size':
      return (a, b) => a.size - b.size || compareKeys(a.key, b.key);
    case 'lastModified':
      return (a, b) => (a.lastModified < b.lastModified ? -1 : a.lastModified > b.lastModified ? 1 : compareKeys(a.key, b.key));
  }
}

/** Reasons an object is listed but not worked on. */
export const SKIP_REASONS = {
  'folder-placeholder': 'a folder placeholder (key ends with "/")',
  'zero-byte': 'an empty object',
  'excluded-prefix': 'under an excluded prefix',
  'not-an-image': 'the extension is not one of the configured image extensions',
  'too-small': 'smaller than filter.minBytes',
  'too-old': 'last modified before filter.modifiedAfter',
  archived: 'in an archive storage class (GLACIER/DEEP_ARCHIVE): restore it first',
} as const;
export type SkipReason = keyof typeof SKIP_REASONS;

/** Decides whether a listed object is a candidate image; returns the skip reason when it is not. */
export function filterRecord(record: CatalogRecord, rules: FilterRules): SkipReason | undefined {
  if (record.key.endsWith('/')) return 'folder-placeholder';
  if (record.size === 0) return 'zero-byte';
  if (rules.excludePrefixes.some((p) => record.key.startsWith(p))) return 'excluded-prefix';
  if (!rules.extensions.includes(extensionOf(record.key))) return 'not-an-image';
  if (record.size < rules.minBytes) return 'too-small';
  if (rules.modifiedAfter && Date.parse(record.lastModified) < Date.parse(rules.modifiedAfter)) return 'too-old';
  if ((ARCHIVED_STORAGE_CLASSES as readonly string[]).includes(record.storageClass) && !record.restored) return 'archived';
  return undefined;
}

/**
 * Why a selected object is backed up but not rendered, if it is: the decoder's limits
 * (filter.maxBytes here; filter.maxPixels once its header is read) are resize's alone, and a
 * backup covers every selected original up to S3's 5 TB.
 */
export function resizeSkipFor(record: CatalogRecord, rules: FilterRules): { code: string; message: string } | undefined {
  if (record.size > rules.maxBytes) return { code: 'too-large', message: `${record.size} bytes, larger than filter.maxBytes (${rules.maxBytes}): backed up, not rendered` };
  return undefined;
}

/**
 * Finds source keys whose renditions would land on the same keys (`a.jpg` and `a.png` both render
 * to `<preset>/a.<format>`). Fed keys in S3 order, it keeps only the stems that are prefixes of the
 * current key's range: every key sharing a stem is the stem or starts with `stem.`, a contiguous range.
 * The first key in order keeps the renditions; later ones are reported.
 */
export class RenditionCollisions {
  private readonly active = new Map<string, string>();

  /** Returns the key that already owns this key's rendition stem, if any. */
  check(key: string): string | undefined {
    for (const stem of this.active.keys()) {
      // Sorted input: once a key is past the `stem.` range without starting with it, the range is over.
      const range = `${stem}.`;
      if (!key.startsWith(range) && compareKeys(key, range) > 0) this.active.delete(stem);
    }
    const stem = stripExtension(key);
    const owner = this.active.get(stem);
    if (owner !== undefined) return owner;
    this.active.set(stem, key);
    return undefined;
  }
}

/**
 * The catalogue to promote after a run: the previous one with the run's prefix range replaced by
 * the run's catalogue, minus `exclude` (keys that failed transiently, so tomorrow retries them).
 * Both inputs are key-sorted; the output is too. Constant memory but for `exclude`.
 */
export async function* mergeForPromotion(
  previous: AsyncIterable<CatalogRecord>,
  current: AsyncIterable<CatalogRecord>,
  prefix: string,
  exclude: ReadonlySet<string>,
): AsyncGenerator<CatalogRecord> {
  const prev = (async function* () {
    for await (const r of previous) if (!r.key.startsWith(prefix)) yield r;
  })();
  const cur = (async function* () {
    for await (const r of current) if (!exclude.has(r.key)) yield r;
  })();
  let a = await prev.next();
  let b = await cur.next();
  while (!a.done || !b.done) {
    if (b.done || (!a.done && compareKeys(a.value.key, b.value.key) < 0)) {
      yield a.value as CatalogRecord;
      a = await prev.next();
    } else {
      yield b.value;
      b = await cur.next();
    }
  }
}
