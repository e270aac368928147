/**
 * The one DynamoDB module: the image records' store (core/records/table.ts names the table). The
 * same code runs against DynamoDB or the embedded server (local/dynamodb-server.ts) by endpoint
 * alone.
 *
 * Environment (all optional):
 * - `AWS_ENDPOINT_URL_DYNAMODB`: a DynamoDB-compatible endpoint (e.g. the embedded server).
 * - `AWS_REGION`: defaults to us-east-1 when nothing else sets it.
 * - `NIGHTSHIFT_DYNAMODB_MAX_ATTEMPTS`: attempts per request, including the first (default 8),
 *   with the S3 client's retry policy (adapters/retry.ts): adaptive backoff, no retry quota.
 * - `NIGHTSHIFT_IMAGES_TABLE` (IMAGES_TABLE_ENV): the records' table (default: IMAGES_TABLE_NAME).
 *
 * Writes are conditioned, so they go in TransactWriteItems, not BatchWriteItem: "you cannot
 * specify conditions on individual put and delete requests" in a batch (DynamoDB API reference,
 * BatchWriteItem). A transaction of 25 puts costs one request, as a batch of 25 would (and twice
 * the write units: DynamoDB developer guide, "Capacity management for transactions").
 */
import { DynamoDBClient, type DynamoDBClientConfig, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { folderOf } from '../core/records/record';
import { InvalidCursorError } from '../core/records/store';
import { FOLDER_ATTR, FOLDER_INDEX, IMAGES_TABLE_ENV, IMAGES_TABLE_NAME, TABLE_KEY, folderAttribute, recordTime } from '../core/records/table';
import { UsageError } from '../core/validation';
import type { DeserializeHandlerOptions, DeserializeMiddleware } from '@smithy/types';
import { endpointSettings } from './endpoint';
import { NoQuotaAdaptiveRetryStrategy } from './retry';

export interface DynamoOptions {
  readonly endpoint?: string;
  readonly region?: string;
  readonly maxAttempts?: number;
  /** Sockets per client; size it to the request concurrency. Default: 64. */
  readonly maxSockets?: number;
}

const DEFAULT_MAX_ATTEMPTS = 8;
/** Actions per TransactWriteItems: the batch size (a transaction takes up to 100). */
export const RECORDS_PER_REQUEST = 25;

export function createDynamoClient(options: DynamoOptions = {}, env: NodeJS.ProcessEnv = process.env): DynamoDBClient {
  return new DynamoDBClient(dynamoClientConfig(options, env));
}

function maxAttemptsOf(options: DynamoOptions, env: NodeJS.ProcessEnv): number {
  const value = env.NIGHTSHIFT_DYNAMODB_MAX_ATTEMPTS;
  if (options.maxAttempts !== undefined || value === undefined || value === '') return options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`NIGHTSHIFT_DYNAMODB_MAX_ATTEMPTS must be a whole number >= 1, received ${JSON.stringify(value)}: unset it for the default of ${DEFAULT_MAX_ATTEMPTS}`);
  return n;
}

export function dynamoClientConfig(options: DynamoOptions = {}, env: NodeJS.ProcessEnv = process.env): DynamoDBClientConfig {
  const endpoint = options.endpoint ?? env.AWS_ENDPOINT_URL_DYNAMODB;
  const config: DynamoDBClientConfig = {
    region: options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    retryStrategy: new NoQuotaAdaptiveRetryStrategy(maxAttemptsOf(options, env)),
    requestHandler: { httpsAgent: { maxSockets: options.maxSockets ?? 64 }, httpAgent: { maxSockets: options.maxSockets ?? 64 } },
  };
  return endpoint ? { ...config, ...endpointSettings(endpoint, env) } : config;
}

/** True when DynamoDB answered that the table (or index) does not exist. */
export function isNotFound(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === 'ResourceNotFoundException';
}

/** What the store needs of a record: its key and the source version it describes. */
export interface StoredRecord {
  readonly key: string;
  readonly etag: string;
  /** The source's Last-Modified, UTC to the second (core/records/table.ts, recordTime). */
  readonly lastModified: string;
}

