/**
 * The image API's handler, with events shaped as API Gateway sends them (HTTP API, payload format
 * 2.0) over an in-memory RecordStore, and over HTTP through eventForRequest as `local serve` does.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compareKeys } from '../core/keys';
import { renderedRecord, failedRecord, imageRecordSchema, type ImageRecord, type Tombstone } from '../core/records/record';
import { MemoryRecordStore } from '../core/records/store';
import { eventForRequest, handleImagesRequest, IMAGE_ROUTE, LIST_ROUTE, type HttpApiEvent } from '../functions/images-api';

/**
 * The payload format 2.0 example of the API Gateway developer guide ("Create AWS Lambda proxy
 * integrations for HTTP APIs in API Gateway", Payload format structure), with an IAM authorizer
 * (the API's default auth) and no body (GET); each test sets the route, path and parameters.
 */
const DOC_EVENT = {
  version: '2.0',
  routeKey: '$default',
  rawPath: '/my/path',
  rawQueryString: 'parameter1=value1&parameter1=value2&parameter2=value',
  cookies: ['cookie1', 'cookie2'],
  headers: { header1: 'value1', header2: 'value1,value2' },
  queryStringParameters: { parameter1: 'value1,value2', parameter2: 'value' },
  requestContext: {
    accountId: '123456789012',
    apiId: 'api-id',
    authorizer: { iam: { accessKey: 'AKIA...', accountId: '111122223333', callerId: 'AIDA...', userArn: 'arn:aws:iam::111122223333:user/example-user', userId: 'AIDA...' } },
    domainName: 'id.execute-api.us-east-1.amazonaws.com',
    domainPrefix: 'id',
    http: { method: 'POST', path: '/my/path', protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'agent' },
    requestId: 'id',
    routeKey: '$default',
    stage: '$default',
    time: '12/Mar/2020:19:03:58 +0000',
    timeEpoch: 1583348638390,
  },
  pathParameters: { parameter1: 'value1' },
  isBase64Encoded: false,
  stageVariables: { stageVariable1: 'value1', stageVariable2: 'value2' },
};

/**
 * `GET /images/{key+}` for `key` as API Gateway delivers it: the client sends the key encoded per
 * segment; pathParameters.key arrives decoded ("API Gateway decodes URL-encoded request parameters
 * before passing them to your backend integration", developer guide, "Create routes for HTTP
 * APIs"), and so, on HTTP APIs, does rawPath.
 */
function getEvent(key: string, method = 'GET'): HttpApiEvent {
  const { queryStringParameters: _q, ...rest } = DOC_EVENT;
  return {
    ...rest,
    routeKey: IMAGE_ROUTE,
    rawPath: `/images/${key}`,
    rawQueryString: '',
    pathParameters: { key },
    requestContext: { ...DOC_EVENT.requestContext, routeKey: IMAGE_ROUTE, http: { ...DOC_EVENT.requestContext.http, method, path: `/images/${key}` } },
  };
}

/** `GET /images?…` with the query as API Gateway delivers it: rawQueryString encoded, the parameters decoded. */
function listEvent(query: Record<string, string>): HttpApiEvent {
  const { pathParameters: _p, queryStringParameters: _q, ...rest } = DOC_EVENT;
  const rawQueryString = Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return {
    ...rest,
    routeKey: LIST_ROUTE,
    rawPath: '/images',
    rawQueryString,
    ...(rawQueryString ? { queryStringParameters: query } : {}),
    requestContext: { ...DOC_EVENT.requestContext, routeKey: LIST_ROUTE, http: { ...DOC_EVENT.requestContext.http, method: 'GET', path: '/images' } },
  };
}

const context = { runId: 'r1', updatedAt: '2026-12-02T02:10:44Z' };
const source = { width: 640, height: 480, format: 'jpeg', hasAlpha: false, animated: false, pages: 1, space: 'srgb' };

function record(key: string): ImageRecord {
  const rendition = { preset: 'thumb', format: 'webp' as const, key: `thumb/${key}.webp`, width: 320, height: 240, bytes: 1000, etag: '"r"' };
  return renderedRecord({ key, etag: '"e"', size: 12345, lastModified: '2026-12-01T21:14:03Z' }, source, { thumbhash: '1QcSHQRnh493V4dIh4eXh1h4kJUI', color: '#8a7f6e' }, [rendition], context);
}

/** Keys an application will meet, each beside the key a wrong decoding would turn it into. */
const HOSTILE_KEYS = [
  'photos/a b.jpg',
  'photos/a+b.jpg', // decoding "+" as a space gives the one above
  'photos/100%.jpg',
  'photos/%41.jpg', // decoding twice gives photos/A.jpg
  'photos/A.jpg',
  'photos/%2525.jpg',
  'photos/%25.jpg',
  'photos/été/naïve 😀.heic',
  'photos/"double" & \'single\'.jpg',
  'photos/q?x=1#frag.jpg',
];

