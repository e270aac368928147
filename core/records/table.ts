/**
 * The images table's shape (issue 28), in one place: shared by the stack that creates it
 * (infra/images-table.ts), the DynamoDB store (adapters/dynamodb.ts) and the embedded server
 * (local/dynamodb-server.ts), so that none spells a name another does not. Names and values only;
 * no AWS types (core imports nothing from AWS).
 */

/** The table's name locally (the stack names its own and passes it in IMAGES_TABLE_ENV). */
export const IMAGES_TABLE_NAME = 'nightshift-images';

/** The environment variable that names the table to the jobs and the API function. */
export const IMAGES_TABLE_ENV = 'NIGHTSHIFT_IMAGES_TABLE';

/** The table's partition key: the original's S3 key (a string attribute). */
export const TABLE_KEY = 'key';

/** The attribute the folder index is keyed by: the folder's stored value (folderAttribute). */
export const FOLDER_ATTR = 'folder';

/**
 * The global secondary index listing one folder in key order: partition FOLDER_ATTR, sort
 * TABLE_KEY, every attribute projected. DynamoDB returns a partition's items by sort key in UTF-8
 * byte order (DynamoDB developer guide, "Key condition expressions for the Query operation"), the
 * order S3 lists in.
 */
export const FOLDER_INDEX = 'folder-key';

/** The attributes the table and its index are keyed on, each a string (S). */
export const TABLE_ATTRIBUTES = [TABLE_KEY, FOLDER_ATTR] as const;

/**
 * The stored folder of top-level keys. DynamoDB refuses an empty string as an index key value
 * (DynamoDB developer guide, "Supported data types and naming rules": String and Binary key
 * attributes of a table or index must have a length greater than zero), so the top level's
 * folder '' cannot be stored as is. A real folder always ends with '/', so a value without one
 * names no folder: '/' would not do, it is the folder of the key '/a.jpg'.
 */
export const TOP_FOLDER = '.';

/** The FOLDER_ATTR value of a folder (core/records/record.ts folderOf: '' or ending with '/'). */
export function folderAttribute(folder: string): string {
  return folder === '' ? TOP_FOLDER : folder;
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
