/**
 * The image records' store against the embedded DynamoDB server (local/dynamodb-server.ts), and a
 * proxy in front of it for the answers dynalite never gives (a throttled transaction).
 */
import { InvalidCursorError } from '../core/records/store';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../local/dynamodb-server';
import { startDynamoFaultProxy } from '../test/support/dynamodb-fault-proxy';
import { createDynamoClient, dynamoClientConfig, ImageRecordStore, type StoredRecord } from './dynamodb';

interface TestRecord extends StoredRecord {
  readonly renditions?: string[];
}

const record = (key: string, lastModified: string, etag: string, renditions?: string[]): TestRecord => ({ key, etag, lastModified, ...(renditions ? { renditions } : {}) });

describe('image records store', () => {
  let server: EmbeddedDynamo;
  beforeAll(async () => {
    server = await startEmbeddedDynamo();
  });
  afterAll(() => server.stop());

  const storeAt = (endpoint: string) => {
    const client = createDynamoClient({ endpoint, maxAttempts: 3 });
    return { store: new ImageRecordStore<TestRecord>(client, server.table), client };
  };

  it('takes the endpoint from AWS_ENDPOINT_URL_DYNAMODB, with local credentials on loopback only', async () => {
    const local = dynamoClientConfig({}, { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:4567' });
    expect(local.endpoint).toBe('http://127.0.0.1:4567');
    expect(local.credentials).toEqual({ accessKeyId: 'nightshift', secretAccessKey: 'nightshift' });
    expect(dynamoClientConfig({}, { AWS_ENDPOINT_URL_DYNAMODB: 'https://dynamodb.example.com' }).credentials).toBeUndefined();
    expect(() => dynamoClientConfig({}, { NIGHTSHIFT_DYNAMODB_MAX_ATTEMPTS: 'lots' })).toThrow('NIGHTSHIFT_DYNAMODB_MAX_ATTEMPTS must be a whole number >= 1, received "lots"');
  });

  // A redriven older run must never overwrite a newer record; the same source version may be
  // written again (renditions added). DynamoDB evaluates a Put's ConditionExpression against the
  // item as stored (API reference, TransactWriteItems / Put).
  it('never replaces a record of a newer source version, and rewrites one of the same version', async () => {
    const { store, client } = storeAt(server.endpoint);
    const newer = record('v/a.jpg', '2026-12-02T10:00:00Z', '"new"', ['thumb/v/a.webp']);
    expect(await store.putRecords([newer])).toEqual({ written: ['v/a.jpg'], superseded: [] });
    // An older run, redriven: its record (older Last-Modified) is dropped, the others in its batch written.
    const redrive = [record('v/0.jpg', '2026-12-01T00:00:00Z', '"x"'), record('v/a.jpg', '2026-12-01T21:14:03.000Z', '"old"'), record('v/b.jpg', '2026-12-01T00:00:00Z', '"y"')];
    expect(await store.putRecords(redrive)).toEqual({ written: ['v/0.jpg', 'v/b.jpg'], superseded: ['v/a.jpg'] });
    expect(await store.getRecord('v/a.jpg')).toEqual(newer);
    // The same version again, with a rendition added: written.
    const more = record('v/a.jpg', '2026-12-02T10:00:00Z', '"new"', ['thumb/v/a.webp', 'large/v/a.webp']);
    expect(await store.putRecords([more])).toEqual({ written: ['v/a.jpg'], superseded: [] });
    expect(await store.getRecord('v/a.jpg')).toEqual(more);
    // Same second, another ETag: which is newer is unknowable, so the stored one stays.
    expect(await store.putRecords([record('v/a.jpg', '2026-12-02T10:00:00Z', '"other"')])).toEqual({ written: [], superseded: ['v/a.jpg'] });
    // A later version replaces it.
    const later = record('v/a.jpg', '2026-12-03T00:00:00Z', '"later"');
    expect(await store.putRecords([later])).toEqual({ written: ['v/a.jpg'], superseded: [] });
    expect(await store.getRecord('v/a.jpg')).toEqual(later);
    client.destroy();
  });

  it('refuses a lastModified it could not compare, naming it', async () => {
    const { store, client } = storeAt(server.endpoint);
    await expect(store.putRecords([record('t/a.jpg', '2026-12-02T10:00:00.123Z', '"e"')])).rejects.toThrow('lastModified must be a UTC time to the second (e.g. 2026-12-01T21:14:03Z), received "2026-12-02T10:00:00.123Z"');
    client.destroy();
  });

  it('writes 60 records in 3 requests, 25 to a transaction', async () => {
    const { store, client } = storeAt(server.endpoint);
    const before = server.requests().TransactWriteItems ?? 0;
    const records = Array.from({ length: 60 }, (_, i) => record(`sixty/${String(i).padStart(2, '0')}.jpg`, '2026-12-01T00:00:00Z', `"${i}"`));
    const result = await store.putRecords(records);
    expect(result.written).toHaveLength(60);
    expect(store.requests()).toBe(3);
    expect((server.requests().TransactWriteItems ?? 0) - before).toBe(3);
    client.destroy();
  });

  // API reference, TransactWriteItems, Errors: "ProvisionedThroughputExceededException [...] The
  // Amazon Web Services SDKs for DynamoDB automatically retry requests that receive this
  // exception", HTTP 400; and among the cancellation reasons, "Throttling Error: Code:
  // ThrottlingError, Messages: Throughput exceeds the current capacity of your table or index.
  // DynamoDB is automatically scaling your table or index so please try again shortly." dynalite
  // never throttles, so the proxy answers the first two transactions so, as DynamoDB would.
  it('sends a throttled transaction again, with the records a newer one superseded left out, counting every attempt', async () => {
    const { store: seed, client: seedClient } = storeAt(server.endpoint);
    await seed.putRecords([record('thr/newer.jpg', '2026-12-05T00:00:00Z', '"n"')]);
    seedClient.destroy();
    let transactions = 0;
    const proxy = await startDynamoFaultProxy(server.endpoint, (op, body) => {
      if (op !== 'TransactWriteItems') return undefined;
      transactions++;
      if (transactions === 1) {
        return {
          status: 400,
          body: { __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.' },
        };
      }
      if (transactions > 2) return undefined;
      const reasons = (body.TransactItems as unknown[]).map((_, i) =>
        i === 1
          ? { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' }
          : { Code: 'ThrottlingError', Message: 'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html' },
      );
      return {
        status: 400,
        body: {
          __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
          CancellationReasons: reasons,
          Message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
        },
      };
    });
    const { store, client } = storeAt(proxy.endpoint);
    const records = [record('thr/a.jpg', '2026-12-01T00:00:00Z', '"a"'), record('thr/newer.jpg', '2026-12-01T00:00:00Z', '"old"'), record('thr/c.jpg', '2026-12-01T00:00:00Z', '"c"')];
    expect(await store.putRecords(records)).toEqual({ written: ['thr/a.jpg', 'thr/c.jpg'], superseded: ['thr/newer.jpg'] });
    // The SDK retried the first, the store sent the cancelled one again: three attempts, all counted.
    expect(proxy.seen.TransactWriteItems).toBe(3);
    expect(store.requests()).toBe(3);
    expect(await store.getRecord('thr/a.jpg')).toEqual(records[0]);
    expect((await store.getRecord('thr/newer.jpg'))?.etag).toBe('"n"');
    client.destroy();
    await proxy.close();
  });

  it('lists a folder in UTF-8 byte order, every record once across pages of any size, past 1 MB pages', async () => {
    const { store, client } = storeAt(server.endpoint);
    const names = ['B.jpg', 'a.jpg', 'caf\u00e9.jpg', '\u{1F600}.jpg', '\uFF21.jpg', 'a b.jpg', 'a+b.jpg', 'a%2Fb.jpg', 'say "hi".jpg', "it's.jpg"];
    // Records of ~300 KB, so that DynamoDB's 1 MB page cuts a listing short of its limit.
    const blob = 'x'.repeat(300 * 1024);
    const records = [...names.map((n) => ({ ...record(`list/${n}`, '2026-12-01T00:00:00Z', '"e"'), blob })), record('list/sub/deeper.jpg', '2026-12-01T00:00:00Z', '"e"'), record('list.jpg', '2026-12-01T00:00:00Z', '"e"')];
    await store.putRecords(records);
    const expected = names.map((n) => `list/${n}`).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const limit of [1, 3, 7, 100]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { items: TestRecord[]; cursor: string | null } = await store.listFolder('list/', limit, cursor);
        expect(page.items.length).toBeLessThanOrEqual(limit);
        if (page.cursor) expect(page.items).toHaveLength(limit); // a short page only at the end
        seen.push(...page.items.map((i) => i.key));
        cursor = page.cursor;
        pages++;
      } while (cursor && pages < 50);
      expect(seen).toEqual(expected);
    }
    const first = await store.listFolder('list/', 100);
    expect(first.cursor).toBeNull();
    expect(first.items[0]).not.toHaveProperty('folder');
    expect((await store.listFolder('', 10)).items.map((i) => i.key)).toEqual(['list.jpg']);
    client.destroy();
  });

  it('refuses a cursor it did not give, or one given for another folder', async () => {
    const { store, client } = storeAt(server.endpoint);
    await store.putRecords([record('cur/a.jpg', '2026-12-01T00:00:00Z', '"e"'), record('cur/b.jpg', '2026-12-01T00:00:00Z', '"e"')]);
    const { cursor } = await store.listFolder('cur/', 1);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    await expect(store.listFolder('other/', 1, cursor)).rejects.toThrow(InvalidCursorError);
    await expect(store.listFolder('cur/', 1, 'bm90LWpzb24')).rejects.toThrow('is not one this listing of "cur/" gave: start again without a cursor');
    client.destroy();
  });

  // API reference, DeleteItem, ConditionExpression: the delete happens only if the condition holds.
  it('deletes a record only while it is of the given ETag', async () => {
    const { store, client } = storeAt(server.endpoint);
    await store.putRecords([record('del/a.jpg', '2026-12-01T00:00:00Z', '"v2"')]);
    expect(await store.deleteRecord('del/a.jpg', '"v1"')).toBe(false);
    expect(await store.getRecord('del/a.jpg')).toBeDefined();
    expect(await store.deleteRecord('del/a.jpg', '"v2"')).toBe(true);
    expect(await store.getRecord('del/a.jpg')).toBeUndefined();
    expect(await store.deleteRecord('del/a.jpg', '"v2"')).toBe(false);
    client.destroy();
  });
});
