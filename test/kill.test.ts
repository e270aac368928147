/**
 * A worker killed mid-shard (SIGKILL of a resize and of a backup child while they write): the
 * retry redoes the shard; afterwards every output exists once, is complete, and the report
 * counts each object once.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { renditionKey, runKeys } from '../core/keys';
import type { Report } from '../core/report';
import { getJson } from '../adapters/s3';
import { LOCAL_BUCKETS as B, type LocalRunResult } from '../local/runner';
import { photoJpeg } from '../local/sample/images';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy';
import { expectRunInvariants } from './support/invariants';
import { ROOT, startTestS3, type TestS3 } from './support/processes';

let tmp: string;
let server: TestS3;
let slow: FaultProxy;
let result: LocalRunResult & { killed: string[] };
const keys = Array.from({ length: 12 }, (_, i) => `shots/${String(i).padStart(2, '0')}.jpg`);
const images = new Map<string, Buffer>();

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-kill-'));
  server = await startTestS3([]);
  for (const b of Object.values(B)) await server.s3.send(new CreateBucketCommand({ Bucket: b }));
  for (const [i, key] of keys.entries()) {
    const body = await photoJpeg(1200, 800, 300 + i);
    images.set(key, body);
    await server.s3.send(new PutObjectCommand({ Bucket: B.corpus, Key: key, Body: body, ContentType: 'image/jpeg' }));
  }
  // Every S3 request takes 150 ms more: shards last long enough to be killed while writing.
  slow = await startFaultProxy({ target: server.endpoint, rate: 0, delayMs: 150 });
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), '--disable-warning=ExperimentalWarning', join(ROOT, 'test/support/kill-run.ts'), slow.endpoint, join(tmp, 'data'), 'resize,backup'], {
    cwd: tmp,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`harness exited ${code}: ${stderr.slice(-3000)}`);
  result = JSON.parse(stdout.trim().split('\n').at(-1)!);
}, 300_000);

afterAll(async () => {
  await slow?.close();
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

it('killed a resize and a backup child mid-shard, and the retried attempts finished the run', () => {
  expect(result.killed.sort()).toEqual(['backup', 'resize']);
  expect(result.status).toBe('SUCCEEDED');
  const logs = join(tmp, 'data', 'logs', result.runId);
  for (const job of ['resize', 'backup']) {
    expect(existsSync(join(logs, `${job}-00000-attempt1.log`))).toBe(true);
    expect(existsSync(join(logs, `${job}-00000-attempt2.log`))).toBe(true);
  }
});

it('counts every object once in the report', async () => {
  const report = await getJson<Report>(server.s3, B.work, runKeys(result.runId).report);
  for (const op of ['resize', 'backup'] as const) {
    const t = report.operations[op]!;
    expect({ op, items: t.items, accounted: t.processed + t.skipped + t.failed, failed: t.failed }).toEqual({ op, items: keys.length, accounted: keys.length, failed: 0 });
  }
  // The retried shard found some of its objects already done by the killed attempt.
  expect((report.operations.resize!.skippedByCode['up-to-date'] ?? 0) + (report.operations.backup!.skippedByCode['up-to-date'] ?? 0)).toBeGreaterThan(0);
});

it('leaves every rendition complete and every backup identical to its source', async () => {
  for (const key of keys) {
    for (const preset of [{ name: 'large', width: 1200 }, { name: 'thumb', width: 320 }]) {
      for (const format of ['jpeg', 'webp'] as const) {
        const got = await server.s3.send(new GetObjectCommand({ Bucket: B.renditions, Key: renditionKey(preset.name, key, format) }));
        const meta = await sharp(Buffer.from(await got.Body!.transformToByteArray()), { failOn: 'error' }).metadata();
        expect({ key, format: meta.format, width: meta.width, height: meta.height }).toEqual({ key, format, width: preset.width, height: Math.round((preset.width * 800) / 1200) });
      }
    }
    const [src, dst] = await Promise.all([server.s3.send(new HeadObjectCommand({ Bucket: B.corpus, Key: key })), server.s3.send(new HeadObjectCommand({ Bucket: B.backup, Key: key }))]);
    expect(dst.ETag).toBe(src.ETag);
  }
});

it('keeps every invariant', async () => {
  await expectRunInvariants({ s3: server.s3, buckets: B, runId: result.runId, originals: images, outbox: join(tmp, 'data', 'outbox') });
});
