/**
 * The image records' table, in one place: its name, key and folder index, shared by the adapter
 * (adapters/dynamodb.ts), the embedded server (local/dynamodb-server.ts) and the stack. Names and
 * shape only; no AWS types (core imports nothing from AWS).
 */

/** The table's name locally (the stack may name it otherwise and pass it in the environment). */
export const IMAGE_TABLE_NAME = 'nightshift-images';

/** Partition key of the table: the original's S3 key (type S). */
export const IMAGE_KEY = 'key';

/**
 * The global secondary index that lists a folder in key order: partition key `folder` (S), sort
 * key `key` (S), all attributes projected. DynamoDB returns a partition's items by sort key in
 * UTF-8 byte order (DynamoDB developer guide, "Key condition expressions for the Query
 * operation"), the order S3 lists in.
 */
export const FOLDER_INDEX = { name: 'folder-key', partitionKey: 'folder', sortKey: IMAGE_KEY } as const;

/** The attributes the table and its index are keyed on, each a string. */
export const IMAGE_TABLE_ATTRIBUTES = [IMAGE_KEY, FOLDER_INDEX.partitionKey] as const;

/** A key's folder: the key up to and including its last '/', '' for a top-level key. */
export function folderOf(key: string): string {
  return key.slice(0, key.lastIndexOf('/') + 1);
}

/**
 * A record's `lastModified` in the one form the table compares as a string: UTC to the second,
 * `YYYY-MM-DDTHH:MM:SSZ` (fixed width, so string order is time order). S3 times are whole seconds;
 * `….000Z` (a listing's form) is accepted and shortened. Anything else is refused, since two
 * forms in one table would compare wrongly ('.' sorts before 'Z').
 */
export function recordTime(lastModified: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.000)?Z$/.exec(lastModified);
  if (!m || Number.isNaN(Date.parse(lastModified))) throw new Error(`lastModified must be a UTC time to the second (e.g. 2026-12-01T21:14:03Z), received ${JSON.stringify(lastModified)}`);
  return `${m[1]}Z`;
}
