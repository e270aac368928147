/**
 * Where records are read from: the API's view of a store (DynamoDB in AWS and locally, through
 * adapters/; an in-memory one here for tests). No AWS types: a cursor is an opaque string.
 */
import { compareKeys } from '../keys';
import { folderOf, type StoredRecord } from './record';

export interface RecordPage {
  /** Records directly in the folder, in key order (UTF-8 byte order); tombstones may appear. */
  readonly items: readonly StoredRecord[];
  /** Opaque; null when the folder has no more records. */
  readonly cursor: string | null;
}

export interface RecordStore {
  get(key: string): Promise<StoredRecord | undefined>;
  /**
   * At most `limit` records directly in `folder` ('' or ending with '/'), after `cursor`. Throws
   * InvalidCursorError for a cursor it did not hand out.
   */
  listFolder(folder: string, limit: number, cursor?: string): Promise<RecordPage>;
}

/** A cursor this store did not make (or made for another folder). */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
}

/** Records in memory, sorted as S3 and DynamoDB sort keys; the cursor is the last key returned. */
export class MemoryRecordStore implements RecordStore {
  private readonly records = new Map<string, StoredRecord>();

  constructor(records: Iterable<StoredRecord> = []) {
    for (const r of records) this.put(r);
  }

  put(record: StoredRecord): void {
    this.records.set(record.key, record);
  }

  async get(key: string): Promise<StoredRecord | undefined> {
    return this.records.get(key);
  }

  async listFolder(folder: string, limit: number, cursor?: string): Promise<RecordPage> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor, folder);
    const inFolder = [...this.records.values()]
      .filter((r) => folderOf(r.key) === folder && (after === undefined || compareKeys(r.key, after) > 0))
      .sort((a, b) => compareKeys(a.key, b.key));
    const items = inFolder.slice(0, limit);
    const more = inFolder.length > limit;
    return { items, cursor: more ? encodeCursor(items[items.length - 1]!.key) : null };
  }
}

const encodeCursor = (key: string): string => Buffer.from(JSON.stringify({ after: key }), 'utf8').toString('base64url');

function decodeCursor(cursor: string, folder: string): string {
  let after: unknown;
  try {
    after = (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown }).after;
  } catch {
    throw new InvalidCursorError('not a cursor this API returned');
  }
  if (typeof after !== 'string' || folderOf(after) !== folder) throw new InvalidCursorError('not a cursor this API returned for this prefix');
  return after;
}
