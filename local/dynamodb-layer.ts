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
import { INDEX_KEY_OPERATIONS, IndexKeys } from './dynamodb-index-keys';

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

/** One request of the layer's own to dynalite. */
type Call = (op: string, body: Json) => Promise<Answer>;

/** Requests to dynalite on `port` (it wants a SigV4-shaped Authorization, not a valid one). */
function upstreamCall(port: number): Call {
  return (op, body) =>
    new Promise((resolve, reject) => {
      const text = JSON.stringify(body);
      const headers = {
        'content-type': 'application/x-amz-json-1.0',
        'content-length': Buffer.byteLength(text),
        'x-amz-target': TARGET_PREFIX + op,
        'x-amz-date': '20260101T000000Z',
        authorization: 'AWS4-HMAC-SHA256 Credential=nightshift/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      };
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 500, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Json }));
      });
      req.on('error', reject);
      req.end(text);
    });
}

/** An action ready to apply: its kind and parameters, its item's key, and the item as it was. */
interface Prepared {
  kind: string;
  spec: Json;
  key: Item;
  before: Item | undefined;
}

/** TransactWriteItems carried out on dynalite; the caller holds the lock alone meanwhile. */
class Transactions {
  private readonly keySchemas = new Map<string, string[]>();

  constructor(private readonly call: Call) {}

  async run(request: Json): Promise<Answer> {
    const entries = request.TransactItems;
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ACTIONS) {
      return validation(`1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to ${MAX_ACTIONS}`);
    }
    const prepared = await this.prepare(entries as Json[]);
    if (!Array.isArray(prepared)) return prepared;
    const applied: Prepared[] = [];
    const reasons: Reason[] = [];
    for (const action of prepared) {
      const write = writeFor(action.kind, action.spec, action.before);
      const answer = await this.call(write.op, write.body);
      if (answer.status === 200) {
        applied.push(action);
        reasons.push({ Code: 'None' });
      } else if (errorType(answer) === 'ConditionalCheckFailedException') {
        const old = action.spec.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && action.before ? { Item: action.before } : {};
        reasons.push({ Code: 'ConditionalCheckFailed', ...old, Message: 'The conditional request failed' });
      } else {
        // An invalid action (a bad expression, a missing table): the whole request fails with its error.
        await this.restore(applied);
        return answer;
      }
    }
    if (reasons.every((r) => r.Code === 'None')) return { status: 200, body: {} };
    await this.restore(applied);
    const codes = reasons.map((r) => r.Code).join(', ');
    return {
      status: 400,
      body: {
        __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
        CancellationReasons: reasons,
        Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`,
      },
    };
  }

  /** The table's key attribute names (to find a Put's item key), or dynalite's error answer. */
  private async keyNames(table: string): Promise<string[] | Answer> {
    const known = this.keySchemas.get(table);
    if (known) return known;
    const described = await this.call('DescribeTable', { TableName: table });
    if (described.status !== 200) return described;
    const names = ((described.body.Table as Json).KeySchema as { AttributeName: string }[]).map((k) => k.AttributeName);
    this.keySchemas.set(table, names);
    return names;
  }

  /** Each action with its item's key and the item as it is now; or the error answer that ends the request. */
  private async prepare(entries: Json[]): Promise<Prepared[] | Answer> {
    const prepared: Prepared[] = [];
    const seen = new Set<string>();
    for (const entry of entries) {
      const action = actionOf(entry);
      if (!action) return validation('TransactItems can only contain one of Check, Put, Update or Delete');
      const names = await this.keyNames(String(action.spec.TableName));
      if (!Array.isArray(names)) return names;
      const source = (action.kind === 'Put' ? action.spec.Item : action.spec.Key) as Item | undefined;
      const key = Object.fromEntries(names.map((n) => [n, source?.[n]]));
      const id = `${String(action.spec.TableName)}\0${JSON.stringify(names.map((n) => key[n]))}`;
      if (seen.has(id)) return validation('Transaction request cannot include multiple operations on one item');
      seen.add(id);
      const got = await this.call('GetItem', { TableName: action.spec.TableName, Key: key, ConsistentRead: true });
      if (got.status !== 200) return got;
      prepared.push({ ...action, key, before: got.body.Item as Item | undefined });
    }
    return prepared;
  }

  /** Puts back the items of the actions applied so far, newest first. */
  private async restore(applied: Prepared[]): Promise<void> {
    for (const { spec, key, before } of [...applied].reverse()) {
      const undone = before ? await this.call('PutItem', { TableName: spec.TableName, Item: before }) : await this.call('DeleteItem', { TableName: spec.TableName, Key: key });
      if (undone.status !== 200) throw new Error(`could not roll back a transaction: ${JSON.stringify(undone.body)}`);
    }
  }
}

/** Passes a request through to dynalite, streamed (or its body, read already), releasing the shared lock once answered. */
function forward(upstreamPort: number, req: IncomingMessage, res: ServerResponse, release: () => void, body?: Buffer): void {
  res.on('close', release);
  const up = httpRequest({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  up.on('error', () => (res.headersSent ? res.destroy() : send(res, { status: 500, body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'upstream unreachable' } })));
  if (body) up.end(body);
  else req.pipe(up);
}

/** Reads a request whole, refuses it if it has an empty index key value, else passes it on under the shared lock. */
function checkedRequest(upstreamPort: number, indexKeys: IndexKeys, op: string, gate: Gate, req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      const body = Buffer.concat(chunks);
      let refused: string | undefined;
      try {
        refused = await indexKeys.refusal(op, JSON.parse(body.toString('utf8')) as Json);
      } catch {
        refused = undefined; // not JSON: dynalite answers it
      }
      if (refused !== undefined) return send(res, validation(refused));
      forward(upstreamPort, req, res, await gate.acquire(false), body);
    })();
  });
}

/** Reads a TransactWriteItems request and answers it, holding the lock alone while it runs. */
function transactRequest(transactions: Transactions, indexKeys: IndexKeys, gate: Gate, req: IncomingMessage, res: ServerResponse): void {
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
      // The whole transaction is refused, before any action (no cancellation reasons).
      const refused = await indexKeys.refusal('TransactWriteItems', request);
      if (refused !== undefined) return send(res, validation(refused));
      const release = await gate.acquire(true);
      try {
        send(res, await transactions.run(request));
      } catch (error) {
        send(res, { status: 500, body: { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: (error as Error).message } });
      } finally {
        release();
      }
    })();
  });
}

export async function startDynamoLayer(options: { upstreamPort: number; port?: number }): Promise<DynamoLayer> {
  const gate = new Gate();
  const call = upstreamCall(options.upstreamPort);
  const transactions = new Transactions(call);
  const indexKeys = new IndexKeys(async (table) => {
    const described = await call('DescribeTable', { TableName: table });
    return described.status === 200 ? (described.body.Table as Json) : undefined;
  });
  const counts: Record<string, number> = {};
  const server = createServer((req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target || 'other';
    counts[op] = (counts[op] ?? 0) + 1;
    if (/^(Create|Delete|Update)Table$/.test(op)) indexKeys.forget();
    if (op === 'TransactWriteItems') return transactRequest(transactions, indexKeys, gate, req, res);
    if (INDEX_KEY_OPERATIONS.has(op)) return checkedRequest(options.upstreamPort, indexKeys, op, gate, req, res);
    req.pause();
    void gate.acquire(false).then((release) => forward(options.upstreamPort, req, res, release));
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
