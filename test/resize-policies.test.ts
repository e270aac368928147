/**
 * The rendering policies through the resize job (issue 30): the job runs as a process through its
 * real entry point against the embedded S3 server and DynamoDB server, and passes each original's
 * user metadata to the renderer, so that an uploader's focal point (`x-amz-meta-focal-point`) frames
 * its cover crops. GetObject returns user metadata as `x-amz-meta-*` headers (Amazon S3 API
 * Reference, GetObject, "Response Syntax"; Amazon S3 User Guide, "Working with object metadata":
 * user-defined metadata). The record says which position each crop used and why a policy was not
 * applied; the renditions carry the policies in their recipe.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { parsePipelineConfig, type PipelineConfigInput } from '../core/config';
import { renditionKey, runKeys, STATE_CATALOG_KEY } from '../core/keys';
import type { Plan } from '../core/plan';
import { renditionRecipe } from '../core/recipe';
import { imageRecordSchema, type ImageRecord } from '../core/records/record';
import { buildReport } from '../core/report';
import { renderReportHtml } from '../core/report-html';
import type { ShardResult } from '../core/results';
import type { ImageRecordStore } from '../adapters/dynamodb';
import { getJson } from '../adapters/s3';
import { animatedGif } from '../local/sample/images';
import { runJob, type TestS3 } from './support/processes';
import { type RecordServers, startRecordServers } from './support/record-servers';

const buckets = { corpus: 'pol-corpus', renditions: 'pol-renditions', backup: 'pol-backup', work: 'pol-work' };
const configInput: PipelineConfigInput = {
  buckets,
  presets: [
    { name: 'square', width: 150, height: 150, fit: 'cover', formats: ['jpeg'] },
    { name: 'small', width: 200, height: 200, formats: ['webp'] },
  ],
  resize: { webpEffort: 0, maxAnimatedPixels: 64 * 48 * 4 },
};
const config = parsePipelineConfig(configInput);

let s3server: TestS3;
let s3: S3Client;
let servers: RecordServers;
let store: ImageRecordStore<ImageRecord>;
let tmp: string;
let plan: Plan;

/** A flat grey 600×300 JPEG with a red disc centred at (cx, 150). */
async function disc(cx: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="600" height="300"><rect width="600" height="300" fill="#8a8a8a"/><circle cx="${cx}" cy="150" r="60" fill="#e01010"/></svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 95 }).toBuffer();
}

async function redShare(key: string): Promise<number> {
  const got = await s3.send(new GetObjectCommand({ Bucket: buckets.renditions, Key: key }));
  const { data, info } = await sharp(Buffer.from(await got.Body!.transformToByteArray())).raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let i = 0; i < data.length; i += info.channels) if (data[i]! > 180 && data[i + 1]! < 90) n++;
  return n / (info.width * info.height);
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-policies-'));
  servers = await startRecordServers(Object.values(buckets));
  ({ s3server, store } = servers);
  s3 = s3server.s3;
  const put = (Key: string, Body: Buffer, Metadata?: Record<string, string>) => s3.send(new PutObjectCommand({ Bucket: buckets.corpus, Key, Body, ...(Metadata ? { Metadata } : {}) }));
  // The disc sits left: attention finds it; the uploader's focal point says the right side.
  await put('pol/plain.jpg', await disc(90));
  await put('pol/focal.jpg', await disc(90), { 'focal-point': '0.85,0.5' });
  await put('pol/bad-focal.jpg', await disc(90), { 'focal-point': 'left' });
  await put('pol/anim.gif', await animatedGif(64, 48, 5)); // 5 frames: over the 4-frame budget
  const env = (extra: Record<string, string> = {}) => ({
    ...servers.jobEnv,
    NIGHTSHIFT_RUN_ID: 'pol-1',
    NIGHTSHIFT_CONFIG: JSON.stringify(configInput),
    NIGHTSHIFT_TMPDIR: tmp,
    ...extra,
  });
  expect(await runJob('catalog', env({ NIGHTSHIFT_INPUT: '{}' }))).toMatchObject({ code: 0, stderr: '' });
  plan = await getJson<Plan>(s3, buckets.work, runKeys('pol-1').plan);
  for (const op of plan.shardOperations) {
    for (let shard = 0; shard < plan.shardCount; shard++) {
      const run = await runJob(op, env({ AWS_BATCH_JOB_ARRAY_INDEX: String(shard), AWS_BATCH_JOB_ATTEMPT: '1' }));
      expect({ op, shard, code: run.code, stderr: run.stderr }).toEqual({ op, shard, code: 0, stderr: '' });
    }
  }
  await s3.send(new CopyObjectCommand({ Bucket: buckets.work, Key: STATE_CATALOG_KEY, CopySource: `${buckets.work}/${runKeys('pol-1').catalog}` }));
}, 300_000);

