/**
 * A loopback S3 front for load tests: ListObjectsV2 on one bucket answers for a synthetic corpus
 * of any size, generated on the fly (deterministic keys, sizes and ETags, in S3 order, one flat
 * folder: the layout that lists worst); every other request goes to the embedded server behind
 * it, writes held back by `writeDelayMs` as S3's PUT latency would.
 *
 * Keys are `img/<10-digit index>.jpg`, one in a hundred `.txt` (left alone by the filter).
 * The answer has the shape of the S3 API reference's ListObjectsV2 response (ListBucketResult,
 * EncodingType url, StartAfter and continuation tokens).
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compareKeys } from '../../core/keys';

export interface SyntheticCorpus {
  readonly endpoint: string;
  readonly stats: { listPages: number; writes: number };
  close(): Promise<void>;
}

export const syntheticKey = (i: number) => `img/${String(i).padStart(10, '0')}.${i % 100 === 0 ? 'txt' : 'jpg'}`;

export async function startSyntheticCorpus(options: { target: string; bucket: string; objects: number; writeDelayMs?: number }): Promise<SyntheticCorpus> {
  const target = new URL(options.target);
  if (target.hostname !== '127.0.0.1') throw new Error(`load tests run against loopback only, not ${target.hostname}`);
  const stats = { listPages: 0, writes: 0 };
  const n = options.objects;
  /** Index of the first key after `bound` (S3's StartAfter is exclusive), or at it when `inclusive` (a prefix). */
  const firstAfter = (bound: string, inclusive = false) => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const order = compareKeys(syntheticKey(mid), bound);
      if (order < 0 || (order === 0 && !inclusive)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  function list(url: URL, res: ServerResponse): void {
    stats.listPages++;
    const prefix = url.searchParams.get('prefix') ?? '';
    const token = url.searchParams.get('continuation-token');
    const startAfter = url.searchParams.get('start-after') ?? '';
    const maxKeys = Math.min(1000, Number(url.searchParams.get('max-keys') ?? 1000));
    const from = token ? firstAfter(Buffer.from(token, 'base64url').toString('utf8')) : startAfter ? firstAfter(startAfter) : 0;
    const start = Math.max(from, prefix ? firstAfter(prefix, true) : 0);
    const contents: string[] = [];
    let i = start;
    for (; i < n && contents.length < maxKeys; i++) {
      const key = syntheticKey(i);
      if (!key.startsWith(prefix)) break;
      contents.push(`<Contents><Key>${encodeURIComponent(key)}</Key><LastModified>2026-11-01T00:00:00.000Z</LastModified><ETag>&quot;${i.toString(16).padStart(32, '0')}&quot;</ETag><Size>${1000 + (i % 5000)}</Size><StorageClass>STANDARD</StorageClass></Contents>`);
    }
    const truncated = i < n && syntheticKey(i).startsWith(prefix) && contents.length === maxKeys;
    const next = truncated ? `<NextContinuationToken>${Buffer.from(syntheticKey(i - 1)).toString('base64url')}</NextContinuationToken>` : '';
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${options.bucket}</Name><Prefix>${encodeURIComponent(prefix)}</Prefix><KeyCount>${contents.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><EncodingType>url</EncodingType><IsTruncated>${truncated}</IsTruncated>${next}${contents.join('')}</ListBucketResult>`;
    res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) }).end(body);
  }

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && (url.pathname === `/${options.bucket}` || url.pathname === `/${options.bucket}/`) && url.searchParams.get('list-type') === '2') return list(url, res);
    if ((req.method === 'PUT' || req.method === 'POST') && options.writeDelayMs) {
      stats.writes++;
      req.pause();
      setTimeout(() => forward(req, res), options.writeDelayMs);
      return;
    }
    forward(req, res);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
