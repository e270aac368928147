/**
 * The images table's shape (issue 28), shared by the stack that creates it (infra/images-table.ts)
 * and the DynamoDB code that reads and writes it, so that neither spells a name the other does not.
 */

/** The table's partition key: the original's S3 key (a string attribute). */
export const TABLE_KEY = 'key';

/**
 * The attribute the folder index is keyed by: the key up to its last `/`. DynamoDB refuses an
 * empty string as an index key value, so a top-level key needs a non-empty stand-in for its folder.
 */
export const FOLDER_ATTR = 'folder';

/** The global secondary index listing one folder in key order: partition FOLDER_ATTR, sort TABLE_KEY, every attribute projected. */
export const FOLDER_INDEX = 'folder-key';

/** The environment variable that names the deployed table to the jobs and the API function. */
export const IMAGES_TABLE_ENV = 'NIGHTSHIFT_IMAGES_TABLE';
