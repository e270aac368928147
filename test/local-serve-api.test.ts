/**
 * `nightshift local serve` serves the image API (functions/images-api.ts, the handler the Lambda
 * function runs) over the embedded DynamoDB server's records, driven as a user drives it: the CLI
 * as a process, curl-like requests with the key URL-encoded once by the client. The Lambda entry
 * (functions/entry/images-api.ts) is run over the same table.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDynamoClient, ImageRecordStore } from '../adapters/dynamodb';
import { IMAGES_TABLE_ENV, IMAGES_TABLE_NAME } from '../core/records/table';
import { eventForRequest, type HttpApiEvent, type HttpApiResult } from '../functions/images-api';
import { startServe } from './support/cli';

interface ServeInfo {
  endpoint: string;
  api: string;
  dynamodb: string;
  buckets: Record<string, string>;
}

const record = (key: string) => ({
  key,
  etag: '"9b2cf535f27731c974343645a3985328"',
  size: 1234,
  lastModified: '2026-12-01T21:14:03Z',
  status: 'rendered',
  width: 40,
  height: 30,
  renditions: [],
  runId: 'local-test',
  updatedAt: '2026-12-02T02:10:44Z',
});

// Spaces, '+', '%', unicode (composed and not), quotes, an emoji beyond the BMP: each must come back as stored.
const ODD = ['a b.jpg', 'a+b.jpg', '100%.jpg', 'a%20b.jpg', 'caf\u00e9.jpg', 'cafe\u0301.jpg', 'say "hi".jpg', "it's.jpg", '\u{1F600}.jpg', '\uFF21.jpg'].map((n) => `odd/${n}`);
const KEYS = [...ODD, 'odd/sub/deeper.jpg', 'top.jpg', '/lead.jpg'];
const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
/** A key as a client puts it in a URL: each segment percent-encoded once. */
const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

let dir: string;
let serve: ChildProcess;
let info: ServeInfo;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nightshift-serve-api-'));
  ({ child: serve, info } = await startServe(join(dir, '.nightshift'), dir));
  const client = createDynamoClient({ endpoint: info.dynamodb, maxAttempts: 2 }, {});
  await new ImageRecordStore(client, IMAGES_TABLE_NAME).putRecords(KEYS.map(record));
  client.destroy();
}, 120_000);

afterAll(async () => {
  if (serve.exitCode === null) {
    serve.kill('SIGTERM');
    await once(serve, 'exit');
  }
  rmSync(dir, { recursive: true, force: true });
});

it('--json\'s first line names the API (ending in /api/) and the DynamoDB endpoint, beside S3\'s, each on loopback', () => {
  expect(info).toEqual({ endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), api: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/), dynamodb: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), buckets: expect.any(Object) });
  // The DynamoDB data is the data directory's, beside the S3 data.
  expect(existsSync(join(dir, '.nightshift', 'dynamodb'))).toBe(true);
});

// The key is URL-decoded exactly once (API Gateway developer guide, "Create routes for HTTP APIs":
// API Gateway decodes URL-encoded request parameters before passing them to the integration).
it.each(ODD)('GET {api}images/{key} answers the record of %j, its key encoded once by the client', async (key) => {
  const res = await fetch(`${info.api}images/${encodeKey(key)}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(await res.json()).toEqual(record(key));
});

it('answers 404 with a JSON error for an unknown key', async () => {
  const res = await fetch(`${info.api}images/${encodeKey('odd/nothing here.jpg')}`);
  expect(res.status).toBe(404);
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(await res.json()).toEqual({ error: { code: 'not-found', message: 'no image record for key "odd/nothing here.jpg"' } });
});

it('decodes once: "a b" encoded twice is the key "a%20b", not "a b"', async () => {
  const res = await fetch(`${info.api}images/${encodeURIComponent(encodeKey('odd/a b.jpg'))}`);
  expect(await res.json()).toEqual(record('odd/a%20b.jpg'));
});

it('lists a folder page by page with the cursor: every record directly in it once, in UTF-8 byte order', async () => {
  const listed: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `prefix=${encodeURIComponent('odd/')}&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await fetch(`${info.api}images?${query}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { items: { key: string }[]; cursor: string | null };
    expect(page.items.length).toBeLessThanOrEqual(3);
    listed.push(...page.items.map((i) => i.key));
    cursor = page.cursor;
    pages++;
  } while (cursor);
  const expected = [...ODD].sort(utf8Order);
  // UTF-16 order differs here (U+FF21 before the emoji's surrogates): the listing is S3's order.
  expect(expected).not.toEqual([...ODD].sort());
  expect(listed).toEqual(expected);
  expect(pages).toBe(Math.ceil(ODD.length / 3));
  // A subfolder by its own prefix; the top level without one, apart from the folder '/'.
  expect(((await (await fetch(`${info.api}images?prefix=odd/sub/`)).json()) as { items: { key: string }[] }).items.map((i) => i.key)).toEqual(['odd/sub/deeper.jpg']);
  expect(await (await fetch(`${info.api}images`)).json()).toEqual({ items: [record('top.jpg')], cursor: null });
  expect(((await (await fetch(`${info.api}images?prefix=%2F`)).json()) as { items: { key: string }[] }).items.map((i) => i.key)).toEqual(['/lead.jpg']);
});

it('serves the gallery page beside the API', async () => {
  const res = await fetch(info.api.replace(/api\/$/, 'gallery'));
  expect(res.status).toBe(200);
  expect(await res.text()).toContain(JSON.stringify(info.api).slice(1, -1));
});

it('the Lambda entry answers from the table NIGHTSHIFT_IMAGES_TABLE names, and refuses to start without it', async () => {
  const saved = { endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB, table: process.env[IMAGES_TABLE_ENV] };
  try {
    process.env.AWS_ENDPOINT_URL_DYNAMODB = info.dynamodb;
    delete process.env[IMAGES_TABLE_ENV];
    jest.isolateModules(() => expect(() => require('../functions/entry/images-api')).toThrow(`${IMAGES_TABLE_ENV} is not set`));
    process.env[IMAGES_TABLE_ENV] = IMAGES_TABLE_NAME;
    let handler!: (event: HttpApiEvent) => Promise<HttpApiResult>;
    jest.isolateModules(() => ({ handler } = require('../functions/entry/images-api') as { handler: typeof handler }));
    const got = await handler(eventForRequest('GET', `/images/${encodeKey('odd/a+b.jpg')}`));
    expect({ status: got.statusCode, body: JSON.parse(got.body) }).toEqual({ status: 200, body: record('odd/a+b.jpg') });
  } finally {
    for (const [name, value] of [['AWS_ENDPOINT_URL_DYNAMODB', saved.endpoint], [IMAGES_TABLE_ENV, saved.table]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});

it('stops its three servers on SIGTERM and lets the data go', async () => {
  serve.kill('SIGTERM');
  const [code] = (await once(serve, 'exit')) as [number | null];
  expect(code).toBe(0);
  expect(existsSync(join(dir, '.nightshift', 's3.lock'))).toBe(false);
  await expect(fetch(`${info.api}images`)).rejects.toThrow();
  await expect(fetch(info.dynamodb, { method: 'POST' })).rejects.toThrow();
});