const body = (r: { body: string }) => JSON.parse(r.body) as Record<string, unknown>;

describe('GET /images/{key+}', () => {
  const store = new MemoryRecordStore(HOSTILE_KEYS.map(record));

  it.each(HOSTILE_KEYS)('answers the record of %j, the key decoded once (by API Gateway, not again)', async (key) => {
    const response = await handleImagesRequest(getEvent(key), store);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    const answered = body(response);
    expect(answered.key).toBe(key);
    expect(imageRecordSchema.safeParse(answered).success).toBe(true);
  });

  it('answers 404 with a JSON error for an unknown key, and for a removed original\'s tombstone', async () => {
    const tombstone: Tombstone = { key: 'photos/gone.jpg', status: 'removed', etag: '"e"', runId: 'r2', updatedAt: '2026-12-03T02:00:00Z' };
    const withTombstone = new MemoryRecordStore([record('photos/kept.jpg'), tombstone]);
    for (const key of ['photos/nope.jpg', 'photos/gone.jpg']) {
      const response = await handleImagesRequest(getEvent(key), withTombstone);
      expect(response.statusCode).toBe(404);
      expect(body(response)).toEqual({ error: { code: 'not-found', message: `no image record for key ${JSON.stringify(key)}` } });
    }
  });

  it('answers failed records too (an application learns why there is no rendition)', async () => {
    const failed = failedRecord({ key: 'photos/bad.jpg', etag: '"e"', size: 10, lastModified: '2026-12-01T21:14:03Z' }, { code: 'decode-failed', message: 'the image is truncated' }, context);
    const response = await handleImagesRequest(getEvent('photos/bad.jpg'), new MemoryRecordStore([failed]));
    expect(response.statusCode).toBe(200);
    expect(body(response)).toMatchObject({ status: 'failed', reason: { code: 'decode-failed' } });
  });

  it('answers 405 to another method on the route and 404 off the routes', async () => {
    const put = await handleImagesRequest(getEvent('photos/a b.jpg', 'PUT'), store);
    expect(put.statusCode).toBe(405);
    expect(put.headers.allow).toBe('GET');
    expect(body(put)).toMatchObject({ error: { code: 'method-not-allowed' } });
    const elsewhere = await handleImagesRequest({ ...getEvent('x'), routeKey: '$default', rawPath: '/other' }, store);
    expect(elsewhere.statusCode).toBe(404);
    expect(body(elsewhere)).toMatchObject({ error: { code: 'not-found' } });
  });
});