export interface PutRecordsResult {
  /** Keys whose record was written. */
  readonly written: string[];
  /** Keys left as they were: the table holds a record of a newer source version. */
  readonly superseded: string[];
}

export interface FolderPage<R> {
  readonly items: R[];
  /** Where the next page starts; null after the last one. */
  readonly cursor: string | null;
}

/**
 * A put wins unless the table holds a record of a newer source version: none there, an older
 * Last-Modified, or the same version (same time and ETag: a redrive, or renditions added). A
 * record of the same time with another ETag stays: which came first is unknowable from S3's
 * one-second times, and a new ETag normally comes with a later time.
 */
const NEWER_OR_SAME_VERSION = 'attribute_not_exists(#key) OR #lastModified < :lm OR (#lastModified = :lm AND #etag = :etag)';

/** Cancellation reasons that a later attempt may not meet (DynamoDB API reference, TransactWriteItems). */
const RETRYABLE_REASONS = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded', 'TransactionConflict']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ImageRecordStore<R extends StoredRecord = StoredRecord> {
  private readonly doc: DynamoDBDocumentClient;
  private readonly retry: NoQuotaAdaptiveRetryStrategy;
  private sent = 0;

  constructor(
    client: DynamoDBClient,
    readonly table: string = process.env[IMAGES_TABLE_ENV] || IMAGES_TABLE_NAME,
    /** Sends of one transaction while DynamoDB throttles it (on top of the SDK's own retries of each send). */
    maxAttempts = maxAttemptsOf({}, process.env),
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.retry = new NoQuotaAdaptiveRetryStrategy(maxAttempts);
  }

  /** HTTP requests this store sent so far, retries included. */
  requests(): number {
    return this.sent;
  }

  /** The command, counting each of its attempts as it is sent (the step runs inside the SDK's retries). */
  private counted<C extends { middlewareStack: unknown }>(command: C): C {
    const stack = command.middlewareStack as { add(middleware: DeserializeMiddleware<object, object>, options: DeserializeHandlerOptions & { name: string; override: boolean }): void };
    // Named, since lib-dynamodb adds a command's stack to the request twice (its own and the inner command's).
    stack.add((next) => (args) => ((this.sent += 1), next(args)), { step: 'deserialize', name: 'nightshiftRequestCount', override: true });
    return command;
  }

  /** Writes records 25 to a request, each unless a newer one is there; says which were superseded. */
  async putRecords(records: readonly R[]): Promise<PutRecordsResult> {
    const items = records.map((r) => ({ ...r, lastModified: recordTime(r.lastModified), [FOLDER_ATTR]: folderAttribute(folderOf(r.key)) }));
    const keys = new Set<string>();
    for (const { key } of items) {
      if (keys.has(key)) throw new Error(`putRecords: two records for ${JSON.stringify(key)} in one call; pass each key once`);
      keys.add(key);
    }
    const result: PutRecordsResult = { written: [], superseded: [] };
    for (let i = 0; i < items.length; i += RECORDS_PER_REQUEST) await this.putChunk(items.slice(i, i + RECORDS_PER_REQUEST), result);
    return result;
  }

  /** One transaction, sent again without the superseded records and after throttling, until done. */
  private async putChunk(chunk: (R & { folder: string })[], result: PutRecordsResult): Promise<void> {
    let pending = chunk;
    let token = await this.retry.acquireInitialRetryToken();
    while (pending.length > 0) {
      const reasons = await this.transact(pending);
      if (!reasons) {
        result.written.push(...pending.map((r) => r.key));
        return;
      }
      const codes = reasons.map((r) => r.Code ?? 'None');
      const unexpected = codes.find((c) => c !== 'None' && c !== 'ConditionalCheckFailed' && !RETRYABLE_REASONS.has(c));
      if (unexpected) throw new Error(`TransactWriteItems to ${this.table} cancelled: ${unexpected} (${reasons.find((r) => r.Code === unexpected)?.Message ?? 'no message'})`);
      result.superseded.push(...pending.filter((_, i) => codes[i] === 'ConditionalCheckFailed').map((r) => r.key));
      const throttled = codes.some((c) => RETRYABLE_REASONS.has(c));
      if (!throttled && !codes.includes('ConditionalCheckFailed')) throw new Error(`TransactWriteItems to ${this.table} cancelled without a reason: ${codes.join(', ')}`);
      pending = pending.filter((_, i) => codes[i] !== 'ConditionalCheckFailed');
      if (throttled && pending.length > 0) {
        token = await this.retry.refreshRetryTokenForRetry(token, { errorType: 'THROTTLING' }).catch(() => {
          throw new Error(`TransactWriteItems to ${this.table} still throttled after ${token.getRetryCount() + 1} attempts (${codes.filter((c) => RETRYABLE_REASONS.has(c))[0]}): ${pending.length} records not written`);
        });
        await sleep(token.getRetryDelay());
      }
    }
  }

  /** Sends one transaction of conditioned puts: undefined when it went through, else its cancellation reasons. */
  private async transact(records: readonly R[]): Promise<{ Code?: string; Message?: string }[] | undefined> {
    try {
      const puts = records.map((r) => ({
        Put: {
          TableName: this.table,
          Item: r,
          ConditionExpression: NEWER_OR_SAME_VERSION,
          ExpressionAttributeNames: { '#key': TABLE_KEY, '#lastModified': 'lastModified', '#etag': 'etag' },
          ExpressionAttributeValues: { ':lm': r.lastModified, ':etag': r.etag },
        },
      }));
      await this.doc.send(this.counted(new TransactWriteCommand({ TransactItems: puts })));
      return undefined;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException) || error.CancellationReasons?.length !== records.length) throw error;
      return error.CancellationReasons;
    }
  }

  /** The record of `key` (as core/records/store.ts RecordStore names it, for the API). */
  get(key: string): Promise<R | undefined> {
    return this.getRecord(key);
  }

  async getRecord(key: string): Promise<R | undefined> {
    const out = await this.doc.send(this.counted(new GetCommand({ TableName: this.table, Key: { [TABLE_KEY]: key } })));
    return out.Item ? withoutFolder<R>(out.Item) : undefined;
  }

  /**
   * The records directly in `folder`, in key order (UTF-8 byte order: DynamoDB developer guide,
   * "Key condition expressions for the Query operation"), `limit` at most, from `cursor` on. A
   * Query stops at 1 MB as well as at its Limit (DynamoDB API reference, Query): short pages are
   * followed on until `limit` records or the end, so every record appears once across pages.
   * `folder` is '' for the top level (stored as TOP_FOLDER: core/records/table.ts). Throws
   * InvalidCursorError for a cursor this listing did not give.
   */
  async listFolder(folder: string, limit: number, cursor?: string | null): Promise<FolderPage<R>> {
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`limit must be a whole number >= 1, received ${JSON.stringify(limit)}`);
    const items: R[] = [];
    const stored = folderAttribute(folder);
    let start = cursor ? decodeCursor(cursor, folder) : undefined;
    do {
      const query = new QueryCommand({
        TableName: this.table,
        IndexName: FOLDER_INDEX,
        KeyConditionExpression: '#folder = :folder',
        ExpressionAttributeNames: { '#folder': FOLDER_ATTR },
        ExpressionAttributeValues: { ':folder': stored },
        Limit: limit - items.length,
        ExclusiveStartKey: start,
      });
      const out = await this.doc.send(this.counted(query));
      items.push(...(out.Items ?? []).map((i) => withoutFolder<R>(i)));
      start = out.LastEvaluatedKey;
    } while (start && items.length < limit);
    return { items, cursor: start ? encodeCursor(start) : null };
  }

  /**
   * Puts `record` over exactly the stored record of `etag` (compare and swap): for a writer that saw
   * its version is the current object while the table holds another of the same second, which
   * putRecords leaves. False when the stored record is another by now.
   */
  async replaceRecord(record: R, etag: string): Promise<boolean> {
    const item = { ...record, lastModified: recordTime(record.lastModified), [FOLDER_ATTR]: folderAttribute(folderOf(record.key)) };
    try {
      await this.doc.send(this.counted(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: '#etag = :etag', ExpressionAttributeNames: { '#etag': 'etag' }, ExpressionAttributeValues: { ':etag': etag } })));
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** Deletes the record of `key` if it is still of `etag`: true when deleted, false when absent or of another version. */
  async deleteRecord(key: string, etag: string): Promise<boolean> {
    try {
      const del = new DeleteCommand({ TableName: this.table, Key: { [TABLE_KEY]: key }, ConditionExpression: '#etag = :etag', ExpressionAttributeNames: { '#etag': 'etag' }, ExpressionAttributeValues: { ':etag': etag } });
      await this.doc.send(this.counted(del));
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }
}

