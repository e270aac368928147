/**
 * The records store (adapters/dynamodb.ts) lists the top level of the corpus, against the
 * embedded server, which refuses an empty index key as DynamoDB does (DynamoDB developer guide,
 * "Supported data types and naming rules"; test/dynamodb-contract.test.ts pins the refusal).
 * A top-level key's folder '' is stored as TOP_FOLDER; '/' would not do (the folder of '/a.jpg').
 */
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient, ImageRecordStore } from '../adapters/dynamodb';
import { InvalidCursorError } from '../core/records/store';
import { TOP_FOLDER } from '../core/records/table';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../local/dynamodb-server';

let server: EmbeddedDynamo;
let store: ImageRecordStore;
const client = () => createDynamoClient({ endpoint: server.endpoint, maxAttempts: 1 });
const record = (key: string) => ({ key, etag: '"e1"', lastModified: '2026-12-01T21:14:03Z' });

beforeAll(async () => {
  server = await startEmbeddedDynamo();
  store = new ImageRecordStore(client(), server.table);
});
afterAll(() => server.stop());

it('writes, reads and lists top-level keys, apart from the folder "/" and from subfolders', async () => {
  const top = ['b.jpg', 'a.jpg', 'c d.jpg'];
  const put = await store.putRecords([...top, '/lead.jpg', 'sub/x.jpg'].map(record));
  expect(put).toEqual({ written: expect.arrayContaining([...top, '/lead.jpg', 'sub/x.jpg']), superseded: [] });
  expect(await store.get('a.jpg')).toEqual(record('a.jpg'));
  // Stored under the stand-in, which the store strips from what it returns.
  const raw = await DynamoDBDocumentClient.from(client()).send(new GetCommand({ TableName: server.table, Key: { key: 'a.jpg' } }));
  expect(raw.Item).toMatchObject({ folder: TOP_FOLDER });
  const first = await store.listFolder('', 2);
  expect(first.items.map((r) => r.key)).toEqual(['a.jpg', 'b.jpg']);
  const rest = await store.listFolder('', 2, first.cursor);
  expect(rest).toEqual({ items: [record('c d.jpg')], cursor: null });
  expect((await store.listFolder('/', 10)).items.map((r) => r.key)).toEqual(['/lead.jpg']);
  // A cursor of the top level is no cursor of another folder.
  await expect(store.listFolder('sub/', 10, first.cursor)).rejects.toBeInstanceOf(InvalidCursorError);
});