describe('GET /images?prefix=&limit=&cursor=', () => {
  // A folder with keys whose UTF-16 order differs from UTF-8 byte order (U+FF5E vs an emoji's
  // surrogates), records in a subfolder and beside the folder, which must not be listed.
  const folder = 'photos/2026/';
  const inFolder = ['a.jpg', 'B.jpg', 'a b.jpg', 'a+b.jpg', '～.jpg', '😀.jpg', 'é.jpg', '%41.jpg', 'z.jpg', '"q".jpg', 'a'.repeat(300) + '.jpg'].map((n) => folder + n);
  const tombstone: Tombstone = { key: `${folder}gone.jpg`, status: 'removed', etag: '"e"', runId: 'r2', updatedAt: '2026-12-03T02:00:00Z' };
  const elsewhere = ['photos/2026/sub/c.jpg', 'photos/2026.jpg', 'photos/2025/a.jpg', 'top.jpg'];
  const store = new MemoryRecordStore([...[...inFolder, ...elsewhere].map(record), tombstone]);
  const expected = [...inFolder].sort(compareKeys);

  async function listAll(limit: number): Promise<{ keys: string[]; pages: number }> {
    const keys: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await handleImagesRequest(listEvent({ prefix: folder, limit: String(limit), ...(cursor ? { cursor } : {}) }), store);
      expect(response.statusCode).toBe(200);
      const page = body(response) as { items: ImageRecord[]; cursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(limit);
      for (const item of page.items) expect(imageRecordSchema.safeParse(item).success).toBe(true);
      keys.push(...page.items.map((r) => r.key));
      cursor = page.cursor;
      pages++;
    } while (cursor !== null && pages < 100);
    return { keys, pages };
  }

  it.each([1, 2, 3, 5, 11, 12, 1000])('lists every record of the folder once, in UTF-8 byte order, %i a page', async (limit) => {
    const { keys, pages } = await listAll(limit);
    expect(keys).toEqual(expected);
    expect(keys).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    // The tombstone takes a place in a page but is never answered.
    expect(pages).toBe(Math.max(1, Math.ceil((expected.length + 1) / limit)));
  });

  it('lists the top folder with no prefix, and a subfolder by its own prefix', async () => {
    const top = body(await handleImagesRequest(listEvent({}), store)) as { items: ImageRecord[]; cursor: null };
    expect(top.items.map((r) => r.key)).toEqual(['top.jpg']);
    expect(top.cursor).toBeNull();
    const sub = body(await handleImagesRequest(listEvent({ prefix: 'photos/2026/sub/' }), store)) as { items: ImageRecord[] };
    expect(sub.items.map((r) => r.key)).toEqual(['photos/2026/sub/c.jpg']);
  });

  const invalid: Array<[string, Record<string, string>, string, string]> = [
    ['limit 0', { limit: '0' }, 'limit', 'query parameter limit: received "0"; use a whole number from 1 to 1000 (default 100)'],
    ['limit 1001', { limit: '1001' }, 'limit', 'received "1001"'],
    ['limit abc', { limit: 'abc' }, 'limit', 'received "abc"'],
    ['limit 1.5', { limit: '1.5' }, 'limit', 'received "1.5"'],
    ['a repeated limit (payload 2.0 joins them with commas)', { limit: '5,10' }, 'limit', 'received "5,10"'],
    ['a prefix without its slash', { prefix: 'photos/2026' }, 'prefix', 'query parameter prefix: received "photos/2026"; a folder ends with "/": use prefix=photos%2F2026%2F'],
    ['a prefix longer than a key', { prefix: `${'x'.repeat(1024)}/` }, 'prefix', 'at most 1024 bytes'],
    ['a cursor it did not make', { prefix: folder, cursor: 'bm90IGEgY3Vyc29y' }, 'cursor', 'pass back the cursor of the previous page'],
    ['a misspelt parameter', { perfix: 'photos/' }, 'perfix', 'use only prefix, limit, cursor; did you mean "prefix"?'],
  ];
  it.each(invalid)('answers 400 naming the parameter, value and fix: %s', async (_name, query, parameter, message) => {
    const response = await handleImagesRequest(listEvent(query), store);
    expect(response.statusCode).toBe(400);
    const { error } = body(response) as { error: { code: string; message: string; parameter: string } };
    expect(error.code).toBe('invalid-parameter');
    expect(error.parameter).toBe(parameter);
    expect(error.message).toContain(message);
  });

  it('refuses a cursor of another prefix', async () => {
    const first = body(await handleImagesRequest(listEvent({ prefix: folder, limit: '1' }), store)) as { cursor: string };
    const response = await handleImagesRequest(listEvent({ prefix: 'photos/', cursor: first.cursor }), store);
    expect(response.statusCode).toBe(400);
  });
});

describe('over HTTP, the request decoded as API Gateway decodes it (eventForRequest)', () => {
  it('round-trips every hostile key and lists a folder of them', async () => {
    const store = new MemoryRecordStore(HOSTILE_KEYS.map(record));
    const server = createServer((req, res) => {
      void handleImagesRequest(eventForRequest(req.method!, req.url!), store).then((r) => res.writeHead(r.statusCode, r.headers).end(r.body));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const key of HOSTILE_KEYS) {
        // How an application builds the URL: the key encoded per path segment.
        const response = await fetch(`${base}/images/${key.split('/').map(encodeURIComponent).join('/')}`);
        expect(response.status).toBe(200);
        expect(((await response.json()) as ImageRecord).key).toBe(key);
      }
      const listed = (await (await fetch(`${base}/images?prefix=${encodeURIComponent('photos/')}&limit=1000`)).json()) as { items: ImageRecord[] };
      expect(listed.items.map((r) => r.key)).toEqual(HOSTILE_KEYS.filter((k) => !k.slice('photos/'.length).includes('/')).sort(compareKeys));
      expect((await fetch(`${base}/images/photos/nope.jpg`)).status).toBe(404);
    } finally {
      server.close();
    }
  });

  it('builds the event API Gateway would: route, decoded key and query, repeated parameters joined', () => {
    const event = eventForRequest('GET', '/images/a%2Bb/%2541%20x.jpg');
    expect(event.routeKey).toBe(IMAGE_ROUTE);
    expect(event.pathParameters).toEqual({ key: 'a+b/%41 x.jpg' });
    // A literal "+" in a path is a "+" (RFC 3986); only form-encoded query strings use it for a space.
    expect(eventForRequest('GET', '/images/a+b.jpg').pathParameters).toEqual({ key: 'a+b.jpg' });
    const list = eventForRequest('GET', '/images?prefix=a%2Bb%2F&limit=5&limit=6');
    expect(list.routeKey).toBe(LIST_ROUTE);
    expect(list.queryStringParameters).toEqual({ prefix: 'a+b/', limit: '5,6' });
    expect(eventForRequest('GET', '/elsewhere').routeKey).toBe('$default');
  });
});
