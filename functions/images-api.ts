/**
 * The image API (issue 28) behind an API Gateway HTTP API, payload format 2.0:
 *
 * - `GET /images/{key+}`: the record, or 404 (a removed original's tombstone too);
 * - `GET /images?prefix=photos/2026/&limit=100&cursor=…`: the records directly in that folder, in
 *   key order, `{ items, cursor }` (cursor null on the last page);
 * - anything else: 404 (no such route) or 405 (another method on a route).
 *
 * The key comes from `pathParameters.key`, which API Gateway has already URL-decoded once ("API
 * Gateway decodes URL-encoded request parameters before passing them to your backend
 * integration", API Gateway developer guide, "Create routes for HTTP APIs"): it is used as is,
 * never decoded again, so a key with `%` in it survives. `rawPath` is no substitute: HTTP APIs
 * deliver it decoded as well, and cut at a decoded `?`. Query parameters arrive decoded too.
 *
 * The store is an interface (core/records/store.ts): DynamoDB in AWS and locally, memory in tests.
 */
import { didYouMean, showValue } from '../core/validation';
import { isTombstone } from '../core/records/record';
import { InvalidCursorError, type RecordStore } from '../core/records/store';

/** The fields of an HTTP API payload 2.0 event this handler reads (API Gateway sends more). */
export interface HttpApiEvent {
  readonly version: string;
  /** `GET /images/{key+}`, `GET /images`, or `$default`. */
  readonly routeKey: string;
  readonly rawPath: string;
  readonly rawQueryString: string;
  readonly pathParameters?: Readonly<Record<string, string | undefined>>;
  readonly queryStringParameters?: Readonly<Record<string, string | undefined>>;
  readonly requestContext: { readonly http: { readonly method: string; readonly path: string }; readonly [field: string]: unknown };
}

export interface HttpApiResult {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly isBase64Encoded: false;
}

export const LIST_LIMIT_DEFAULT = 100;
export const LIST_LIMIT_MAX = 1000;
const LIST_PARAMETERS = ['prefix', 'limit', 'cursor'] as const;
/** S3's key limit, in UTF-8 bytes: no longer prefix can name a folder. */
const PREFIX_MAX_BYTES = 1024;

export const IMAGE_ROUTE = 'GET /images/{key+}';
export const LIST_ROUTE = 'GET /images';

/** The handler with its store: `export const handler = imagesApi(dynamoStore)` where it is deployed. */
export function imagesApi(store: RecordStore): (event: HttpApiEvent) => Promise<HttpApiResult> {
  return (event) => handleImagesRequest(event, store);
}

export async function handleImagesRequest(event: HttpApiEvent, store: RecordStore): Promise<HttpApiResult> {
  const route = routeOf(event.routeKey);
  if (!route) return error(404, 'not-found', `no route for ${event.requestContext.http.method} ${event.rawPath}: use GET /images/{key} or GET /images?prefix=`);
  if (event.requestContext.http.method !== 'GET') {
    return { ...error(405, 'method-not-allowed', `${event.requestContext.http.method} is not allowed here: the image API is read-only, use GET`), headers: { ...JSON_HEADERS, allow: 'GET' } };
  }
  return route === 'image' ? getImage(event, store) : listImages(event, store);
}

/** The route by its path, whatever the method (an `ANY` route reaches the handler with any). */
function routeOf(routeKey: string): 'image' | 'list' | undefined {
  const path = routeKey.slice(routeKey.indexOf(' ') + 1);
  if (path === '/images/{key+}') return 'image';
  if (path === '/images') return 'list';
  return undefined;
}

async function getImage(event: HttpApiEvent, store: RecordStore): Promise<HttpApiResult> {
  const key = event.pathParameters?.key ?? '';
  const record = key ? await store.get(key) : undefined;
  if (!record || isTombstone(record)) return error(404, 'not-found', `no image record for key ${showValue(key)}`);
  return json(200, record);
}