/** The stored item without the index attribute the store adds. */
function withoutFolder<R>(item: Record<string, unknown>): R {
  const { [FOLDER_ATTR]: _folder, ...record } = item;
  return record as R;
}

function encodeCursor(lastEvaluatedKey: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(lastEvaluatedKey)).toString('base64url');
}

/** The start key of a cursor of `folder`'s listing; InvalidCursorError (the API's 400) for anything else. */
function decodeCursor(cursor: string, folder: string): Record<string, unknown> {
  let key: Record<string, unknown> | undefined;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    key = undefined;
  }
  if (!key || key[FOLDER_ATTR] !== folderAttribute(folder) || typeof key[TABLE_KEY] !== 'string' || Object.keys(key).length !== 2) {
    throw new InvalidCursorError(`cursor ${JSON.stringify(cursor.slice(0, 80))} is not one this listing of ${JSON.stringify(folder)} gave: start again without a cursor`);
  }
  return key;
}

// ---- Reading records in batches (the resize job's previous records, for its change lines) ----

/** Keys per BatchGetItem: its limit (DynamoDB API reference, BatchGetItem). */
export const KEYS_PER_BATCH_GET = 100;

/**
 * The stored records of `keys` (absent ones are not in the map), 100 keys a BatchGetItem, strongly
 * consistent. Keys DynamoDB leaves in UnprocessedKeys are asked again with the client's backoff
 * ("If DynamoDB returns any unprocessed items, you should retry the batch operation on those
 * items ... we strongly recommend that you use an exponential backoff algorithm": DynamoDB API
 * reference, BatchGetItem). Reads: not in the store's count of (write) requests.
 */
