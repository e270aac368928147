/**
 * The image API on loopback for `nightshift local serve`: `GET /api/images/{key}` and
 * `GET /api/images?prefix=…` through the very handler the Lambda function runs
 * (functions/images-api.ts), each request turned into the event API Gateway would send
 * (eventForRequest: the key URL-decoded exactly once), and `/gallery` (local/gallery-page.ts).
 *
 * Its own port, not a path on the S3 server's: any path there names a bucket (`/api` would hide a
 * bucket named api).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventForRequest, handleImagesRequest } from '../functions/images-api';
import type { RecordStore } from '../core/records/store';
import { galleryPage } from './gallery-page';

export const API_PATH = '/api';

export interface ApiServerOptions {
  readonly store: RecordStore;
  /** Port on 127.0.0.1. Default: 0 (any free port). */
  readonly port?: number;
  /** Where the gallery reads a rendition without a `url`: `{renditionsBase}/{key}`. */
  readonly renditionsBase: string;
}

export interface ApiServer {
  /** `http://127.0.0.1:<port>/api/`: `{api}images/{key}`. */
  readonly api: string;
  /** `http://127.0.0.1:<port>/gallery`. */
  readonly gallery: string;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  let base = '';
  const server = createServer((req, res) => {
    answer(req, res, options, base).catch((error: Error) => {
      if (res.headersSent) res.destroy();
      else reply(res, 500, { error: { code: 'internal-error', message: error.message } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  return {
    api: `${base}${API_PATH}/`,
    gallery: `${base}/gallery`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, options: ApiServerOptions, base: string): Promise<void> {
  const url = req.url ?? '/';
  const path = url.split('?')[0]!;
  if (path === '/gallery' || path === '/gallery/') {
    const page = galleryPage({ apiBase: `${base}${API_PATH}/`, renditionsBase: options.renditionsBase });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page) }).end(page);
    return;
  }
  if (!path.startsWith(`${API_PATH}/`)) return reply(res, 404, { error: { code: 'not-found', message: `no route for ${req.method} ${path}: the image API is under ${API_PATH}/images, the gallery at /gallery` } });
  let event;
  try {
    event = eventForRequest(req.method ?? 'GET', url.slice(API_PATH.length));
  } catch (error) {
    // API Gateway answers a malformed escape itself, before the function: 400.
    if (error instanceof URIError) return reply(res, 400, { error: { code: 'bad-request', message: `the URL ${JSON.stringify(url.slice(0, 200))} has a malformed %-escape: encode each key segment once with encodeURIComponent` } });
    throw error;
  }
  const result = await handleImagesRequest(event, options.store);
  res.writeHead(result.statusCode, { ...result.headers, 'content-length': Buffer.byteLength(result.body) }).end(result.body);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
}
