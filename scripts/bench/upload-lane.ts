/**
 * The bench's upload section (issue 29): the upload lane on this machine, as `nightshift local
 * serve --on-upload` runs it (the embedded S3 server's event notifications, the local queue, the
 * lane's handler, the embedded DynamoDB server), over 12-MP JPEGs uploaded one at a time.
 *
 * - upload_to_record_ms p50/p95: from the PUT's start until the image's rendered record is in the
 *   table (read back every 10 ms).
 * - lane_cpu_ms_per_image: this process's CPU while the lane handled each image's message (the
 *   in-process S3 server serving the lane's GET and PUTs included: an upper bound).
 * - batch_cpu_ms_per_image: the resize job's CPU over the same images, as Batch runs it (its
 *   shard processes through their entry point, start-up included), divided by the images.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { parsePipelineConfig, type PipelineConfig } from '../../core/config';
import { runKeys } from '../../core/keys';
import type { Plan } from '../../core/plan';
import type { ShardResult } from '../../core/results';
import { createDynamoClient, ImageRecordStore } from '../../adapters/dynamodb';
import { createLogger } from '../../adapters/log';
import { createS3Client, getJson } from '../../adapters/s3';
import { uploadHandler, type LaneRecord, type UploadHandler } from '../../functions/on-upload';
import { startEmbeddedDynamo } from '../../local/dynamodb-server';
import { startEmbeddedS3 } from '../../local/s3-server';
import { LocalUploadQueue } from '../../local/upload-queue';
import { photoPixels } from '../../local/sample/images';
import { measure, median } from './measure';

/** The bucket the batch comparison's corpus goes to (the bench's server must have it). */
export const UPLOAD_BENCH_BUCKET = 'upload-lane';

export interface UploadSummary {
  readonly upload_images: number;
  readonly upload_to_record_ms_p50: number;
  readonly upload_to_record_ms_p95: number;
  readonly lane_cpu_ms_per_image: number;
  readonly batch_cpu_ms_per_image: number;
}

type JobCommand = (name: 'catalog' | 'resize', cfg: PipelineConfig, runId: string, extra?: Record<string, string>) => string[];

export interface UploadContext {
  readonly s3: ReturnType<typeof createS3Client>;
  readonly baseConfig: object;
  readonly job: JobCommand;
  readonly work: string;
  readonly log: string;
  readonly images: number;
}

const percentile = (values: readonly number[], p: number): number => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
};

export async function uploadSection(ctx: UploadContext): Promise<{ lines: string[]; summary: UploadSummary }> {
  process.stdout.write(`upload: ${ctx.images} 12-MP JPEGs through the local upload lane, then through the resize job…\n`);
  const jpegs = await Promise.all(Array.from({ length: ctx.images }, (_, i) => sharp(photoPixels(4000, 3000, 7000 + i), { raw: { width: 4000, height: 3000, channels: 3 } }).jpeg({ quality: 90 }).toBuffer()));
  const lane = await laneRun(ctx, jpegs);
  const batch = await batchRun(ctx, jpegs);
  const summary: UploadSummary = {
    upload_images: ctx.images,
    upload_to_record_ms_p50: Math.round(median(lane.latencies)),
    upload_to_record_ms_p95: Math.round(percentile(lane.latencies, 0.95)),
    lane_cpu_ms_per_image: Math.round(median(lane.cpu)),
    batch_cpu_ms_per_image: Math.round(batch.cpuMs / ctx.images),
  };
  const lines = [
    `upload: upload-to-record p50 ${summary.upload_to_record_ms_p50} ms, p95 ${summary.upload_to_record_ms_p95} ms over ${ctx.images} 12-MP JPEGs (local lane, one at a time)`,
    `upload: CPU per image ${summary.lane_cpu_ms_per_image} ms on the lane (S3 server in-process included) vs ${summary.batch_cpu_ms_per_image} ms in the resize job (process start-up included, ${ctx.images} images)`,
  ];
  return { lines, summary };
}