export async function getRecords<R>(client: DynamoDBClient, table: string, keys: readonly string[], maxAttempts = DEFAULT_MAX_ATTEMPTS): Promise<Map<string, R>> {
  const doc = DynamoDBDocumentClient.from(client);
  const found = new Map<string, R>();
  for (let i = 0; i < keys.length; i += KEYS_PER_BATCH_GET) {
    const retry = new NoQuotaAdaptiveRetryStrategy(maxAttempts);
    let token = await retry.acquireInitialRetryToken();
    let pending: Record<string, unknown>[] = [...new Set(keys.slice(i, i + KEYS_PER_BATCH_GET))].map((key) => ({ [TABLE_KEY]: key }));
    while (pending.length > 0) {
      const out = await doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }));
      for (const item of out.Responses?.[table] ?? []) found.set(item[TABLE_KEY] as string, withoutFolder<R>(item));
      pending = out.UnprocessedKeys?.[table]?.Keys ?? [];
      if (pending.length === 0) break;
      token = await retry.refreshRetryTokenForRetry(token, { errorType: 'THROTTLING' }).catch(() => {
        throw new Error(`BatchGetItem from ${table}: ${pending.length} keys still unprocessed after ${token.getRetryCount() + 1} attempts`);
      });
      await sleep(token.getRetryDelay());
    }
  }
  return found;
}
