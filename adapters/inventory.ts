/**
 * Reads the newest S3 Inventory delivery of the corpus (core/inventory.ts) as pages of objects,
 * checking each data file's MD5 against the manifest: a truncated or corrupt inventory fails the
 * run rather than planning from half of it. CSV files stream through gunzip and csv-parse.
 * Parquet files are read from the end (their footer), so each is first copied to the job's disk
 * (hashed on the way), then read one row group at a time with hyparquet: memory holds a row group,
 * never a file.
 */
import { createHash, type Hash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { type _Object, GetObjectCommand, type ObjectStorageClass, type S3Client } from '@aws-sdk/client-s3';
import { parse } from 'csv-parse';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { InventoryError, type InventoryManifest, type InventoryObject, inventoryObject, inventoryParquetObject, latestDelivery, PARQUET_COLUMNS, parseManifest } from '../core/inventory';
import { getText, listPages } from './s3';

export interface InventoryLocation {
  readonly bucket: string;
  /** Up to and including the configuration id: `<destination-prefix>/<source-bucket>/<config-ID>/`. */
  readonly prefix: string;
}

export interface InventoryRead {
  readonly manifestKey: string;
  readonly createdAt: Date;
  readonly format: InventoryManifest['fileFormat'];
  readonly files: number;
  readonly rows: number;
}

type DataFile = InventoryManifest['files'][number];

const PAGE = 1000;

/** `tmpDir` holds one Parquet file at a time while it is read. */
export async function readInventory(s3: S3Client, location: InventoryLocation, corpusBucket: string, keyPrefix: string, tmpDir: string, onPage: (objects: readonly _Object[]) => Promise<void>): Promise<InventoryRead> {
  const base = location.prefix.endsWith('/') ? location.prefix : `${location.prefix}/`;
  const folders: string[] = [];
  for await (const page of listPages(s3, { bucket: location.bucket, prefix: base, delimiter: '/' })) folders.push(...page.prefixes);
  const delivery = latestDelivery(folders);
  if (!delivery) throw new InventoryError(`no inventory delivery under s3://${location.bucket}/${base} (expected folders such as ${base}2026-11-30T02-00Z/): check corpus.inventory, or wait for the first delivery (up to 48 hours after configuring it)`);
  const manifestKey = `${delivery}manifest.json`;
  const manifest = parseManifest(await getText(s3, location.bucket, manifestKey), `s3://${location.bucket}/${manifestKey}`, corpusBucket);
  let rows = 0;
  let page: _Object[] = [];
  for (const file of manifest.files) {
    const objects = manifest.fileFormat === 'Parquet' ? parquetObjects(s3, location.bucket, file, manifest.columns, tmpDir) : csvObjects(s3, location.bucket, file, manifest.columns);
    for await (const object of objects) {
      if (!object || !object.Key.startsWith(keyPrefix)) continue;
      rows++;
      page.push(listedObject(object));
      if (page.length >= PAGE) {
        await onPage(page);
        page = [];
      }
    }
  }
  if (page.length > 0) await onPage(page);
  return { manifestKey, createdAt: manifest.createdAt, format: manifest.fileFormat, files: manifest.files.length, rows };
}

/** An inventory row as the SDK's listing entry, the shape the catalog job reads either source in. */
function listedObject(o: InventoryObject): _Object {
  return { Key: o.Key, Size: o.Size, ETag: o.ETag, LastModified: o.LastModified, StorageClass: o.StorageClass as ObjectStorageClass };
}

/** One CSV data file's rows as objects, streamed; its MD5 is checked once it has all been read. */
async function* csvObjects(s3: S3Client, bucket: string, file: DataFile, columns: readonly string[]): AsyncGenerator<InventoryObject | undefined> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: file.key }));
  const md5 = createHash('md5');
  const parser = parse({ relax_quotes: false, skip_empty_lines: true });
  const reading = pipeline(got.Body as Readable, hashing(md5), ...(file.key.endsWith('.gz') ? [createGunzip()] : []), parser);
  for await (const row of parser as AsyncIterable<string[]>) yield inventoryObject(row, columns);
  await reading;
  checkMd5(bucket, file, md5);
}

/** One Parquet data file's rows as objects: copied to disk and checked first, then read a row group at a time. */
async function* parquetObjects(s3: S3Client, bucket: string, file: DataFile, columns: readonly string[], tmpDir: string): AsyncGenerator<InventoryObject | undefined> {
  const path = join(tmpDir, `inventory-${randomUUID()}.parquet`);
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: file.key }));
    const md5 = createHash('md5');
    await pipeline(got.Body as Readable, hashing(md5), createWriteStream(path));
    checkMd5(bucket, file, md5);
    const source = await asyncBufferFromFile(path);
    const metadata = await parquetMetadataAsync(source).catch((error: unknown) => {
      throw new InventoryError(`s3://${bucket}/${file.key} is not a Parquet file (${(error as Error).message}): check the inventory configuration's output format`);
    });
    const wanted = columns.map((c) => PARQUET_COLUMNS[c]).filter((c): c is string => c !== undefined && c !== 'bucket');
    let rowStart = 0;
    for (const group of metadata.row_groups) {
      const rowEnd = rowStart + Number(group.num_rows);
      const rows = (await parquetReadObjects({ file: source, metadata, columns: wanted, rowStart, rowEnd, compressors })) as Record<string, unknown>[];
      for (const row of rows) yield inventoryParquetObject(row);
      rowStart = rowEnd;
    }
  } finally {
    await rm(path, { force: true });
  }
}

function hashing(md5: Hash): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      md5.update(chunk);
      done(null, chunk);
    },
  });
}

function checkMd5(bucket: string, file: DataFile, md5: Hash): void {
  const sum = md5.digest('hex');
  if (file.MD5checksum && sum !== file.MD5checksum) throw new InventoryError(`s3://${bucket}/${file.key}: MD5 ${sum}, the manifest says ${file.MD5checksum}: the inventory file is damaged; wait for the next delivery or run without corpus.inventory`);
}
