/**
 * Object tagging for the embedded S3 server, which fauxqs does not have: a small layer of our own
 * in front of it (plain HTTP on loopback, no fauxqs internals). It keeps each object's tag set
 * beside fauxqs's data and behaves as the S3 API reference documents:
 *
 * - PutObject and CreateMultipartUpload take `x-amz-tagging` (a URL-encoded query string); a
 *   completed multipart upload gets the tags its CreateMultipartUpload named. An overwrite
 *   replaces the tags (none given: none kept).
 * - CopyObject copies the source's tags unless `x-amz-tagging-directive: REPLACE`, which takes
 *   `x-amz-tagging` instead (CopyObject, "x-amz-tagging-directive": default COPY).
 * - GET/PUT/DELETE `?tagging` read, replace and remove an object's tag set; GetObject and
 *   HeadObject answer `x-amz-tagging-count` when there are tags.
 * - DeleteObject removes the tags with the object.
 *
 * Everything else passes through untouched, bodies streamed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, request as httpRequest, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type TagSet = [string, string][];

export interface TaggingLayer {
  readonly port: number;
  close(): Promise<void>;
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const xmlUnescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

export function parseTaggingHeader(value: string | undefined): TagSet {
  return value ? [...new URLSearchParams(value)] : [];
}

function tagSetXml(tags: TagSet): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>${tags.map(([k, v]) => `<Tag><Key>${xmlEscape(k)}</Key><Value>${xmlEscape(v)}</Value></Tag>`).join('')}</TagSet></Tagging>`;
}

function parseTagSetXml(xml: string): TagSet {
  return [...xml.matchAll(/<Tag>\s*<Key>([\s\S]*?)<\/Key>\s*<Value>([\s\S]*?)<\/Value>\s*<\/Tag>/g)].map((m) => [xmlUnescape(m[1]!), xmlUnescape(m[2]!)]);
}

/** `/bucket/key…` → bucket and decoded key (path-style addressing, as the project's clients use). */
function target(url: URL): { bucket: string; key: string } | undefined {
  const [, bucket, ...rest] = url.pathname.split('/');
  if (!bucket || rest.length === 0 || rest.join('/') === '') return undefined;
  return { bucket: decodeURIComponent(bucket), key: decodeURIComponent(rest.join('/')) };
}

/** `x-amz-copy-source`: `bucket/key` or `/bucket/key`, URL-encoded, maybe with `?versionId=`. */
function copySourceOf(header: string): string {
  const path = decodeURIComponent(header.replace(/^\//, '').replace(/\?versionId=.*$/, ''));
  const slash = path.indexOf('/');
  return `${path.slice(0, slash)}\0${path.slice(slash + 1)}`;
}

export async function startTaggingLayer(options: { upstreamPort: number; port?: number; file?: string }): Promise<TaggingLayer> {
  const tags = new Map<string, TagSet>(options.file && existsSync(options.file) ? (JSON.parse(readFileSync(options.file, 'utf8')) as [string, TagSet][]) : []);
  const pendingUploads = new Map<string, TagSet>();
  const save = () => {
    if (options.file) writeFileSync(options.file, JSON.stringify([...tags]));
  };
  const setTags = (id: string, set: TagSet) => {
    if (set.length > 0) tags.set(id, set);
    else tags.delete(id);
    save();
  };

  /** Forwards a request upstream and buffers the (small) answer. */
  const forward = (req: IncomingMessage) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; payload: Buffer }>((resolve, reject) => {
      const up = httpRequest({ host: '127.0.0.1', port: options.upstreamPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => resolve({ status: answer.statusCode ?? 500, headers: answer.headers, payload: Buffer.concat(chunks) }));
        answer.on('error', reject);
      });
      up.on('error', reject);
      req.pipe(up);
    });

  /** Streams the upstream answer to the client, with extra headers. */
  const relay = (req: IncomingMessage, res: ServerResponse, extra: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      const up = httpRequest({ host: '127.0.0.1', port: options.upstreamPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 500, { ...answer.headers, ...extra });
        answer.pipe(res);
        answer.on('end', () => resolve(answer.statusCode ?? 500));
        answer.on('error', reject);
      });
      up.on('error', reject);
      req.pipe(up);
    });

  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };

  const objectExists = (bucket: string, key: string) =>
    new Promise<boolean>((resolve, reject) => {
      const path = `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
      const up = httpRequest({ host: '127.0.0.1', port: options.upstreamPort, method: 'HEAD', path, headers: { authorization: 'AWS4-HMAC-SHA256 Credential=nightshift/20260101/us-east-1/s3/aws4_request' } }, (answer) => {
        answer.resume();
        resolve(answer.statusCode === 200);
      });
      up.on('error', reject);
      up.end();
    });

  const noSuchKey = (res: ServerResponse, key: string) =>
    res.writeHead(404, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${xmlEscape(key)}</Key></Error>`);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const object = target(url);
    if (!object) {
      await relay(req, res);
      return;
    }
    const id = `${object.bucket}\0${object.key}`;
    const header = (name: string) => req.headers[name] as string | undefined;

    if (url.searchParams.has('tagging')) {
      if (!(await objectExists(object.bucket, object.key))) return void noSuchKey(res, object.key);
      if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/xml' }).end(tagSetXml(tags.get(id) ?? []));
      if (req.method === 'PUT') {
        setTags(id, parseTagSetXml((await readBody(req)).toString('utf8')));
        return void res.writeHead(200).end();
      }
      if (req.method === 'DELETE') {
        setTags(id, []);
        return void res.writeHead(204).end();
      }
    }

    if (req.method === 'POST' && url.searchParams.has('uploads')) {
      const answer = await forward(req);
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(answer.payload.toString('utf8'))?.[1];
      if (answer.status === 200 && uploadId) pendingUploads.set(uploadId, parseTaggingHeader(header('x-amz-tagging')));
      return void res.writeHead(answer.status, answer.headers).end(answer.payload);
    }
    const uploadId = url.searchParams.get('uploadId');
    if (req.method === 'POST' && uploadId) {
      const status = await relay(req, res);
      if (status === 200) {
        setTags(id, pendingUploads.get(uploadId) ?? []);
        pendingUploads.delete(uploadId);
      }
      return;
    }
    if (req.method === 'PUT' && !uploadId) {
      const source = header('x-amz-copy-source');
      const next = source && (header('x-amz-tagging-directive') ?? 'COPY').toUpperCase() === 'COPY' ? [...(tags.get(copySourceOf(source)) ?? [])] : parseTaggingHeader(header('x-amz-tagging'));
      const status = await relay(req, res);
      if (status === 200) setTags(id, next);
      return;
    }
    if (req.method === 'DELETE' && !uploadId) {
      const status = await relay(req, res);
      if (status === 204 || status === 200) setTags(id, []);
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      const count = tags.get(id)?.length;
      await relay(req, res, count ? { 'x-amz-tagging-count': String(count) } : {});
      return;
    }
    await relay(req, res);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/xml' }).end(`<Error><Code>InternalError</Code><Message>${xmlEscape(String(error))}</Message></Error>`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
