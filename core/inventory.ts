/**
 * S3 Inventory as the catalogue's source, for buckets too big to list every night. An inventory
 * configuration delivers, daily or weekly, a manifest and the data files it names (S3 user guide,
 * "Locating your inventory list"):
 *
 *   <destination-prefix>/<source-bucket>/<config-ID>/YYYY-MM-DDTHH-MMZ/manifest.json
 *   <destination-prefix>/<source-bucket>/<config-ID>/data/<file>.csv.gz
 *
 * manifest.json names the format (`fileFormat`), the columns of a CSV row (`fileSchema`, e.g.
 * "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass") and the data files (`files`: key,
 * size, MD5checksum). In CSV, keys are URL-encoded. The rows become the same records a listing
 * gives, so the diff, the filter and every guarantee after them are the same.
 */
import type { _Object } from '@aws-sdk/client-s3';

/** The columns a catalogue record needs (the inventory configuration's "additional fields"). */
export const REQUIRED_FIELDS = ['Key', 'Size', 'LastModifiedDate', 'ETag', 'StorageClass'] as const;

export interface InventoryManifest {
  readonly sourceBucket: string;
  readonly fileFormat: 'CSV';
  /** Column names, in order. */
  readonly columns: readonly string[];
  readonly files: readonly { readonly key: string; readonly size: number; readonly MD5checksum?: string }[];
  /** When the inventory began scanning the bucket (ms since the epoch, as manifest.json gives it). */
  readonly createdAt: Date;
}

export class InventoryError extends Error {
  override readonly name = 'InventoryError';
}

/** Reads manifest.json, refusing what the catalogue cannot use, with the fix. */
export function parseManifest(text: string, where: string, expectedBucket: string): InventoryManifest {
  let raw: { sourceBucket?: unknown; fileFormat?: unknown; fileSchema?: unknown; files?: unknown; creationTimestamp?: unknown };
  try {
    raw = JSON.parse(text) as typeof raw;
  } catch (error) {
    throw new InventoryError(`${where} is not valid JSON (${(error as Error).message})`);
  }
  if (raw.fileFormat !== 'CSV') {
    throw new InventoryError(`${where}: fileFormat ${JSON.stringify(raw.fileFormat)} is not supported yet: set the inventory configuration's output format to CSV (corpus.inventory reads CSV inventories)`);
  }
  if (raw.sourceBucket !== expectedBucket) throw new InventoryError(`${where} is the inventory of bucket ${JSON.stringify(raw.sourceBucket)}, not of the corpus ${JSON.stringify(expectedBucket)}: check corpus.inventory.prefix`);
  const columns = typeof raw.fileSchema === 'string' ? raw.fileSchema.split(',').map((c) => c.trim()) : [];
  const missing = REQUIRED_FIELDS.filter((f) => !columns.includes(f));
  if (missing.length > 0) throw new InventoryError(`${where}: the inventory lacks ${missing.join(', ')}: add them to the inventory configuration's additional fields (Size, Last modified, ETag, Storage class)`);
  if (!Array.isArray(raw.files)) throw new InventoryError(`${where}: no "files" array`);
  const createdAt = new Date(Number(raw.creationTimestamp));
  if (Number.isNaN(createdAt.getTime())) throw new InventoryError(`${where}: creationTimestamp ${JSON.stringify(raw.creationTimestamp)} is not a time in milliseconds`);
  return { sourceBucket: raw.sourceBucket, fileFormat: 'CSV', columns, files: raw.files as InventoryManifest['files'], createdAt };
}

/** An inventory key: URL-encoded, with "+" for a space (a literal "+" is %2B). */
export function decodeInventoryKey(encoded: string): string {
  return decodeURIComponent(encoded.replaceAll('+', ' '));
}

/**
 * One CSV row as the object a listing would give, or undefined for a row that is no current
 * object (a version inventory's older versions and delete markers).
 */
export function inventoryObject(row: readonly string[], columns: readonly string[]): _Object | undefined {
  const at = (name: string) => {
    const i = columns.indexOf(name);
    return i < 0 ? undefined : row[i];
  };
  if (at('IsLatest') === 'false' || at('IsDeleteMarker') === 'true') return undefined;
  const etag = at('ETag') ?? '';
  return {
    Key: decodeInventoryKey(at('Key') ?? ''),
    Size: Number(at('Size') ?? 0),
    // A listing quotes ETags; an inventory does not.
    ETag: etag.startsWith('"') ? etag : `"${etag}"`,
    LastModified: new Date(at('LastModifiedDate') ?? 0),
    StorageClass: (at('StorageClass') || 'STANDARD') as _Object['StorageClass'],
  };
}

/** The newest delivery among the date folders of an inventory configuration (`2026-11-30T02-00Z/`). */
export function latestDelivery(folders: readonly string[]): string | undefined {
  return folders.filter((f) => /\/\d{4}-\d\d-\d\dT\d\d-\d\dZ\/$/.test(f)).sort().at(-1);
}