afterAll(async () => {
  await servers?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the resize job applies the policies', () => {
  it("frames a cover crop by the original's focal point from its user metadata, and records which position each crop used", async () => {
    const records = Object.fromEntries(await Promise.all(['pol/plain.jpg', 'pol/focal.jpg', 'pol/bad-focal.jpg'].map(async (k) => [k, (await store.getRecord(k))!] as const)));
    for (const r of Object.values(records)) expect(imageRecordSchema.safeParse(r).error?.issues).toBeUndefined();
    expect(records['pol/plain.jpg']!.rendering).toEqual({ colour: 'srgb', framing: { square: 'attention' } });
    expect(records['pol/focal.jpg']!.rendering).toEqual({ colour: 'srgb', framing: { square: 'focal-point 0.85,0.5' } });
    expect(records['pol/bad-focal.jpg']!.rendering).toMatchObject({ framing: { square: 'attention' }, notes: [{ code: 'focal-point-invalid', message: expect.stringContaining('"left" is not "x,y"') }] });
    expect(await redShare(renditionKey('square', 'pol/plain.jpg', 'jpeg'))).toBeGreaterThan(0.1);
    expect(await redShare(renditionKey('square', 'pol/focal.jpg', 'jpeg'))).toBe(0);
    expect(await redShare(renditionKey('square', 'pol/bad-focal.jpg', 'jpeg'))).toBeGreaterThan(0.1);
  });

  it('renders an animation over resize.maxAnimatedPixels as its first frame, and its record says why', async () => {
    const r = (await store.getRecord('pol/anim.gif'))!;
    expect(r).toMatchObject({ status: 'rendered', animated: true, pages: 5, rendering: { motion: 'first-frame', notes: [{ code: 'animation-over-budget', message: expect.stringContaining('5 frames of 64×48') }] } });
    const got = await s3.send(new GetObjectCommand({ Bucket: buckets.renditions, Key: renditionKey('small', 'pol/anim.gif', 'webp') }));
    expect((await sharp(Buffer.from(await got.Body!.transformToByteArray())).metadata()).pages ?? 1).toBe(1);
  });

  it('the shard results and the report count the images a policy could not serve, by reason, naming them', async () => {
    const results: ShardResult[] = [];
    for (let shard = 0; shard < plan.shardCount; shard++) results.push(await getJson<ShardResult>(s3, buckets.work, runKeys('pol-1').result('resize', shard)));
    expect(results.flatMap((r) => r.noted ?? []).sort((a, b) => a.code.localeCompare(b.code))).toEqual([
      { key: 'pol/anim.gif', code: 'animation-over-budget', message: expect.stringContaining('resize.maxAnimatedPixels') },
      { key: 'pol/bad-focal.jpg', code: 'focal-point-invalid', message: expect.stringContaining('x-amz-meta-focal-point') },
    ]);
    const report = buildReport(plan, results, { trigger: 'schedule', startedAt: '2026-12-04T02:00:00.000Z', finishedAt: '2026-12-04T02:05:00.000Z', catalogPromoted: true });
    expect(report.operations.resize!.notedByCode).toEqual({ 'animation-over-budget': 1, 'focal-point-invalid': 1 });
    expect(renderReportHtml(report)).toContain('<code>animation-over-budget</code> 1 · <code>focal-point-invalid</code> 1');
  });

  it('writes each rendition with its recipe, policies included', async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket: buckets.renditions, Key: renditionKey('small', 'pol/anim.gif', 'webp') }));
    expect(head.Metadata!.recipe).toBe(renditionRecipe(config.presets[1]!, 'webp', config.resize));
    expect(head.Metadata!.recipe).toBe('v1 w200 h200 inside q80 webp e0 colour:auto meta:rights anim:animate/12288');
  });
});
