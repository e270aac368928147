/**
 * A fault-injecting HTTP proxy on 127.0.0.1 in front of the embedded S3 server. For a seeded
 * fraction of requests it answers 503 SlowDown, 500 InternalError, resets the connection before
 * forwarding, or forwards the request and then resets the connection instead of answering (the
 * write happened; the client sees an error and retries). It injects at most `maxFaults` faults,
 * then only forwards: loops are bounded and the test always ends.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { prng } from '../../local/sample/images';

export type FaultKind = 'slowdown' | 'internal' | 'reset-before' | 'reset-after';

export interface FaultProxyOptions {
  /** `http://127.0.0.1:N` of the real server. */
  readonly target: string;
  /** Fraction of requests that get a fault (default 0.2). */
  readonly rate?: number;
  readonly seed?: number;
  /** Faults injected at most (default 2000). */
  readonly maxFaults?: number;
  /** Delay before forwarding each request, to make work slow enough to interrupt (default 0). */
  readonly delayMs?: number;
  /** Requests this matches are held until `open()` (e.g. one bucket's writes, to keep a run in progress; `req` for its headers, e.g. If-Match). */
  readonly hold?: (method: string, path: string, req: IncomingMessage) => boolean;
  /** Requests this matches always get 500 InternalError (an outage of one part of the bucket). */
  readonly fail?: (method: string, path: string) => boolean;
  /** Answers the requests it returns an error for with that S3 error (e.g. 403 InvalidObjectState for an archived object, 409 CONDITIONAL_CONFLICT). */
  readonly answer?: (req: IncomingMessage) => { status: number; code: string; message: string } | undefined;
  /** Rewrites response bodies of GET requests (e.g. a listing's StorageClass, which the embedded server does not keep). */
  readonly rewrite?: (path: string, body: string) => string;
}

export interface FaultProxy {
  readonly endpoint: string;
  readonly stats: { requests: number; faults: Record<FaultKind, number>; held: number };
  /** Lets held requests through, and all later ones. */
  open(): void;
  close(): Promise<void>;
}

/**
 * S3's answer to a conditional write that met another conditional write to the key in progress
 * (S3 user guide, "How to prevent object overwrites with conditional writes"; the embedded server
 * answers it too, local/s3-layer.ts): for `answer`, to drive a 409 at a chosen request.
 */
export const CONDITIONAL_CONFLICT = { status: 409, code: 'ConditionalRequestConflict', message: 'A conflicting conditional operation is currently in progress against this resource. Please try again.' } as const;

const KINDS: FaultKind[] = ['slowdown', 'internal', 'reset-before', 'reset-after'];

function s3Error(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/xml', ...(status === 503 ? { 'retry-after': '0' } : {}) });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`);
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) throw new Error(`the fault proxy only fronts loopback servers, not ${target.hostname}`);
  const random = prng(options.seed ?? 20261122);
  const rate = options.rate ?? 0.2;
  const maxFaults = options.maxFaults ?? 2000;
  const stats = { requests: 0, faults: { slowdown: 0, internal: 0, 'reset-before': 0, 'reset-after': 0 } as Record<FaultKind, number>, held: 0 };
  let held: (() => void)[] | undefined = options.hold ? [] : undefined;
  const total = () => Object.values(stats.faults).reduce((a, b) => a + b, 0);

  const forward = (req: IncomingMessage, onResponse: (upstream: IncomingMessage) => void, onError: () => void) => {
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, onResponse);
    up.on('error', onError);
    req.pipe(up);
  };

  const server: Server = createServer((req, res) => {
    if (held && options.hold!(req.method ?? 'GET', req.url ?? '/', req)) {
      stats.held++;
      req.pause();
      held.push(() => handle(req, res));
      return;
    }
    if (options.delayMs) {
      req.pause();
      setTimeout(() => handle(req, res), options.delayMs);
    } else handle(req, res);
  });
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    const answer = options.answer?.(req);
    if (answer) {
      req.resume();
      req.on('end', () => s3Error(res, answer.status, answer.code, answer.message));
      return;
    }
    const outage = options.fail?.(req.method ?? 'GET', req.url ?? '/') ?? false;
    const fault = outage ? 'internal' : total() < maxFaults && random() < rate ? KINDS[Math.floor(random() * KINDS.length)]! : undefined;
    if (fault) stats.faults[fault]++;
    const drainThen = (fn: () => void) => {
      req.resume();
      req.on('end', fn);
    };
    switch (fault) {
      case 'slowdown':
        return drainThen(() => s3Error(res, 503, 'SlowDown', 'Please reduce your request rate.'));
      case 'internal':
        return drainThen(() => s3Error(res, 500, 'InternalError', 'We encountered an internal error. Please try again.'));
      case 'reset-before':
        return req.socket.destroy();
      case 'reset-after':
        // The request reaches the server and is carried out; the client never hears back.
        return forward(
          req,
          (upstream) => {
            upstream.resume();
            upstream.on('end', () => req.socket.destroy());
          },
          () => req.socket.destroy(),
        );
      default:
        return forward(
          req,
          (upstream) => {
            if (options.rewrite && req.method === 'GET') {
              const chunks: Buffer[] = [];
              upstream.on('data', (c: Buffer) => chunks.push(c));
              upstream.on('end', () => {
                const body = Buffer.from(options.rewrite!(req.url ?? '/', Buffer.concat(chunks).toString('utf8')));
                res.writeHead(upstream.statusCode ?? 502, { ...upstream.headers, 'content-length': String(body.length) });
                res.end(body);
              });
              return;
            }
            res.writeHead(upstream.statusCode ?? 502, upstream.headers);
            upstream.pipe(res);
          },
          () => {
            if (!res.headersSent) s3Error(res, 502, 'BadGateway', 'upstream unreachable');
            else res.destroy();
          },
        );
    }
  };
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    open: () => {
      const waiting = held ?? [];
      held = undefined;
      for (const go of waiting) go();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
