/**
 * Catalogue records and the filter rules that decide which listed objects are images to work on.
 * A record is one JSON line: `{key, size, etag, lastModified, storageClass}`.
 */
import { ARCHIVED_STORAGE_CLASSES, type FilterRules } from './config';
import { compareKeys, extensionOf } from './keys';

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

export type ChangeKind = 'new' | 'changed' | 'unchanged' | 'deleted';

/**
 * One object for the shard jobs: a catalogue record and what each job must do for it (core/state.ts
 * decides). Each job accounts for every item of its shard, the ones it has nothing to do for too.
 */
export interface WorkItem extends CatalogRecord {
  /** `deleted`: the original is gone and resize prunes its renditions (`presets`); backup keeps its copy. */
  readonly change: ChangeKind;
  /** The backup does not hold this version yet (or the run is `full`). */
  readonly backup: boolean;
  /** The presets to render: missing, or rendered with another recipe (every preset of the run when `full`). */
  readonly presets: readonly string[];
  /** Reason this item must not be resized (it still gets backed up), e.g. too large to decode. */
  readonly resizeSkip?: { readonly code: string; readonly message: string };
  /** Presets removed from the configuration (confirmed in renditions.removePresets) whose renditions of this image resize deletes. */
  readonly prunePresets?: readonly string[];
  /**
   * Its renditions are current but it has no image record yet: resize writes the record from them
   * (their HEADs, one GET of the smallest, one ranged GET of the original's header), rendering
   * only what it finds not current after all.
   */
  readonly backfill?: true;
  /** The image that held this one's rendition stem when it came: its renditions are under disambiguated keys (core/keys.ts renditionKey). */
  readonly collidesWith?: string;
}

/** Bytes of an original the shard jobs read or copy for an item: none for a prune or a backfill alone (a header read). */
export function workBytes(item: Pick<WorkItem, 'change' | 'size' | 'backup' | 'presets' | 'backfill'>): number {
  return item.change === 'deleted' || (item.backfill && !item.backup && item.presets.length === 0) ? 0 : item.size;
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
 * The catalogue to promote after a run: the previous one with the run's prefix range replaced by
 * the run's catalogue (as promoted: core/state.ts promotedRecords). Both inputs are key-sorted;
 * the output is too. Constant memory.
 */
export async function* mergeForPromotion<T extends CatalogRecord>(previous: AsyncIterable<T>, current: AsyncIterable<T>, prefix: string): AsyncGenerator<T> {
  const prev = (async function* () {
    for await (const r of previous) if (!r.key.startsWith(prefix)) yield r;
  })();
  yield* mergeByKey(prev, current[Symbol.asyncIterator]());
}

/** Two key-ordered streams as one (on equal keys, the first stream's record comes first). */
export async function* mergeByKey<T extends { key: string }>(a: AsyncIterator<T>, b: AsyncIterator<T>): AsyncGenerator<T> {
  let x = await a.next();
  let y = await b.next();
  while (!x.done || !y.done) {
    if (y.done || (!x.done && compareKeys(x.value.key, y.value.key) <= 0)) {
      yield x.value as T;
      x = await a.next();
    } else {
      yield y.value;
      y = await b.next();
    }
  }
}
