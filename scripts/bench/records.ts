/**
 * The bench's records section (issue 28): what the image records cost the resize.
 *
 * - details_share_of_resize_cpu: the placeholder's CPU (computed from the smallest level, as the
 *   job does) over render()'s CPU for 12-MP JPEGs (scripts/bench/placeholder-cost.ts). The other
 *   details (size, format, alpha, pages) come from the header the resize reads anyway.
 * - dynamodb_write_requests_per_image: the resize job's two shards, as processes through their
 *   entry point, against the embedded S3 and DynamoDB servers; each shard result's
 *   `records.requests` counts every write request it sent, retries included.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { parsePipelineConfig, type PipelineConfig } from '../../core/config';
import { runKeys } from '../../core/keys';
import type { Plan } from '../../core/plan';
import type { ShardResult } from '../../core/results';
import { IMAGES_TABLE_ENV } from '../../core/records/table';
import { getJson } from '../../adapters/s3';
import { startEmbeddedDynamo } from '../../local/dynamodb-server';
import { photoJpeg } from '../../local/sample/images';
import { measure } from './measure';
import { placeholderCost } from './placeholder-cost';

export const DETAILS_SHARE_TARGET = 0.03;
export const WRITE_REQUESTS_TARGET = 0.05;
/** The bucket the section's corpus goes to (the bench's server must have it). */
export const RECORDS_BUCKET = 'records';

export interface RecordsSummary {
  readonly details_share_of_resize_cpu: number;
  readonly details_share_target: number;
  readonly dynamodb_write_requests_per_image: number;
  readonly dynamodb_write_requests_target: number;
}

type JobCommand = (name: 'catalog' | 'resize', cfg: PipelineConfig, runId: string, extra?: Record<string, string>) => string[];

export interface RecordsContext {
  readonly s3: S3Client;
  readonly baseConfig: object;
  readonly job: JobCommand;
  readonly work: string;
  readonly log: string;
  /** Originals in the write-request run (small: the requests do not depend on pixels). */
  readonly images: number;
  /** 12-MP JPEGs the CPU share is measured over. */
  readonly cpuImages: number;
}

export async function recordsSection(ctx: RecordsContext): Promise<{ lines: string[]; summary: RecordsSummary }> {
  process.stdout.write(`records: the placeholder's CPU over ${ctx.cpuImages} 12-MP JPEGs…\n`);
  const cost = await placeholderCost(ctx.cpuImages);
  const share = cost.levelMs / cost.renderMs;
  process.stdout.write(`records: ${ctx.images} originals through 2 resize shards with a table…\n`);
  const writes = await writeRequests(ctx);
  const perImage = writes.requests / writes.images;
  const lines = [
    `records: details (placeholder from the smallest level) ${cost.levelMs.toFixed(2)} ms CPU per image over render()'s ${cost.renderMs.toFixed(0)} ms (${cost.presets}) = ${(share * 100).toFixed(2)} % of the resize CPU (target ≤ ${DETAILS_SHARE_TARGET * 100} %)${share <= DETAILS_SHARE_TARGET ? '' : ': OVER TARGET'}`,
    `records: ${writes.requests} DynamoDB write requests (retries included) for ${writes.images} images in ${writes.shards} shards = ${perImage.toFixed(3)} per image (target ≤ ${WRITE_REQUESTS_TARGET})${perImage <= WRITE_REQUESTS_TARGET ? '' : ': OVER TARGET'}`,
  ];
  return {
    lines,
    summary: {
      details_share_of_resize_cpu: Number(share.toFixed(4)),
      details_share_target: DETAILS_SHARE_TARGET,
      dynamodb_write_requests_per_image: Number(perImage.toFixed(4)),
      dynamodb_write_requests_target: WRITE_REQUESTS_TARGET,
    },
  };
}

/** Catalog, then every resize shard with the table, as Batch runs them; the shard results' record requests. */
async function writeRequests(ctx: RecordsContext): Promise<{ requests: number; images: number; shards: number }> {
  const { s3 } = ctx;
  const limit = pLimit(4);
  await Promise.all(
    Array.from({ length: ctx.images }, (_, i) =>
      limit(async () => s3.send(new PutObjectCommand({ Bucket: RECORDS_BUCKET, Key: `records/f${i % 4}/img-${String(i).padStart(4, '0')}.jpg`, Body: await photoJpeg(320, 240, 5000 + i), ContentType: 'image/jpeg' }))),
    ),
  );
  const config = parsePipelineConfig({ ...ctx.baseConfig, buckets: { corpus: RECORDS_BUCKET, renditions: 'renditions', backup: 'backup', work: 'work' } });
  const dynamo = await startEmbeddedDynamo();
  try {
    const runId = `bench-records-${Date.now()}`;
    const tableEnv = { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, [IMAGES_TABLE_ENV]: dynamo.table };
    const plain = { env: { PATH: process.env.PATH }, cwd: ctx.work, log: ctx.log };
    await measure([[ctx.job('catalog', config, runId, { ...tableEnv, NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['resize'] }) })]], plain);
    const plan = await getJson<Plan>(s3, 'work', runKeys(runId).plan);
    const shards = Array.from({ length: plan.shardCount }, (_, i) => i);
    await measure(shards.map((i) => [ctx.job('resize', config, runId, { ...tableEnv, AWS_BATCH_JOB_ARRAY_INDEX: String(i), AWS_BATCH_JOB_ATTEMPT: '1' })]), plain);
    const results = await Promise.all(shards.map((i) => getJson<ShardResult>(s3, 'work', runKeys(runId).result('resize', i))));
    const images = results.reduce((n, r) => n + r.counts.items, 0);
    if (results.some((r) => !r.records) || images !== ctx.images) throw new Error(`records: the resize shards handled ${images} of ${ctx.images} images, with records in ${results.filter((r) => r.records).length} of ${results.length}: see ${ctx.log}`);
    return { requests: results.reduce((n, r) => n + r.records!.requests, 0), images, shards: results.length };
  } finally {
    await dynamo.stop();
  }
}
