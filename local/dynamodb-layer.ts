/**
 * What the embedded DynamoDB server must do as DynamoDB does and dynalite 4 does not: a small
 * layer of our own in front of it (plain HTTP on loopback, no dynalite internals), as
 * local/s3-layer.ts is for S3. Pinned by test/dynamodb-contract.test.ts.
 *
 * TransactWriteItems (DynamoDB API reference, TransactWriteItems; dynalite has no such action):
 * up to 100 Put / Update / Delete / ConditionCheck actions on distinct items, all applied or none.
 * The layer applies each action to dynalite as the conditional single-item write it is, under an
 * exclusive lock; when a condition fails it restores every item it changed and answers as
 * DynamoDB does, HTTP 400:
 *
 *   {"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
 *    "CancellationReasons":[{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"},{"Code":"None"}],
 *    "Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]"}
 *
 * one reason per action in request order, "None" (with no Message) for an action without error,
 * and the item as it was under `Item` when the action asked ReturnValuesOnConditionCheckFailure
 * ALL_OLD. Every other request holds the lock shared, so no request, read or write, sees a
 * transaction half applied (DynamoDB developer guide, "Isolation levels for DynamoDB transactions":
 * serializable between a transaction and standard writes and GetItem).
 *
 * An empty string as a secondary index key value (local/dynamodb-index-keys.ts): refused with
 * DynamoDB's ValidationException, where dynalite would accept it.
 *
 * Everything else passes through untouched.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { emptyIndexKeyMessage, INDEX_KEY_OPERATIONS, type IndexSchema, tablesOf } from './dynamodb-index-keys';

const TARGET_PREFIX = 'DynamoDB_20120810.';
const MAX_ACTIONS = 100;

type Item = Record<string, unknown>;
type Json = Record<string, unknown>;

interface Reason {
  Code: string;
  Item?: Item;
  Message?: string;
}

/** An answer of dynalite's (or ours): status and parsed body. */
interface Answer {
  status: number;
  body: Json;
}

export interface DynamoLayer {
  readonly port: number;
  /** Requests received so far, by operation (PutItem, Query, TransactWriteItems…): a snapshot. */
  requests(): Record<string, number>;
  close(): Promise<void>;
}

/**
 * A first-come, first-served readers-writer lock: transactions hold it alone, every other request
 * shares it. A waiting transaction holds back later requests, so it is not starved.
 */
class Gate {
  private shared = 0;
  private exclusive = false;
  private readonly waiting: { alone: boolean; go: () => void }[] = [];

  acquire(alone: boolean): Promise<() => void> {
    return new Promise((resolve) => {
      this.waiting.push({ alone, go: () => resolve(this.releaser(alone)) });
      this.pump();
    });
  }

  private releaser(alone: boolean): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (alone) this.exclusive = false;
      else this.shared--;
      this.pump();
    };
  }

  private pump(): void {
    while (this.waiting.length > 0 && !this.exclusive) {
      const next = this.waiting[0]!;
      if (next.alone && this.shared > 0) return;
      this.waiting.shift();
      if (next.alone) this.exclusive = true;
      else this.shared++;
      next.go();
    }
  }
}

function send(res: ServerResponse, { status, body }: Answer): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
    'x-amz-crc32': String(crc32(text)),
    'x-amzn-requestid': `nightshift-${Date.now().toString(36)}`,
  });
  res.end(text);
}

const validation = (message: string): Answer => ({ status: 400, body: { __type: 'com.amazon.coral.validate#ValidationException', message } });

/** The one action of a TransactItems entry, by kind. */
function actionOf(entry: Json): { kind: 'Put' | 'Update' | 'Delete' | 'ConditionCheck'; spec: Json } | undefined {
  const kinds = (['Put', 'Update', 'Delete', 'ConditionCheck'] as const).filter((k) => entry[k] !== undefined);
  return kinds.length === 1 ? { kind: kinds[0]!, spec: entry[kinds[0]!] as Json } : undefined;
}

