/**
 * S3 Inventory as the catalogue's source, for buckets too big to list every night. An inventory
 * configuration delivers, daily or weekly, a manifest and the data files it names (S3 user guide,
 * "Locating your inventory list"):
 *
 *   <destination-prefix>/<source-bucket>/<config-ID>/YYYY-MM-DDTHH-MMZ/manifest.json
 *   <destination-prefix>/<source-bucket>/<config-ID>/data/<file>.csv.gz
 *
 * manifest.json names the format (`fileFormat`), the columns (`fileSchema`) and the data files
 * (`files`: key, size, MD5checksum). A CSV schema lists a row's columns ("Bucket, Key, Size,
 * LastModifiedDate, ETag, StorageClass"), and its keys are URL-encoded; a Parquet schema is a
 * Parquet message ("message s3.inventory { required binary key (UTF8); optional int64 size; …
 * optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); …}", S3
 * user guide, "Inventory manifest"), with keys as they are. Either way the rows become the same
 * records a listing gives, so the diff, the filter and every guarantee after them are the same.
 */
/**
 * One current object of an inventory, in the field names of a ListObjectsV2 entry (its `Contents`)
 * so that the adapter maps it one to one. Core's own shape: core imports nothing from AWS.
 */
export interface InventoryObject {
  readonly Key: string;
  readonly Size: number;
  /** Quoted, as a listing gives it. */
  readonly ETag: string;
  readonly LastModified: Date;
  /** STANDARD when the inventory leaves it empty. */
  readonly StorageClass: string;
}

/** The columns a catalogue record needs (the inventory configuration's "additional fields"). */
export const REQUIRED_FIELDS = ['Key', 'Size', 'LastModifiedDate', 'ETag', 'StorageClass'] as const;

/** A Parquet inventory's column for each CSV column name (the manifest example in the S3 user guide). */
export const PARQUET_COLUMNS: Readonly<Record<string, string>> = {
  Bucket: 'bucket',
  Key: 'key',
  Size: 'size',
  LastModifiedDate: 'last_modified_date',
  ETag: 'e_tag',
  StorageClass: 'storage_class',
  IsLatest: 'is_latest',
  IsDeleteMarker: 'is_delete_marker',
};

export type InventoryFormat = 'CSV' | 'Parquet';

export interface InventoryManifest {
  readonly sourceBucket: string;
  readonly fileFormat: InventoryFormat;
  /** Column names (as a CSV inventory names them), in order. */
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
  if (raw.fileFormat !== 'CSV' && raw.fileFormat !== 'Parquet') {
    throw new InventoryError(`${where}: fileFormat ${JSON.stringify(raw.fileFormat)} is not supported: set the inventory configuration's output format to CSV or Apache Parquet (corpus.inventory reads those two)`);
  }
  const fileFormat: InventoryFormat = raw.fileFormat;
  if (raw.sourceBucket !== expectedBucket) throw new InventoryError(`${where} is the inventory of bucket ${JSON.stringify(raw.sourceBucket)}, not of the corpus ${JSON.stringify(expectedBucket)}: check corpus.inventory.prefix`);
  const schema = typeof raw.fileSchema === 'string' ? raw.fileSchema : '';
  const columns = fileFormat === 'CSV' ? schema.split(',').map((c) => c.trim()) : parquetColumns(schema);
  const missing = REQUIRED_FIELDS.filter((f) => !columns.includes(f));
  if (missing.length > 0) throw new InventoryError(`${where}: the inventory lacks ${missing.join(', ')}: add them to the inventory configuration's additional fields (Size, Last modified, ETag, Storage class)`);
  if (!Array.isArray(raw.files)) throw new InventoryError(`${where}: no "files" array`);
  const createdAt = new Date(Number(raw.creationTimestamp));
  if (Number.isNaN(createdAt.getTime())) throw new InventoryError(`${where}: creationTimestamp ${JSON.stringify(raw.creationTimestamp)} is not a time in milliseconds`);
  return { sourceBucket: raw.sourceBucket, fileFormat, columns, files: raw.files as InventoryManifest['files'], createdAt };
}

/** The columns of a Parquet schema message, by their CSV names (PARQUET_COLUMNS), for the same checks as a CSV schema. */
function parquetColumns(message: string): string[] {
  const fields = [...message.matchAll(/(?:required|optional|repeated)\s+\w+\s+(\w+)/g)].map((m) => m[1]!);
  const csvName = Object.fromEntries(Object.entries(PARQUET_COLUMNS).map(([csv, parquet]) => [parquet, csv]));
  return fields.map((f) => csvName[f] ?? f);
}

/** An inventory key: URL-encoded, with "+" for a space (a literal "+" is %2B). */
export function decodeInventoryKey(encoded: string): string {
  return decodeURIComponent(encoded.replaceAll('+', ' '));
}

/**
 * One CSV row as the object a listing would give, or undefined for a row that is no current
 * object (a version inventory's older versions and delete markers).
 */
export function inventoryObject(row: readonly string[], columns: readonly string[]): InventoryObject | undefined {
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
    StorageClass: at('StorageClass') || 'STANDARD',
  };
}

/**
 * One Parquet row (hyparquet's object: column name → value) as the object a listing would give,
 * or undefined for a row that is no current object. Keys are not URL-encoded in Parquet;
 * last_modified_date is a timestamp in milliseconds (a Date, or its number); size an int64.
 */
export function inventoryParquetObject(row: Readonly<Record<string, unknown>>): InventoryObject | undefined {
  if (row.is_latest === false || row.is_delete_marker === true) return undefined;
  const etag = String(row.e_tag ?? '');
  const modified = row.last_modified_date;
  return {
    Key: String(row.key ?? ''),
    Size: Number(row.size ?? 0),
    ETag: etag.startsWith('"') ? etag : `"${etag}"`,
    LastModified: modified instanceof Date ? modified : new Date(Number(modified ?? 0)),
    StorageClass: String(row.storage_class ?? '') || 'STANDARD',
  };
}

/** The newest delivery among the date folders of an inventory configuration (`2026-11-30T02-00Z/`). */
export function latestDelivery(folders: readonly string[]): string | undefined {
  return folders.filter((f) => /\/\d{4}-\d\d-\d\dT\d\d-\d\dZ\/$/.test(f)).sort().at(-1);
}
