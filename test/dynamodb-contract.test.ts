/**
 * The DynamoDB contract: every DynamoDB behaviour the image records rest on, run against the
 * embedded server (dynalite behind a layer of ours, local/dynamodb-layer.ts). Each case cites the
 * DynamoDB API reference (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/) or the
 * developer guide. Where the embedded server lacks a behaviour, the server is made right, never
 * this test lenient.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient } from '../adapters/dynamodb';
import { FOLDER_INDEX, IMAGES_TABLE_NAME } from '../core/records/table';
import { dynamoDataDir, startEmbeddedDynamo, type EmbeddedDynamo } from '../local/dynamodb-server';

const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('DynamoDB contract (embedded server)', () => {
  let dir: string;
  let server: EmbeddedDynamo;
  let client: DynamoDBClient;
  let doc: DynamoDBDocumentClient;
  const table = IMAGES_TABLE_NAME;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nightshift-dynamodb-'));
    server = await startEmbeddedDynamo({ dataDir: dynamoDataDir(dir) });
    client = createDynamoClient({ endpoint: server.endpoint, maxAttempts: 1 });
    doc = DynamoDBDocumentClient.from(client);
  });
  afterAll(async () => {
    try {
      client?.destroy();
      await server?.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const get = async (key: string) => (await doc.send(new GetCommand({ TableName: table, Key: { key }, ConsistentRead: true }))).Item;

  it('listens on loopback, with the images table and its folder index (core/records/table.ts)', async () => {
    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    expect(Table?.KeySchema).toEqual([{ AttributeName: 'key', KeyType: 'HASH' }]);
    expect(Table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.KeySchema])).toEqual([
      [
        FOLDER_INDEX,
        [
          { AttributeName: 'folder', KeyType: 'HASH' },
          { AttributeName: 'key', KeyType: 'RANGE' },
        ],
      ],
    ]);
  });

  it('keeps the table and its items across a restart on the same data directory', async () => {
    await doc.send(new PutCommand({ TableName: table, Item: { key: 'persist/a', folder: 'persist/' } }));
    await server.stop();
    server = await startEmbeddedDynamo({ dataDir: dynamoDataDir(dir), port: server.port });
    expect(await get('persist/a')).toEqual({ key: 'persist/a', folder: 'persist/' });
  });

  // API reference, PutItem, ConditionExpression and Errors: "ConditionalCheckFailedException: A
  // condition specified in the operation failed to be evaluated."
  it('refuses a conditional PutItem whose condition fails with ConditionalCheckFailedException, and keeps the item', async () => {
    await doc.send(new PutCommand({ TableName: table, Item: { key: 'cond/a', etag: '1' } }));
    const put = new PutCommand({ TableName: table, Item: { key: 'cond/a', etag: '2' }, ConditionExpression: 'attribute_not_exists(#k)', ExpressionAttributeNames: { '#k': 'key' } });
    await expect(doc.send(put)).rejects.toMatchObject({ name: 'ConditionalCheckFailedException', $metadata: { httpStatusCode: 400 } });
    expect(await get('cond/a')).toEqual({ key: 'cond/a', etag: '1' });
  });

  describe('TransactWriteItems', () => {
    // API reference, TransactWriteItems: "The actions are completed atomically so that either all
    // of them succeed, or all of them fail."
    it('applies every action when every condition holds', async () => {
      await doc.send(new PutCommand({ TableName: table, Item: { key: 'tx-ok/del', n: 1 } }));
      await doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: table, Item: { key: 'tx-ok/new', n: 1 }, ConditionExpression: 'attribute_not_exists(#k)', ExpressionAttributeNames: { '#k': 'key' } } },
            { Delete: { TableName: table, Key: { key: 'tx-ok/del' }, ConditionExpression: 'n = :one', ExpressionAttributeValues: { ':one': 1 } } },
            { Update: { TableName: table, Key: { key: 'tx-ok/upd' }, UpdateExpression: 'SET n = :two', ExpressionAttributeValues: { ':two': 2 } } },
          ],
        }),
      );
      expect([await get('tx-ok/new'), await get('tx-ok/del'), await get('tx-ok/upd')]).toEqual([{ key: 'tx-ok/new', n: 1 }, undefined, { key: 'tx-ok/upd', n: 2 }]);
    });

    // API reference, TransactWriteItems, Errors, TransactionCanceledException: "Transaction
    // cancellation reasons are ordered in the order of requested items, if an item has no error it
    // will have None code and Null message" ("the message field is omitted entirely"); "Conditional
    // Check Failed: Code: ConditionalCheckFailed, Message: The conditional request failed."
    // CancellationReason: "Item in the request which caused the transaction to get cancelled"
    // (with ReturnValuesOnConditionCheckFailure ALL_OLD).
    it('applies none when a condition fails, answering TransactionCanceledException with a reason per action, in order', async () => {
      await doc.send(new PutCommand({ TableName: table, Item: { key: 'tx-no/taken', n: 1 } }));
      await doc.send(new PutCommand({ TableName: table, Item: { key: 'tx-no/del', n: 1 } }));
      await doc.send(new PutCommand({ TableName: table, Item: { key: 'tx-no/upd', n: 1 } }));
      const body = {
        TransactItems: [
          { Put: { TableName: table, Item: { key: { S: 'tx-no/new' } } } },
          { Delete: { TableName: table, Key: { key: { S: 'tx-no/del' } } } },
          { Put: { TableName: table, Item: { key: { S: 'tx-no/taken' }, n: { N: '2' } }, ConditionExpression: 'attribute_not_exists(#k)', ExpressionAttributeNames: { '#k': 'key' }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
          { Update: { TableName: table, Key: { key: { S: 'tx-no/upd' } }, UpdateExpression: 'SET n = :two', ExpressionAttributeValues: { ':two': { N: '2' } } } },
          { ConditionCheck: { TableName: table, Key: { key: { S: 'tx-no/absent' } }, ConditionExpression: 'attribute_exists(#k)', ExpressionAttributeNames: { '#k': 'key' } } },
        ],
      };
      const answer = await rawRequest(server.endpoint, 'TransactWriteItems', body);
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({
        __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
        CancellationReasons: [
          { Code: 'None' },
          { Code: 'None' },
          { Code: 'ConditionalCheckFailed', Item: { key: { S: 'tx-no/taken' }, n: { N: '1' } }, Message: 'The conditional request failed' },
          { Code: 'None' },
          { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
        ],
        Message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [None, None, ConditionalCheckFailed, None, ConditionalCheckFailed]',
      });
      // Nothing applied: the new item absent, the deleted and updated ones as they were.
      expect([await get('tx-no/new'), await get('tx-no/del'), await get('tx-no/taken'), await get('tx-no/upd'), await get('tx-no/absent')]).toEqual([
        undefined,
        { key: 'tx-no/del', n: 1 },
        { key: 'tx-no/taken', n: 1 },
        { key: 'tx-no/upd', n: 1 },
        undefined,
      ]);
      // The SDK reads the same answer into its error.
      await expect(doc.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: table, Item: { key: 'tx-no/taken' }, ConditionExpression: 'attribute_not_exists(#k)', ExpressionAttributeNames: { '#k': 'key' } } }] }))).rejects.toMatchObject({
        name: 'TransactionCanceledException',
        CancellationReasons: [{ Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' }],
      });
    });

    // TransactionCanceledException: DynamoDB cancels a transaction when "More than one action in
    // the TransactWriteItems operation targets the same item" (a ValidationException, before any write).
    it('refuses two actions on one item with ValidationException', async () => {
      const twice = new TransactWriteCommand({ TransactItems: [{ Put: { TableName: table, Item: { key: 'tx-dup/a', n: 1 } } }, { Put: { TableName: table, Item: { key: 'tx-dup/a', n: 2 } } }] });
      await expect(doc.send(twice)).rejects.toMatchObject({ name: 'ValidationException', message: 'Transaction request cannot include multiple operations on one item' });
      expect(await get('tx-dup/a')).toBeUndefined();
    });

    // Developer guide, "Isolation levels for DynamoDB transactions": serializable between a
    // transaction and other transactions and single-item writes. Of many transactions racing for
    // one item under a condition, exactly one wins, and the losers change nothing, not even an
    // item the winner wrote after a loser had (a loser's undo must not put back what it saw).
    it('lets exactly one of many concurrent transactions claim an item, the others changing nothing', async () => {
      const racers = Array.from({ length: 12 }, (_, i) =>
        doc.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: table, Item: { key: 'race/shared', folder: 'race/', by: i } } },
              { Put: { TableName: table, Item: { key: 'race/claim', folder: 'race/', by: i }, ConditionExpression: 'attribute_not_exists(#k)', ExpressionAttributeNames: { '#k': 'key' } } },
              { Put: { TableName: table, Item: { key: `race/also-${i}`, folder: 'race/' } } },
            ],
          }),
        ),
      );
      const settled = await Promise.allSettled(racers);
      const winners = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(settled.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason.name)).toEqual(Array(11).fill('TransactionCanceledException'));
      expect(await get('race/claim')).toEqual({ key: 'race/claim', folder: 'race/', by: winners[0] });
      expect(await get('race/shared')).toEqual({ key: 'race/shared', folder: 'race/', by: winners[0] });
      const listed = await queryAll('race/', 100);
      expect(listed.map((i) => i.key)).toEqual([`race/also-${winners[0]}`, 'race/claim', 'race/shared']);
    });
  });

  const queryAll = async (folder: string, limit: number) => {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    let pages = 0;
    do {
      const out = await doc.send(
        new QueryCommand({ TableName: table, IndexName: FOLDER_INDEX, KeyConditionExpression: 'folder = :f', ExpressionAttributeValues: { ':f': folder }, Limit: limit, ExclusiveStartKey: start }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
      pages++;
    } while (start);
    return Object.assign(items, { pages });
  };

  // Developer guide, "Key condition expressions for the Query operation": "Query results are always
  // sorted by the sort key value. [...] Otherwise, the results are returned in order of UTF-8
  // bytes." API reference, Query, LastEvaluatedKey: "The primary key of the item where the operation
  // stopped, inclusive of the previous result set. Use this value to start a new operation".
  it('queries a folder on the index in UTF-8 byte order, every item once across Limit pages', async () => {
    const names = ['B.jpg', 'a.jpg', 'caf\u00e9.jpg', 'cafe\u0301.jpg', '\u{1F600}.jpg', '\uFF21.jpg', 'a b.jpg', 'a+b.jpg', 'a%20b.jpg', 'say "hi".jpg', "it's.jpg", 'A.jpg'];
    for (const name of names) await doc.send(new PutCommand({ TableName: table, Item: { key: `order/${name}`, folder: 'order/' } }));
    await doc.send(new PutCommand({ TableName: table, Item: { key: 'order/sub/x.jpg', folder: 'order/sub/' } }));
    const expected = names.map((n) => `order/${n}`).sort(utf8Order);
    // UTF-16 order differs here (U+FF21 before U+1F600's surrogates), so the test tells them apart.
    expect(expected).not.toEqual([...expected].sort());
    for (const limit of [1, 5, 100]) {
      const items = await queryAll('order/', limit);
      expect(items.map((i) => i.key)).toEqual(expected);
      expect(items.pages).toBe(Math.floor(names.length / limit) + 1);
    }
  });

  // API reference, Query: "A single Query operation will read up to the maximum number of items
  // set (if using the Limit parameter) or a maximum of 1 MB of data [...] If LastEvaluatedKey is
  // present in the response, you will need to paginate the result set."
  it('stops a Query page at 1 MB, with a LastEvaluatedKey to go on from', async () => {
    const blob = 'x'.repeat(300 * 1024);
    for (let i = 0; i < 6; i++) await doc.send(new PutCommand({ TableName: table, Item: { key: `big/${i}`, folder: 'big/', blob } }));
    const first = await doc.send(new QueryCommand({ TableName: table, IndexName: FOLDER_INDEX, KeyConditionExpression: 'folder = :f', ExpressionAttributeValues: { ':f': 'big/' }, Limit: 100 }));
    expect(first.Items!.length).toBeLessThan(6);
    expect(first.LastEvaluatedKey).toEqual({ folder: 'big/', key: first.Items!.at(-1)!.key });
    const all = await queryAll('big/', 100);
    expect(all.map((i) => i.key)).toEqual(['big/0', 'big/1', 'big/2', 'big/3', 'big/4', 'big/5']);
  });

  // Developer guide, "Supported data types and naming rules": String and Binary attributes used as
  // key attributes of a table or index must have a length greater than zero. DynamoDB refuses the
  // whole request (a transaction too) with ValidationException; dynalite alone would accept the
  // item and list it under '' (architect/dynalite#184), so the layer refuses it.
  it('refuses an empty string as the folder index key, in a put of every kind and in a Query, with DynamoDB\'s ValidationException', async () => {
    const refusal = {
      status: 400,
      body: {
        __type: 'com.amazon.coral.validate#ValidationException',
        message: `One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: ${FOLDER_INDEX}, IndexKey: folder`,
      },
    };
    const item = { key: { S: 'empty/top.jpg' }, folder: { S: '' } };
    const ok = { key: { S: 'empty/ok.jpg' }, folder: { S: 'empty/' } };
    expect(await rawRequest(server.endpoint, 'PutItem', { TableName: table, Item: item })).toEqual(refusal);
    expect(await rawRequest(server.endpoint, 'BatchWriteItem', { RequestItems: { [table]: [{ PutRequest: { Item: ok } }, { PutRequest: { Item: item } }] } })).toEqual(refusal);
    expect(await rawRequest(server.endpoint, 'TransactWriteItems', { TransactItems: [{ Put: { TableName: table, Item: ok } }, { Put: { TableName: table, Item: item } }] })).toEqual(refusal);
    expect(await rawRequest(server.endpoint, 'Query', { TableName: table, IndexName: FOLDER_INDEX, KeyConditionExpression: '#f = :f', ExpressionAttributeNames: { '#f': 'folder' }, ExpressionAttributeValues: { ':f': { S: '' } } })).toEqual(refusal);
    // Nothing of the refused requests was written, the valid item of the batch and transaction neither.
    expect(await get('empty/top.jpg')).toBeUndefined();
    expect(await get('empty/ok.jpg')).toBeUndefined();
    // The table's own key is not an index's: an empty non-key attribute stays allowed.
    await doc.send(new PutCommand({ TableName: table, Item: { key: 'empty/attr.jpg', folder: 'empty/', note: '' } }));
    expect(await get('empty/attr.jpg')).toEqual({ key: 'empty/attr.jpg', folder: 'empty/', note: '' });
  });
});

/** A request as the wire carries it (JSON with DynamoDB's type descriptors), to see the answer's exact shape. */
async function rawRequest(endpoint: string, op: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${op}`,
      'x-amz-date': '20261204T000000Z',
      authorization: 'AWS4-HMAC-SHA256 Credential=test/20261204/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}
