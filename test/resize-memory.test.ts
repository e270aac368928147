/**
 * The resize job's memory budget, run as Batch runs it (a process through its real entry point)
 * against the embedded S3 server on loopback. A container that exceeds its memory is killed
 * (Amazon ECS API reference, ContainerDefinition `memory`: "If your container attempts to exceed
 * the memory specified here, the container is killed"; Amazon ECS developer guide, "Troubleshoot
 * Amazon ECS OutOfMemoryError errors"): exit 137, which the retry strategy retries into the same
 * death. The kill cannot happen here; what the job does to avoid it can: a task memory given in
 * NIGHTSHIFT_JOB_MEMORY_MIB (as the job definition sets it) so small that one image fits at a time,
 * and an image that alone does not fit fails with what to raise instead of being decoded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { runKeys } from '../core/keys';
import { budgetBytes, imageCostBytes, minimumMemoryMiB } from '../core/memory-budget';
import type { Plan } from '../core/plan';
import type { ShardResult } from '../core/results';
import { getJson } from '../adapters/s3';
import { runJob, startTestS3, type TestS3 } from './support/processes';

const buckets = { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' };
// One small preset: the point is admission, not encoding. Three images in flight unless memory says otherwise.
const config = { buckets, presets: [{ name: 'thumb', width: 160, formats: ['jpeg'] }], resize: { concurrency: 3 } };

let server: TestS3;
let tmp: string;

const env = (runId: string, extra: Record<string, string> = {}) => ({
  AWS_ENDPOINT_URL_S3: server.endpoint,
  NIGHTSHIFT_RUN_ID: runId,
  NIGHTSHIFT_CONFIG: JSON.stringify(config),
  NIGHTSHIFT_TMPDIR: tmp,
  NIGHTSHIFT_LOG_LEVEL: 'debug',
  ...extra,
});

const jpeg = (width: number, height: number, shade: number) => sharp({ create: { width, height, channels: 3, background: { r: shade, g: 100, b: 200 } } }).jpeg().toBuffer();

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-memory-'));
  server = await startTestS3(Object.values(buckets));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the resize job within its memory', () => {
  it('admits one image at a time when only one fits, and fails an image too large alone with its size and the setting to raise', async () => {
    const small = await Promise.all([0, 1, 2, 3, 4].map((i) => jpeg(1600, 1200, 40 * i)));
    const panorama = await jpeg(6000, 2000, 250);
    for (const [i, body] of small.entries()) await server.s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: `photos/small-${i}.jpg`, Body: body }));
    await server.s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: 'photos/panorama.jpg', Body: panorama }));

    // A task memory whose budget holds one small image but not two, and never the panorama.
    const smallCost = (body: Buffer) => imageCostBytes({ width: 1600, height: 1200, bands: 3, bytesPerSample: 1 }, body.length);
    const memoryMiB = minimumMemoryMiB(Math.max(...small.map(smallCost)) * 1.5);
    expect(budgetBytes(memoryMiB)).toBeLessThan(2 * Math.min(...small.map(smallCost)));
    expect(budgetBytes(memoryMiB)).toBeLessThan(imageCostBytes({ width: 6000, height: 2000, bands: 3, bytesPerSample: 1 }, panorama.length));

    const runId = 'memory-1';
    expect(await runJob('catalog', env(runId, { NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['resize'] }) }))).toMatchObject({ code: 0, stderr: '' });
    const plan = await getJson<Plan>(server.s3, buckets.work, runKeys(runId).plan);
    const results: ShardResult[] = [];
    const steps: string[][] = [];
    for (let shard = 0; shard < plan.shardCount; shard++) {
      const run = await runJob('resize', env(runId, { AWS_BATCH_JOB_ARRAY_INDEX: String(shard), NIGHTSHIFT_JOB_MEMORY_MIB: String(memoryMiB) }));
      expect({ shard, code: run.code, stderr: run.stderr }).toEqual({ shard, code: 0, stderr: '' });
      results.push(await getJson<ShardResult>(server.s3, buckets.work, runKeys(runId).result('resize', shard)));
      steps.push(run.logs.filter((l) => l.msg === 'admitted' || l.msg === 'rendered').map((l) => `${l.msg as string} ${l.key as string}`));
      // Nothing else held when an image is admitted: the budget's use is its own cost.
      for (const l of run.logs.filter((l) => l.msg === 'admitted')) expect(l.budgetUsed).toBe(l.bytes);
    }
    const sum = (field: 'items' | 'processed' | 'failed') => results.reduce((n, r) => n + r.counts[field], 0);
    expect({ items: sum('items'), processed: sum('processed'), failed: sum('failed') }).toEqual({ items: 6, processed: 5, failed: 1 });
    expect(results.flatMap((r) => r.failures)).toEqual([
      {
        key: 'photos/panorama.jpg',
        code: 'too-large-for-memory',
        retryable: false,
        message: expect.stringMatching(new RegExp(`^6000×2000 \\(12\\.0 MP, 3 bands of 8 bits\\) needs about [\\d,]+ MiB to render, more than the [\\d,]+ MiB this job may use for images with ${memoryMiB} MiB of memory: raise compute\\.resize\\.memoryMiB to at least [\\d,]+ \\(or leave such images out with filter\\.maxPixels\\)$`)),
      },
    ]);
    // One at a time: each image is rendered and written before the next is admitted to decode.
    expect(steps.flat()).toHaveLength(10);
    for (const shardSteps of steps) {
      for (let i = 0; i < shardSteps.length; i += 2) expect(shardSteps[i + 1]).toBe(shardSteps[i]!.replace('admitted', 'rendered'));
    }
  }, 120_000);
});