async function listImages(event: HttpApiEvent, store: RecordStore): Promise<HttpApiResult> {
  const query = event.queryStringParameters ?? {};
  const unknown = Object.keys(query).find((name) => !(LIST_PARAMETERS as readonly string[]).includes(name));
  if (unknown !== undefined) return invalid(unknown, query[unknown], `use only ${LIST_PARAMETERS.join(', ')}${didYouMean(unknown, LIST_PARAMETERS)}`);
  const prefix = query.prefix ?? '';
  if (prefix !== '' && !prefix.endsWith('/')) return invalid('prefix', prefix, `a folder ends with "/": use prefix=${encodeURIComponent(`${prefix}/`)} (or leave it out for the top folder)`);
  if (Buffer.byteLength(prefix, 'utf8') > PREFIX_MAX_BYTES) return invalid('prefix', prefix, `a prefix is at most ${PREFIX_MAX_BYTES} bytes of UTF-8, as an S3 key is`);
  const limit = query.limit === undefined ? LIST_LIMIT_DEFAULT : parseLimit(query.limit);
  if (limit === undefined) return invalid('limit', query.limit, `use a whole number from 1 to ${LIST_LIMIT_MAX} (default ${LIST_LIMIT_DEFAULT})`);
  let page;
  try {
    page = await store.listFolder(prefix, limit, query.cursor === '' ? undefined : query.cursor);
  } catch (caught) {
    if (caught instanceof InvalidCursorError) return invalid('cursor', query.cursor, `pass back the cursor of the previous page of this prefix unchanged, or leave it out to start (${caught.message})`);
    throw caught;
  }
  return json(200, { items: page.items.filter((r) => !isTombstone(r)), cursor: page.cursor });
}

/**
 * The event API Gateway would send for a request, for serving this handler without API Gateway
 * (`nightshift local serve`, tests over HTTP). `url` is the path and query as on the wire. The
 * greedy path parameter and each query value are percent-decoded exactly once, a literal `+` kept
 * (RFC 3986: `+` is a space only in form encoding; applications encode a key's `+` as %2B);
 * repeated query parameters are joined with commas, as payload 2.0 does ("Create AWS Lambda proxy
 * integrations for HTTP APIs", payload format differences). rawPath is the decoded path, as HTTP
 * APIs deliver it. Throws URIError on a malformed escape (API Gateway answers those itself).
 */
export function eventForRequest(method: string, url: string): HttpApiEvent {
  const q = url.indexOf('?');
  const encodedPath = q < 0 ? url : url.slice(0, q);
  const rawQueryString = q < 0 ? '' : url.slice(q + 1);
  const path = decodeURIComponent(encodedPath);
  const keyPart = encodedPath.startsWith('/images/') ? encodedPath.slice('/images/'.length) : '';
  const routeKey = keyPart ? IMAGE_ROUTE : encodedPath === '/images' ? LIST_ROUTE : '$default';
  const query: Record<string, string> = {};
  for (const pair of rawQueryString ? rawQueryString.split('&') : []) {
    const eq = pair.indexOf('=');
    const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    query[name] = name in query ? `${query[name]},${value}` : value;
  }
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString,
    ...(keyPart ? { pathParameters: { key: decodeURIComponent(keyPart) } } : {}),
    ...(rawQueryString ? { queryStringParameters: query } : {}),
    requestContext: { http: { method, path } },
  };
}

function parseLimit(text: string): number | undefined {
  if (!/^[0-9]{1,4}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= LIST_LIMIT_MAX ? n : undefined;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

function json(statusCode: number, body: unknown): HttpApiResult {
  return { statusCode, headers: JSON_HEADERS, body: JSON.stringify(body), isBase64Encoded: false };
}

function error(statusCode: number, code: string, message: string, extra: Record<string, unknown> = {}): HttpApiResult {
  return json(statusCode, { error: { code, message, ...extra } });
}

/** 400 naming the parameter, the value received and the fix, in one sentence. */
function invalid(parameter: string, value: string | undefined, fix: string): HttpApiResult {
  return error(400, 'invalid-parameter', `query parameter ${parameter}: received ${showValue(value)}; ${fix}`, { parameter });
}
