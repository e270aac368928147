/**
 * Reads the newest S3 Inventory delivery of the corpus (core/inventory.ts) as pages of objects,
 * streaming each data file through gunzip and csv-parse, and checking each file's MD5 against the
 * manifest: a truncated or corrupt inventory fails the run rather than planning from half of it.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { type _Object, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parse } from 'csv-parse';
import { InventoryError, inventoryObject, latestDelivery, parseManifest } from '../core/inventory';
import { getText, listPages } from './s3';

export interface InventoryLocation {
  readonly bucket: string;
  /** Up to and including the configuration id: `<destination-prefix>/<source-bucket>/<config-ID>/`. */
  readonly prefix: string;
}

export interface InventoryRead {
  readonly manifestKey: string;
  readonly createdAt: Date;
  readonly files: number;
  readonly rows: number;
}

const PAGE = 1000;

export async function readInventory(s3: S3Client, location: InventoryLocation, corpusBucket: string, keyPrefix: string, onPage: (objects: readonly _Object[]) => Promise<void>): Promise<InventoryRead> {
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
    const got = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: file.key }));
    const md5 = createHash('md5');
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        md5.update(chunk);
        done(null, chunk);
      },
    });
    const parser = parse({ relax_quotes: false, skip_empty_lines: true });
    const reading = pipeline(got.Body as Readable, hashing, ...(file.key.endsWith('.gz') ? [createGunzip()] : []), parser);
    for await (const row of parser as AsyncIterable<string[]>) {
      const object = inventoryObject(row, manifest.columns);
      if (!object || !object.Key!.startsWith(keyPrefix)) continue;
      rows++;
      page.push(object);
      if (page.length >= PAGE) {
        await onPage(page);
        page = [];
      }
    }
    await reading;
    const sum = md5.digest('hex');
    if (file.MD5checksum && sum !== file.MD5checksum) throw new InventoryError(`s3://${location.bucket}/${file.key}: MD5 ${sum}, the manifest says ${file.MD5checksum}: the inventory file is damaged; wait for the next delivery or run without corpus.inventory`);
  }
  if (page.length > 0) await onPage(page);
  return { manifestKey, createdAt: manifest.createdAt, files: manifest.files.length, rows };
}
