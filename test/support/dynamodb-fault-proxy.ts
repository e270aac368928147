/**
 * An HTTP proxy on 127.0.0.1 in front of the embedded DynamoDB server that answers chosen requests
 * itself (a throttled transaction, say: answers dynalite never gives) and forwards the rest. The
 * answers are DynamoDB's JSON error shapes, written out by the test that injects them.
 */
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface InjectedAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface DynamoFaultProxy {
  readonly endpoint: string;
  /** Requests seen, by operation (X-Amz-Target without its prefix). */
  readonly seen: Record<string, number>;
  close(): Promise<void>;
}

/** `answer` sees each request's operation and parsed body; what it returns is sent instead of forwarding. */
export async function startDynamoFaultProxy(target: string, answer: (op: string, body: Record<string, unknown>) => InjectedAnswer | undefined): Promise<DynamoFaultProxy> {
  const upstream = new URL(target);
  if (upstream.hostname !== '127.0.0.1') throw new Error(`the fault proxy only fronts loopback servers, not ${upstream.hostname}`);
  const seen: Record<string, number> = {};
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const op = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'other';
      seen[op] = (seen[op] ?? 0) + 1;
      const injected = answer(op, JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>);
      if (injected) {
        const text = JSON.stringify(injected.body);
        res.writeHead(injected.status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      const up = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answered) => {
        res.writeHead(answered.statusCode ?? 502, answered.headers);
        answered.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