/** The lane as `serve --on-upload` runs it; each upload's latency until its record, and the CPU of its message. */
async function laneRun(ctx: UploadContext, jpegs: readonly Buffer[]): Promise<{ latencies: number[]; cpu: number[] }> {
  const buckets = { corpus: 'lane-corpus', renditions: 'lane-renditions', backup: 'lane-backup', work: 'lane-work' };
  const config = parsePipelineConfig({ ...ctx.baseConfig, buckets, onUpload: { enabled: true } });
  const queue = new LocalUploadQueue({ maxConcurrency: 1 });
  const server = await startEmbeddedS3({ buckets: Object.values(buckets), notify: { buckets: [buckets.corpus], send: (m) => queue.send(m) } });
  const dynamo = await startEmbeddedDynamo();
  const s3 = createS3Client({ endpoint: server.endpoint, maxAttempts: 3 }, {});
  const client = createDynamoClient({ endpoint: dynamo.endpoint }, {});
  const store = new ImageRecordStore<LaneRecord>(client, dynamo.table);
  const cpu: number[] = [];
  const handler = uploadHandler({ s3, records: store, config, log: createLogger({}, { write: () => undefined }) });
  const timed: UploadHandler = async (event) => {
    const since = process.cpuUsage();
    const answer = await handler(event);
    const used = process.cpuUsage(since);
    cpu.push((used.user + used.system) / 1000);
    return answer;
  };
  queue.start(timed);
  const latencies: number[] = [];
  try {
    for (const [i, body] of jpegs.entries()) {
      const key = `bench/img-${i}.jpg`;
      const started = performance.now();
      await s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key: key, Body: body, ContentType: 'image/jpeg' }));
      while ((await store.getRecord(key))?.status !== 'rendered') await new Promise((r) => setTimeout(r, 10));
      latencies.push(performance.now() - started);
      await queue.drained();
    }
  } finally {
    client.destroy();
    s3.destroy();
    await dynamo.stop();
    await server.stop();
  }
  return { latencies, cpu };
}

/** The same images through catalog and one resize shard, as Batch runs them; the resize process's CPU. */
async function batchRun(ctx: UploadContext, jpegs: readonly Buffer[]): Promise<{ cpuMs: number }> {
  for (const [i, body] of jpegs.entries()) await ctx.s3.send(new PutObjectCommand({ Bucket: UPLOAD_BENCH_BUCKET, Key: `bench/img-${i}.jpg`, Body: body, ContentType: 'image/jpeg' }));
  const config = parsePipelineConfig({ ...ctx.baseConfig, buckets: { corpus: UPLOAD_BENCH_BUCKET, renditions: 'renditions', backup: 'backup', work: 'work' } });
  const runId = `bench-upload-${Date.now()}`;
  const plain = { env: { PATH: process.env.PATH }, cwd: ctx.work, log: ctx.log };
  await measure([[ctx.job('catalog', config, runId, { NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['resize'] }) })]], plain);
  const plan = await getJson<Plan>(ctx.s3, 'work', runKeys(runId).plan);
  const shards = Array.from({ length: plan.shardCount }, (_, i) => i);
  // One shard after another: the CPU of every resize process, summed.
  const m = await measure(shards.map((i) => [ctx.job('resize', config, runId, { AWS_BATCH_JOB_ARRAY_INDEX: String(i), AWS_BATCH_JOB_ATTEMPT: '1' })]), plain);
  const results = await Promise.all(shards.map((i) => getJson<ShardResult>(ctx.s3, 'work', runKeys(runId).result('resize', i))));
  const processed = results.reduce((sum, r) => sum + r.counts.processed, 0);
  if (processed !== jpegs.length) throw new Error(`upload: the resize shards rendered ${processed} of ${jpegs.length} images: see ${ctx.log}`);
  return { cpuMs: m.cpuMs };
}