/** The conditional single-item write that carries out one action, given the item as it was. */
function writeFor(kind: string, spec: Json, before: Item | undefined): { op: string; body: Json } {
  const condition = { ConditionExpression: spec.ConditionExpression, ExpressionAttributeNames: spec.ExpressionAttributeNames, ExpressionAttributeValues: spec.ExpressionAttributeValues };
  const table = { TableName: spec.TableName };
  switch (kind) {
    case 'Put':
      return { op: 'PutItem', body: { ...table, Item: spec.Item, ...condition } };
    case 'Update':
      return { op: 'UpdateItem', body: { ...table, Key: spec.Key, UpdateExpression: spec.UpdateExpression, ...condition } };
    case 'Delete':
      return { op: 'DeleteItem', body: { ...table, Key: spec.Key, ...condition } };
    default:
      // ConditionCheck: rewrite the item as it is (or delete the absent one), under the condition.
      return before ? { op: 'PutItem', body: { ...table, Item: before, ...condition } } : { op: 'DeleteItem', body: { ...table, Key: spec.Key, ...condition } };
  }
}

const errorType = (answer: Answer) => String(answer.body.__type ?? '').split('#')[1] ?? '';

export async function startDynamoLayer(options: { upstreamPort: number; port?: number }): Promise<DynamoLayer> {
  const gate = new Gate();
  const counts: Record<string, number> = {};
  const keySchemas = new Map<string, string[]>();

  /** One request of the layer's own to dynalite (it wants a SigV4-shaped Authorization, not a valid one). */
  const call = (op: string, body: Json): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const text = JSON.stringify(body);
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: options.upstreamPort,
          method: 'POST',
          path: '/',
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            'content-length': Buffer.byteLength(text),
            'x-amz-target': TARGET_PREFIX + op,
            'x-amz-date': '20260101T000000Z',
            authorization: 'AWS4-HMAC-SHA256 Credential=nightshift/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 500, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Json }));
        },
      );
      req.on('error', reject);
      req.end(text);
    });

  /** The table's key attribute names (to find a Put's item key and to compare items). */
  const keyNames = async (table: string): Promise<string[] | Answer> => {
    const known = keySchemas.get(table);
    if (known) return known;
    const described = await call('DescribeTable', { TableName: table });
    if (described.status !== 200) return described;
    const names = ((described.body.Table as Json).KeySchema as { AttributeName: string }[]).map((k) => k.AttributeName);
    keySchemas.set(table, names);
    return names;
  };

  /** Each action's table, key and the item as it is now; or the error answer that ends the request. */
  const prepare = async (entries: Json[]) => {
    const prepared: { kind: string; spec: Json; key: Item; before: Item | undefined }[] = [];
    const seen = new Set<string>();
    for (const entry of entries) {
      const action = actionOf(entry);
      if (!action) return validation('TransactItems can only contain one of Check, Put, Update or Delete');
      const names = await keyNames(String(action.spec.TableName));
      if (!Array.isArray(names)) return names;
      const source = (action.kind === 'Put' ? action.spec.Item : action.spec.Key) as Item | undefined;
      const key = Object.fromEntries(names.map((n) => [n, source?.[n]]));
      const id = `${String(action.spec.TableName)}\0${JSON.stringify(names.map((n) => key[n]))}`;
      if (seen.has(id)) return validation('Transaction request cannot include multiple operations on one item');
      seen.add(id);
      const got = await call('GetItem', { TableName: action.spec.TableName, Key: key, ConsistentRead: true });
      if (got.status !== 200) return got;
      prepared.push({ ...action, key, before: got.body.Item as Item | undefined });
    }
    return prepared;
  };

  /** Puts back the items of the actions applied so far, newest first. */
  const restore = async (applied: { spec: Json; key: Item; before: Item | undefined }[]) => {
    for (const { spec, key, before } of applied.reverse()) {
      const undone = before ? await call('PutItem', { TableName: spec.TableName, Item: before }) : await call('DeleteItem', { TableName: spec.TableName, Key: key });
      if (undone.status !== 200) throw new Error(`could not roll back a transaction: ${JSON.stringify(undone.body)}`);
    }
  };

  const transact = async (request: Json): Promise<Answer> => {
    const entries = request.TransactItems;
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ACTIONS) {
      return validation(`1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to ${MAX_ACTIONS}`);
    }
    const prepared = await prepare(entries as Json[]);
    if (!Array.isArray(prepared)) return prepared;
    const applied: typeof prepared = [];
    const reasons: Reason[] = [];
    for (const action of prepared) {
      const write = writeFor(action.kind, action.spec, action.before);
      const answer = await call(write.op, write.body);
      if (answer.status === 200) {
        applied.push(action);
        reasons.push({ Code: 'None' });
      } else if (errorType(answer) === 'ConditionalCheckFailedException') {
        const old = action.spec.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && action.before ? { Item: action.before } : {};
        reasons.push({ Code: 'ConditionalCheckFailed', ...old, Message: 'The conditional request failed' });
      } else {
        // An invalid action (a bad expression, a missing table): the whole request fails with its error.
        await restore(applied);
        return answer;
      }
    }
    if (reasons.every((r) => r.Code === 'None')) return { status: 200, body: {} };
    await restore(applied);
    return {
      status: 400,
      body: {
        __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
        CancellationReasons: reasons,
        Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
      },
    };
  };

  const forward = (req: IncomingMessage, res: ServerResponse, release: () => void) => {
    res.on('close', release);
    const up = httpRequest({ host: '127.0.0.1', port: options.upstreamPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => (res.headersSent ? res.destroy() : send(res, { status: 500, body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'upstream unreachable' } })));
    req.pipe(up);
  };

  /** Each table's secondary indexes, as DescribeTable gives them; forgotten when a table changes. */
  const indexSchemas = new Map<string, IndexSchema[]>();
  const indexesOf = async (table: string): Promise<IndexSchema[]> => {
    const known = indexSchemas.get(table);
    if (known) return known;
    const described = await call('DescribeTable', { TableName: table });
    if (described.status !== 200) return []; // dynalite answers the request itself with its error
    const t = described.body.Table as { GlobalSecondaryIndexes?: Json[]; LocalSecondaryIndexes?: Json[] };
    const indexes = [...(t.GlobalSecondaryIndexes ?? []), ...(t.LocalSecondaryIndexes ?? [])].map((i) => ({
      name: String(i.IndexName),
      keys: (i.KeySchema as { AttributeName: string }[]).map((k) => k.AttributeName),
    }));
    indexSchemas.set(table, indexes);
    return indexes;
  };
  /** The ValidationException for an empty index key value in the request, if it has one. */
  const checkIndexKeys = async (op: string, request: Json): Promise<Answer | undefined> => {
    const schemas = new Map<string, IndexSchema[]>();
    for (const table of tablesOf(op, request)) schemas.set(table, await indexesOf(table));
    const refused = emptyIndexKeyMessage(op, request, (table) => schemas.get(table) ?? []);
    return refused === undefined ? undefined : validation(refused);
  };

  /** A request read whole (to check it) passed on as it came. */
  const forwardRead = (req: IncomingMessage, body: Buffer, res: ServerResponse, release: () => void) => {
    res.on('close', release);
    const up = httpRequest({ host: '127.0.0.1', port: options.upstreamPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => (res.headersSent ? res.destroy() : send(res, { status: 500, body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'upstream unreachable' } })));
    up.end(body);
  };

  const server = createServer((req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target || 'other';
    counts[op] = (counts[op] ?? 0) + 1;
    if (/^(Create|Delete|Update)Table$/.test(op)) indexSchemas.clear();
    if (op !== 'TransactWriteItems' && INDEX_KEY_OPERATIONS.has(op)) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const body = Buffer.concat(chunks);
          let refused: Answer | undefined;
          try {
            refused = await checkIndexKeys(op, JSON.parse(body.toString('utf8')) as Json);
          } catch {
            refused = undefined; // not JSON: dynalite answers it
          }
          if (refused) return send(res, refused);
          forwardRead(req, body, res, await gate.acquire(false));
        })();
      });
      return;
    }
    if (op !== 'TransactWriteItems') {
      req.pause();
      void gate.acquire(false).then((release) => forward(req, res, release));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let request: Json;
        try {
          request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
        } catch {
          return send(res, { status: 400, body: { __type: 'com.amazon.coral.service#SerializationException' } });
        }
        const refused = await checkIndexKeys(op, request).catch(() => undefined);
        if (refused) return send(res, refused);
        const release = await gate.acquire(true);
        try {
          send(res, await transact(request));
        } catch (error) {
          send(res, { status: 500, body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: (error as Error).message } });
        } finally {
          release();
        }
      })();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
