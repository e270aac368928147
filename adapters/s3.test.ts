/**
 * The S3 adapter against answers S3 really gives. A bucket in another region than the client's
 * answers every request signed for the wrong region with 301 PermanentRedirect and the bucket's
 * region in `x-amz-bucket-region` (S3 API reference, "Error responses": PermanentRedirect; S3 user
 * guide, "Making requests" / region redirects). The jobs must follow it: an operator's corpus is
 * often in another region than the stack.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startTestS3, type TestS3 } from '../test/support/processes';
import pLimit from 'p-limit';
import { compareKeys } from '../core/keys';
import { createS3Client, getText, listInParallel, listPages } from './s3';

let s3: TestS3;
let proxy: ReturnType<typeof createServer>;
let endpoint: string;
const signedFor: string[] = [];

beforeAll(async () => {
  s3 = await startTestS3(['far-corpus', 'route-left', 'route-right']);
  await s3.s3.send(new PutObjectCommand({ Bucket: 'far-corpus', Key: 'a/1.jpg', Body: 'one' }));
  const upstream = new URL(s3.endpoint);
  // The bucket lives in eu-west-2: anything signed for another region is redirected, as S3 does.
  proxy = createServer((req, res) => {
    const region = /Credential=[^/]+\/\d{8}\/([^/]+)\/s3\//.exec(String(req.headers.authorization))?.[1] ?? '';
    signedFor.push(region);
    if (region !== 'eu-west-2') {
      req.resume();
      res.writeHead(301, { 'content-type': 'application/xml', 'x-amz-bucket-region': 'eu-west-2' });
      res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><Endpoint>far-corpus.s3.eu-west-2.amazonaws.com</Endpoint><Bucket>far-corpus</Bucket><RequestId>0A49CE4060975EAC</RequestId></Error>');
      return;
    }
    req.pipe(request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    }));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  proxy?.close();
  await s3?.stop();
});

describe('S3 client', () => {
  it('follows a bucket to its region: reads and lists a corpus bucket in another region', async () => {
    const client = createS3Client({ endpoint, region: 'us-east-1', maxAttempts: 2 }, {});
    try {
      expect(await getText(client, 'far-corpus', 'a/1.jpg')).toBe('one');
      const keys: string[] = [];
      for await (const page of listPages(client, { bucket: 'far-corpus' })) keys.push(...page.objects.map((o) => o.Key!));
      expect(keys).toEqual(['a/1.jpg']);
      expect(signedFor[0]).toBe('us-east-1');
      expect(signedFor.at(-1)).toBe('eu-west-2');
    } finally {
      client.destroy();
    }
  });

  // The backup reads originals in the corpus bucket while it writes copies to the backup bucket,
  // many at once on one client. With the SDK's `cacheMiddleware: true` (@aws-sdk/client-s3
  // 3.1169, @smithy/core 3.41) every request of a command class shares one handler context, so a
  // request can take another's resolved endpoint: half of these GETs were answered from the other
  // bucket. This pins createS3Client's routing, whatever setting someone tries next.
  it('sends each of many concurrent requests to its own bucket', async () => {
    const client = createS3Client({ endpoint: s3.endpoint, maxAttempts: 2 }, {});
    try {
      for (const bucket of ['route-left', 'route-right']) await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'which', Body: bucket }));
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? 'route-left' : 'route-right')).map(async (bucket) => ({ bucket, body: await getText(client, bucket, 'which') })));
      expect(answers.filter((a) => a.body !== a.bucket)).toEqual([]);
    } finally {
      client.destroy();
    }
  });
});

describe('listing with several listers at once', () => {
  it('lists a flat layout and folders in several ranges, every key exactly once', async () => {
    const flat = Array.from({ length: 4_500 }, (_, i) => `img/${String(i).padStart(7, '0')}.jpg`);
    const odd = ['a', 'img/', 'img/\u00e9t\u00e9.jpg', 'img/\u{1F600}.jpg', 'img/~~.jpg', 'p00/1.jpg', 'p99/9.jpg', 'z\u0001control', '\u00ff'];
    const limit = pLimit(32);
    await s3.s3.send(new (await import('@aws-sdk/client-s3')).CreateBucketCommand({ Bucket: 'flat-corpus' }));
    await Promise.all([...flat, ...odd].map((Key) => limit(() => s3.s3.send(new PutObjectCommand({ Bucket: 'flat-corpus', Key, Body: 'x' })))));
    for (const prefix of ['', 'img/']) {
      const seen: string[] = [];
      const listed = await listInParallel(s3.s3, { bucket: 'flat-corpus', prefix, listers: 4 }, async (objects) => void seen.push(...objects.map((o) => o.Key!)));
      const expected = [...flat, ...odd].filter((k) => k.startsWith(prefix)).sort(compareKeys);
      expect(seen.sort(compareKeys)).toEqual(expected);
      expect(listed.ranges).toBeGreaterThan(1);
    }
  }, 120_000);
});
