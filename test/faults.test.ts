/**
 * Nothing lost under faults. The same hostile corpus is processed twice by the whole local
 * pipeline: once against a clean S3 server, once through a proxy that fails a seeded 20% of the
 * requests (503 SlowDown, 500, connection resets, and resets after the write was carried out).
 * The SDK's retries (adaptive mode) must make the faulty run's outputs identical to the clean
 * run's, and the invariants below must hold after it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runKeys } from '../core/keys';
import type { Report } from '../core/report';
import { getJson, getText, listPages } from '../adapters/s3';
import { LOCAL_BUCKETS as B } from '../local/runner';
import { type CorpusObject, hostileCorpus } from '../local/sample/corpus';
import { runCli, type CliRun } from './support/cli';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy';
import { expectRunInvariants } from './support/invariants';
import { startTestS3, type TestS3 } from './support/processes';

let tmp: string;
let corpus: CorpusObject[];
let clean: TestS3;
let faulty: TestS3;
let proxy: FaultProxy;
let cleanRun: CliRun;
let faultyRun: CliRun;

async function load(server: TestS3): Promise<void> {
  for (const b of Object.values(B)) await server.s3.send(new CreateBucketCommand({ Bucket: b }));
  for (const o of corpus) await server.s3.send(new PutObjectCommand({ Bucket: B.corpus, Key: o.key, Body: o.body, ContentType: o.contentType }));
}

async function listing(server: TestS3, bucket: string, prefix = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const page of listPages(server.s3, { bucket, prefix })) for (const o of page.objects) out.set(o.Key!, o.ETag!);
  return out;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-faults-'));
  corpus = await hostileCorpus({ photos: 3 });
  [clean, faulty] = await Promise.all([startTestS3([]), startTestS3([])]);
  await Promise.all([load(clean), load(faulty)]);
  proxy = await startFaultProxy({ target: faulty.endpoint, rate: 0.2, seed: 7 });
  // Default retry settings: the test must pass with what ships.
  const run = (endpoint: string, dir: string) => runCli(['local', '--json', '--data-dir', join(tmp, dir), '--endpoint', endpoint], { cwd: tmp });
  [cleanRun, faultyRun] = await Promise.all([run(clean.endpoint, 'clean'), run(proxy.endpoint, 'faulty')]);
}, 600_000);

afterAll(async () => {
  await proxy?.close();
  await Promise.all([clean?.stop(), faulty?.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

describe('throttling and transient errors (20% of S3 requests fail)', () => {
  it('injected every kind of fault, at about the configured rate', () => {
    const faults = Object.values(proxy.stats.faults).reduce((a, b) => a + b, 0);
    // What the proxy did, in the assertion (a failure shows it), not printed beside a passing run.
    const stats = `${proxy.stats.requests} requests, ${faults} faults ${JSON.stringify(proxy.stats.faults)}`;
    const kinds = ['slowdown', 'internal', 'reset-before', 'reset-after'] as const;
    expect({ missing: kinds.filter((kind) => !(proxy.stats.faults[kind] > 0)), stats }).toEqual({ missing: [], stats });
    expect({ overTwelvePercent: faults / proxy.stats.requests > 0.12, stats }).toEqual({ overTwelvePercent: true, stats });
  });

  it('completes like the clean run', () => {
    expect({ code: faultyRun.code, status: faultyRun.json?.status, stderr: faultyRun.code === 0 ? '' : faultyRun.stderr.slice(-2000) }).toEqual({ code: 0, status: 'SUCCEEDED', stderr: '' });
    expect(cleanRun.code).toBe(0);
    expect(faultyRun.json.history).toEqual(cleanRun.json.history);
    expect(faultyRun.json.counts).toEqual(cleanRun.json.counts);
  });

  it('writes the same renditions and backups, byte for byte', async () => {
    for (const bucket of [B.renditions, B.backup]) {
      const [a, b] = await Promise.all([listing(clean, bucket), listing(faulty, bucket)]);
      expect(b.size).toBeGreaterThan(0);
      expect(b).toEqual(a);
    }
  });

  it('reports the same outcome for every object', async () => {
    const [a, b] = await Promise.all([
      getJson<Report>(clean.s3, B.work, runKeys(cleanRun.json.runId).report),
      getJson<Report>(faulty.s3, B.work, runKeys(faultyRun.json.runId).report),
    ]);
    expect(b.failures.map((f) => [f.key, f.operation, f.code])).toEqual(a.failures.map((f) => [f.key, f.operation, f.code]));
    expect(b.operations.resize).toMatchObject({ processed: a.operations.resize!.processed, skipped: a.operations.resize!.skipped, failed: a.operations.resize!.failed });
    expect(b.operations.backup).toMatchObject({ processed: a.operations.backup!.processed, failed: a.operations.backup!.failed });
  });

  it('keeps every invariant', async () => {
    await expectRunInvariants({ s3: faulty.s3, buckets: B, runId: faultyRun.json.runId, originals: new Map(corpus.map((o) => [o.key, o.body])), outbox: join(tmp, 'faulty', 'outbox') });
  });
});

describe('a bad night costs nothing', () => {
  it('records in the promoted catalogue only what was done, so the next run redoes exactly what failed transiently', async () => {
    const server = await startTestS3([]);
    // Every rendition of one image cannot be written tonight (an outage of that part of the bucket).
    const outage = await startFaultProxy({ target: server.endpoint, rate: 0, fail: (method, path) => method === 'PUT' && path.includes(`/${B.renditions}/`) && path.includes('/night/2') });
    try {
      for (const b of Object.values(B)) await server.s3.send(new CreateBucketCommand({ Bucket: b }));
      for (let i = 1; i <= 3; i++) await server.s3.send(new PutObjectCommand({ Bucket: B.corpus, Key: `night/${i}.jpg`, Body: corpus.find((o) => o.resize === 'processed')!.body }));
      const run = (endpoint: string, dir: string) => runCli(['local', '--json', '--data-dir', join(tmp, dir), '--endpoint', endpoint, '--prefix', 'night/'], { cwd: tmp, env: { NIGHTSHIFT_S3_MAX_ATTEMPTS: '2' } });
      const bad = await run(outage.endpoint, 'bad-night');
      expect(bad.code).toBe(0);
      const report = await getJson<Report>(server.s3, B.work, runKeys(bad.json.runId).report);
      expect(report.failures.map((f) => [f.key, f.code, f.retryable])).toEqual([['night/2.jpg', 'write-failed', true]]);
      const state = await getText(server.s3, B.work, 'state/catalog.jsonl');
      // night/2.jpg is backed up, and none of its renditions is recorded as done.
      const done = (l: string) => {
        const r = JSON.parse(l) as { key: string; done: { backup?: true; renditions?: object } };
        return [r.key, r.done.backup === true, Object.keys(r.done.renditions ?? {}).length];
      };
      expect(state.trim().split('\n').map(done)).toEqual([['night/1.jpg', true, 4], ['night/2.jpg', true, 0], ['night/3.jpg', true, 4]]);
      const next = await run(server.endpoint, 'next-night');
      expect(next.code).toBe(0);
      expect(next.json.counts).toMatchObject({ due: 1, rendered: 1, failed: 0, backedUp: 0 });
      expect((await listing(server, B.renditions, 'thumb/night/')).size).toBe(6); // 3 images × JPEG + WebP
    } finally {
      await outage.close();
      await server.stop();
    }
  }, 300_000);

  it('treats an object S3 will not read from an archive tier as archived, not done, and backs it up once it is restored', async () => {
    const server = await startTestS3([]);
    // An Intelligent-Tiering object in its Archive Access tier lists like any other; GetObject and
    // CopyObject answer 403 InvalidObjectState (S3 API reference, GetObject, Errors).
    const archived = (req: import('node:http').IncomingMessage) => {
      const source = decodeURIComponent(String(req.headers['x-amz-copy-source'] ?? ''));
      const read = req.method === 'GET' && decodeURIComponent(req.url ?? '').startsWith(`/${B.corpus}/night/2.jpg`);
      return read || source.includes(`${B.corpus}/night/2.jpg`) ? { status: 403, code: 'InvalidObjectState', message: "The operation is not valid for the object's access tier" } : undefined;
    };
    const tier = await startFaultProxy({ target: server.endpoint, rate: 0, answer: archived });
    try {
      for (const b of Object.values(B)) await server.s3.send(new CreateBucketCommand({ Bucket: b }));
      for (let i = 1; i <= 3; i++) await server.s3.send(new PutObjectCommand({ Bucket: B.corpus, Key: `night/${i}.jpg`, Body: corpus.find((o) => o.resize === 'processed')!.body, StorageClass: 'INTELLIGENT_TIERING' }));
      const run = (endpoint: string, dir: string) => runCli(['local', '--json', '--data-dir', join(tmp, dir), '--endpoint', endpoint, '--prefix', 'night/'], { cwd: tmp });
      const cold = await run(tier.endpoint, 'archive-night');
      expect(cold.code).toBe(0);
      const report = await getJson<Report>(server.s3, B.work, runKeys(cold.json.runId).report);
      expect(report.failures).toEqual([]);
      expect(report.operations.resize!.skippedByCode).toEqual({ archived: 1 });
      expect(report.operations.backup!.skippedByCode).toEqual({ archived: 1 });
      const state = await getText(server.s3, B.work, 'state/catalog.jsonl');
      // Nothing is recorded as done for the archived object: not its backup, not its renditions.
      expect(state.trim().split('\n').map((l) => [(JSON.parse(l) as { key: string }).key, (JSON.parse(l) as { done: object }).done])).toEqual([
        ['night/1.jpg', expect.objectContaining({ backup: true })],
        ['night/2.jpg', {}],
        ['night/3.jpg', expect.objectContaining({ backup: true })],
      ]);
      // Restored: the next night does both.
      const restored = await run(server.endpoint, 'restored-night');
      expect(restored.code).toBe(0);
      expect(restored.json.counts).toMatchObject({ due: 1, rendered: 1, failed: 0, backedUp: 1 });
    } finally {
      await tier.close();
      await server.stop();
    }
  }, 300_000);
});
