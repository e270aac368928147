/**
 * `npm run bench [-- --quick] [--images N] [--rounds N] [--catalog-records N] [--only large|records|api|formats|upload] [--records N] [--seconds S] [--clients C]`:
 * nightshift against real peers, side by side, in one run on this machine.
 *
 * - resize: nightshift's kernel in memory, the resize job end to end through the embedded S3
 *   server on loopback, vipsthumbnail and ImageMagick, all making the same renditions (the
 *   configured presets' widths × formats, quality, auto-oriented, metadata stripped, never
 *   enlarged) from the same generated corpus; interleaved A B C D, A B C D ….
 * - backup: the backup job (its array children at once) against `rclone copy`, both server-side
 *   copies on the same embedded server from the same objects.
 * - catalog: the catalog job's sort + diff of 1,000,000 records against GNU sort of the same lines
 *   with the same memory budget.
 * - large: one resize task at the job's memory over a shard of 8 originals of 50–100 MP
 *   (scripts/bench/large-images.ts): whether it completes, and its peak RSS as a share of the
 *   task's memory (the target is under 80 %). Part of every full run, last, at its 8 images
 *   whatever --quick or --images say; its figures (large_shard_*: completed, peak RSS, the task's
 *   memory, their share) end the JSON line. `--only large` runs this section alone.
 * - records (scripts/bench/records.ts): the image details' share of the resize CPU (target
 *   ≤ 3 %) and the resize job's DynamoDB write requests per image, retries included (target
 *   ≤ 0.05), against the embedded S3 and DynamoDB servers. `--only records` runs it alone.
 * - api (scripts/bench/api-load.ts): the image API under load against `nightshift local serve`:
 *   `--records` records (default 100,000; the table is cached under .nightshift/bench/), then
 *   `--clients` concurrent clients (default 200) for `--seconds` (default 30): requests per second,
 *   p50/p95/p99 latency, errors (must be 0). `--only api` runs it alone.
 * - formats (scripts/bench/formats.ts): each output format's bytes and CPU per image (JPEG, WebP,
 *   AVIF, PNG; lossless WebP on transparent sources), rendered by the kernel with the configured
 *   efforts: what each format costs. `--only formats` runs it alone (`--images`: photographs, default 6).
 * - upload (scripts/bench/upload-lane.ts): the upload lane on this machine: upload-to-record p50/p95
 *   for 12-MP JPEGs, and its CPU per image against the resize job's. `--only upload` runs it alone.
 *
 * Each section runs its rounds until its ratios are steady (scripts/bench/rounds.ts). Prints a
 * table, each ratio (peer time / nightshift time: above 1 means nightshift is faster) as the
 * median of the rounds' own ratios with its spread, the cost model, then one line of JSON with the
 * figures and, under `spread`, each ratio's ±. Peers that are not installed are skipped with a
 * line saying how to install them. Corpora are generated on demand into .nightshift/bench/ (cached
 * across runs, never committed). Loopback only.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DeleteObjectsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { parsePipelineConfig, type PipelineConfig } from '../core/config';
import { FARGATE_PRICES, fargateRates, runCost, S3_REQUEST_PRICES, UPLOAD_LANE_PRICES, uploadLaneCost, usdPerMillionImages } from '../core/cost';
import { TYPICAL_UPLOAD, uploadLaneSizes, uploadsCostPerThousand } from '../core/upload-lane';
import { compareKeys, runKeys } from '../core/keys';
import type { Plan } from '../core/plan';
import type { ShardResult } from '../core/results';
import { createS3Client, getJson, getText, listPages, putText } from '../adapters/s3';
import { parseStackConfig } from '../infra/config';
import { UsageError } from '../core/validation';
import { buildJobBundle, LOCAL_JOB_BUNDLE } from '../jobs/build';
import { startEmbeddedS3 } from '../local/s3-server';
import { apiSection, type ApiSummary } from './bench/api-load';
import { formatsSection } from './bench/formats';
import { largeImages, mostAdmittedAtOnce } from './bench/large-images';
import { RECORDS_BUCKET, recordsSection, type RecordsSummary } from './bench/records';
import { UPLOAD_BENCH_BUCKET, uploadSection } from './bench/upload-lane';
import { measure, type Measured, median } from './bench/measure';
import { anotherRound, type RoundPlan, roundPlan, roundRatios, summariseRatio } from './bench/rounds';
import { photoPixels, prng } from '../local/sample/images';
import { syntheticRecord, tonight } from './lib/synthetic';

const ROOT = join(__dirname, '..');
const BENCH_DIR = join(ROOT, '.nightshift', 'bench');
const TSX = require.resolve('tsx/cli');
const INSTALL_PEERS = 'apt-get install libvips-tools imagemagick rclone';
const USAGE = 'npm run bench -- [--quick] [--images N] [--rounds N] [--catalog-records N] [--only large|records|api|formats|upload] [--records N] [--seconds S] [--clients C]';
const SECTIONS = ['large', 'records', 'api', 'formats', 'upload'] as const;

interface Options {
  readonly quick: boolean;
  readonly images: number;
  readonly rounds: RoundPlan;
  readonly backupObjects: number;
  readonly catalogRecords: number;
  /** Only this section (the others need minutes and their peers). */
  readonly only?: (typeof SECTIONS)[number];
  /** The api section: records in the table, clients at once, seconds of load. */
  readonly api: { readonly records: number; readonly clients: number; readonly seconds: number };
}

function options(): Options {
  let values;
  try {
    ({ values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, images: { type: 'string' }, rounds: { type: 'string' }, 'catalog-records': { type: 'string' }, only: { type: 'string' }, records: { type: 'string' }, seconds: { type: 'string' }, clients: { type: 'string' } } }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} (usage: ${USAGE})`);
  }
  const int = (name: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number of at least 1, received ${JSON.stringify(value)}`);
    return n;
  };
  const quick = values.quick!;
  const only = values.only as Options['only'];
  if (only !== undefined && !SECTIONS.includes(only)) throw new UsageError(`--only must be one of ${SECTIONS.join(', ')} (the sections that run alone), received ${JSON.stringify(values.only)} (usage: ${USAGE})`);
  return {
    ...(only ? { only } : {}),
    api: { records: int('records', values.records, 100_000), clients: int('clients', values.clients, 200), seconds: int('seconds', values.seconds, 30) },
    quick,
    images: int('images', values.images, quick ? 30 : 200),
    rounds: roundPlan(quick, values.rounds === undefined ? undefined : int('rounds', values.rounds, 1)),
    backupObjects: quick ? 2_000 : 10_000,
    catalogRecords: int('catalog-records', values['catalog-records'], 1_000_000),
  };
}

// ---------------------------------------------------------------------------------------------
// Corpus

/** Photographic 12-MP JPEGs (one in five with an EXIF rotation) and one PNG in ten, deterministic. */
async function corpus(count: number): Promise<{ dir: string; files: string[]; bytes: number }> {
  const dir = join(BENCH_DIR, `corpus-v1-${count}`);
  const done = join(dir, '.complete');
  if (!existsSync(done)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    process.stdout.write(`generating ${count} images into ${dir} (once; cached for later runs)…\n`);
    const limit = pLimit(2);
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        limit(async () => {
          const png = i % 10 === 9;
          const [w, h] = png ? [2400, 1600] : [4000, 3000];
          let image = sharp(photoPixels(w, h, 1000 + i), { raw: { width: w, height: h, channels: 3 } });
          if (!png && i % 5 === 2) image = image.withMetadata({ orientation: 6 });
          const data = await (png ? image.png() : image.jpeg({ quality: 90 })).toBuffer();
          writeFileSync(join(dir, `img-${String(i).padStart(4, '0')}.${png ? 'png' : 'jpg'}`), data);
        }),
      ),
    );
    writeFileSync(done, '');
  }
  const files = readdirSync(dir).filter((f) => !f.startsWith('.')).sort();
  return { dir, files, bytes: files.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0) };
}

/** Last night's catalogue (sorted) and tonight's (listing order) as JSON Lines, 1 % new, 1 % changed. */
function catalogues(records: number): { tonight: string; previous: string; bytes: number } {
  const dir = join(BENCH_DIR, `catalog-v1-${records}`);
  const paths = { tonight: join(dir, 'tonight.jsonl'), previous: join(dir, 'previous.jsonl') };
  if (!existsSync(join(dir, '.complete'))) {
    mkdirSync(dir, { recursive: true });
    process.stdout.write(`generating ${records.toLocaleString('en-US')} catalogue records into ${dir}…\n`);
    writeFileSync(paths.tonight, `${Array.from(tonight(records), (r) => JSON.stringify(r)).join('\n')}\n`);
    const previous = Array.from({ length: records }, (_, i) => syntheticRecord(i)).sort((a, b) => compareKeys(a.key, b.key));
    writeFileSync(paths.previous, `${previous.map((r) => JSON.stringify(r)).join('\n')}\n`);
    writeFileSync(join(dir, '.complete'), '');
  }
  return { ...paths, bytes: statSync(paths.tonight).size };
}

// ---------------------------------------------------------------------------------------------
// Peers

function has(command: string, versionArgs: string[], expect: RegExp): string | undefined {
  const out = spawnSync(command, versionArgs, { encoding: 'utf8' });
  const text = `${out.stdout ?? ''}${out.stderr ?? ''}`;
  return out.status === 0 && expect.test(text) ? text.split('\n')[0]!.trim() : undefined;
}

const PEERS = {
  vipsthumbnail: () => has('vipsthumbnail', ['--vips-version'], /vips/i),
  // /usr/bin/convert: a stand-in may shadow ImageMagick's convert earlier on the PATH.
  imagemagick: () => has('/usr/bin/convert', ['-version'], /ImageMagick/),
  rclone: () => has('rclone', ['version'], /rclone/),
  sort: () => has('sort', ['--version'], /GNU coreutils/),
};

const EXT = { jpeg: 'jpg', webp: 'webp', avif: 'avif', png: 'png', gif: 'gif' } as const;

/**
 * The peers' size for a preset: its box, shrink only, the same box nightshift fits the displayed
 * (auto-oriented) image into. A width-only geometry would give a portrait image twice the pixels.
 * Only 'inside' presets (and width-only ones) have a peer equivalent; the bench config has no other.
 */
function peerGeometry(p: PipelineConfig['presets'][number]): string {
  if (p.height !== undefined && p.fit !== 'inside') throw new Error(`bench: preset ${p.name} has fit '${p.fit}', which the peers cannot render alike`);
  return `${p.width}x${p.height ?? ''}>`;
}

/**
 * One shell script per worker: vipsthumbnail once per rendition over the worker's images (it decodes
 * per rendition, with shrink-on-load). JPEG with optimize_coding, as sharp writes it by default
 * (without it, vips's JPEGs were 15-35 % larger at the same quality, by preset).
 */
function vipsScripts(config: PipelineConfig, files: string[][], inDir: string, outDir: string, effort: number): string[] {
  return files.map((mine) =>
    config.presets
      .flatMap((p) =>
        p.formats.map((f) => {
          const save = f === 'webp' ? `[Q=${p.quality},strip,effort=${effort}]` : `[Q=${p.quality},strip,optimize_coding]`;
          return `vipsthumbnail -s '${peerGeometry(p)}' -o '${outDir}/%s_${p.name}.${EXT[f]}${save}' ${mine.map((m) => `'${join(inDir, m)}'`).join(' ')}`;
        }),
      )
      .join(' && \\\n'),
  );
}

/** One shell script per worker: one convert per image, decoding once and cascading through the presets like nightshift. */
function magickScripts(config: PipelineConfig, files: string[][], inDir: string, outDir: string, effort: number): string[] {
  const largest = Math.max(...config.presets.map((p) => p.width));
  return files.map((mine) =>
    mine
      .map((m) => {
        const base = m.replace(/\.[^.]+$/, '');
        const steps = [...config.presets]
          .sort((a, b) => b.width - a.width)
          .map((p) => `-resize '${peerGeometry(p)}' -quality ${p.quality} ${p.formats.map((f) => `-write '${outDir}/${base}_${p.name}.${EXT[f]}'`).join(' ')}`);
        return `/usr/bin/convert -define jpeg:size=${2 * largest}x${2 * largest} '${join(inDir, m)}' -auto-orient -strip -define webp:method=${effort} ${steps.join(' ')} null:`;
      })
      .join(' && \\\n'),
  );
}

function dirBytes(dir: string): { files: number; bytes: number } {
  const names = readdirSync(dir);
  return { files: names.length, bytes: names.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0) };
}

// ---------------------------------------------------------------------------------------------
// S3 helpers

async function emptyBucket(s3: S3Client, bucket: string): Promise<void> {
  for await (const page of listPages(s3, { bucket })) {
    if (page.objects.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: page.objects.map((o) => ({ Key: o.Key! })), Quiet: true } }));
  }
}

/** Each round's ratio of every pair (nightshift's row, the peer's) that both ran. */
function pairRatios(pairs: readonly (readonly [Row | undefined, Row | undefined])[]): number[][] {
  return pairs.filter((p): p is readonly [Row, Row] => p[0] !== undefined && p[1] !== undefined).map(([ours, peer]) => roundRatios(walls(ours), walls(peer)));
}

const walls = (r: Row) => r.samples.map((s) => s.wallMs);
const roundsText = (plan: RoundPlan) => (plan.min === plan.max ? `of ${plan.max}` : `${plan.min} to ${plan.max}, until steady to ±${plan.steady}`);

/**
 * Deletes a run's shard results: a first attempt that finds its shard's result takes it as a
 * redrive's resubmission and exits at once, so every round must start without them.
 */
async function forgetResults(s3: S3Client, runId: string, operation: 'backup' | 'resize'): Promise<void> {
  const prefix = runKeys(runId).resultsPrefix(operation);
  for await (const page of listPages(s3, { bucket: 'work', prefix })) {
    if (page.objects.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: 'work', Delete: { Objects: page.objects.map((o) => ({ Key: o.Key! })), Quiet: true } }));
  }
}

async function bucketBytes(s3: S3Client, bucket: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for await (const page of listPages(s3, { bucket })) for (const o of page.objects) (files++, (bytes += o.Size ?? 0));
  return { files, bytes };
}

// ---------------------------------------------------------------------------------------------
// Large originals

interface LargeShardSummary {
  readonly large_shard_images: number;
  readonly large_shard_completed: boolean;
  readonly large_shard_peak_rss_mb: number;
  /** The task's memory the peak is measured against (compute.resize.memoryMiB, given as NIGHTSHIFT_JOB_MEMORY_MIB). */
  readonly large_shard_task_memory_mib: number;
  /** Peak RSS over the task's memory: the target is under 0.8. */
  readonly large_shard_peak_rss_share: number;
  readonly large_shard_most_images_at_once: number;
}

type JobCommand = (name: 'catalog' | 'resize' | 'backup', cfg: PipelineConfig, runId: string, extra?: Record<string, string>) => string[];

/**
 * One resize task over the 8 large originals with the task's memory as the job definition gives
 * it (NIGHTSHIFT_JOB_MEMORY_MIB: the stack's compute.resize.memoryMiB). The catalog plans at least
 * 2 shards (an array job needs 2 children); both manifests are joined into shard 0's (in key
 * order, as one shard's is), so that one task holds all 8.
 */
async function largeShard(ctx: { s3: S3Client; baseConfig: object; task: { vcpu: number; memoryMiB: number }; job: JobCommand; work: string; log: string }): Promise<{ line: string; summary: LargeShardSummary }> {
  const { s3, task, job, work } = ctx;
  const images = await largeImages(join(BENCH_DIR, 'large-v2'));
  // Multipart, in parts the embedded server accepts (fauxqs takes request bodies up to 11 MiB).
  for (const f of images.files) await new Upload({ client: s3, params: { Bucket: 'large', Key: `large/${f.name}`, Body: createReadStream(join(images.dir, f.name)) }, partSize: 8 * 2 ** 20, queueSize: 2 }).done();
  const config = parsePipelineConfig({ ...ctx.baseConfig, buckets: { corpus: 'large', renditions: 'renditions', backup: 'backup', work: 'work' } });
  const runId = 'bench-large';
  const keys = runKeys(runId);
  await forgetResults(s3, runId, 'resize');
  await emptyBucket(s3, 'renditions');
  const plain = { env: { PATH: process.env.PATH }, cwd: work, log: ctx.log };
  await measure([[job('catalog', config, runId, { NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['resize'] }) })]], plain);
  const plan = await getJson<Plan>(s3, 'work', keys.plan);
  const manifests = await Promise.all(Array.from({ length: plan.shardCount }, (_, i) => getText(s3, 'work', keys.shard(i))));
  await putText(s3, 'work', keys.shard(0), manifests.join(''), 'application/x-ndjson');

  const jobLog = join(work, 'large.log');
  process.stdout.write(`large: ${images.files.length} originals of ${images.files.map((f) => f.mp.toFixed(0)).join(', ')} MP (${fmt(images.files.reduce((n, f) => n + f.bytes, 0) / 2 ** 20, 0)} MiB) in one ${task.vcpu}-vCPU / ${task.memoryMiB} MiB resize task…\n`);
  const m = await measure([[job('resize', config, runId, { AWS_BATCH_JOB_ARRAY_INDEX: '0', AWS_BATCH_JOB_ATTEMPT: '1', NIGHTSHIFT_JOB_MEMORY_MIB: String(task.memoryMiB), NIGHTSHIFT_LOG_LEVEL: 'debug' })]], { ...plain, log: jobLog });
  const result = await getJson<ShardResult>(s3, 'work', keys.result('resize', 0));
  const completed = result.counts.processed === images.files.length;
  const share = m.maxRssMb / task.memoryMiB;
  const most = mostAdmittedAtOnce(readFileSync(jobLog, 'utf8'));
  const line =
    `large: ${completed ? 'completed' : `did NOT complete (${result.counts.processed} of ${images.files.length} processed: ${[...result.failures, ...result.skipped].map((f) => `${f.key} ${f.code} ${f.message ?? ''}`).join('; ')})`} in ${fmt(m.wallMs / 1000, 1)} s, ` +
    `peak RSS ${fmt(m.maxRssMb, 0)} MB = ${fmt(share * 100, 0)} % of the task's ${task.memoryMiB} MiB (target under 80 %)${share < 0.8 ? '' : ': OVER TARGET'}; at most ${most} image(s) admitted at once (resize.concurrency ${config.resize.concurrency})`;
  return {
    line,
    summary: { large_shard_images: images.files.length, large_shard_completed: completed, large_shard_peak_rss_mb: Math.round(m.maxRssMb), large_shard_task_memory_mib: task.memoryMiB, large_shard_peak_rss_share: Number(share.toFixed(3)), large_shard_most_images_at_once: most },
  };
}

// ---------------------------------------------------------------------------------------------

interface Sample extends Measured {
  readonly outputs?: number;
  readonly outputBytes?: number;
  /** S3 requests the contender sent, counted by the embedded server (local/s3-layer.ts requestKind). */
  readonly requests?: Record<string, number>;
}

/** Requests between two snapshots of the embedded server's counts, by kind. */
function requestsBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([kind, n]) => [kind, n - (before[kind] ?? 0)]).filter(([, n]) => (n as number) > 0));
}
const requestTotal = (r: Record<string, number> | undefined) => Object.values(r ?? {}).reduce((a, b) => a + b, 0);

interface Row {
  readonly name: string;
  readonly what: string;
  readonly samples: Sample[];
}

const fmt = (n: number, digits = 2) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<void> {
  const opts = options();
  const benchStarted = Date.now();
  mkdirSync(BENCH_DIR, { recursive: true });
  const work = join(BENCH_DIR, `run-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const log = join(work, 'bench.log');

  const stack = parseStackConfig((JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: { nightshift: unknown } }).context.nightshift);
  const task = stack.compute.resize;
  const cores = cpus().length;
  process.stdout.write(
    `nightshift bench${opts.quick ? ' --quick' : ''}: ${cores} × ${cpus()[0]?.model.trim()}, ${fmt(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips})\n`,
  );

  const server = await startEmbeddedS3({ buckets: ['corpus', 'renditions', 'work', 'backup-src', 'backup', 'rclone-dest', 'large', RECORDS_BUCKET, UPLOAD_BENCH_BUCKET] });
  const s3 = createS3Client({ endpoint: server.endpoint, maxAttempts: 3 }, {});
  const baseConfig = { presets: stack.presets, filter: stack.filter, resize: stack.resize, backup: stack.backup, shards: { targetObjects: 1_000_000, targetBytes: 2 ** 50 } };
  const config = parsePipelineConfig({ ...baseConfig, buckets: { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' } });
  const backupConfig = parsePipelineConfig({ ...baseConfig, buckets: { corpus: 'backup-src', renditions: 'renditions', backup: 'backup', work: 'work' } });
  await buildJobBundle(LOCAL_JOB_BUNDLE);
  const env = (cfg: PipelineConfig, runId: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NIGHTSHIFT_CONFIG: JSON.stringify(cfg),
    NIGHTSHIFT_RUN_ID: runId,
    NIGHTSHIFT_TMPDIR: work,
    NIGHTSHIFT_METRICS: 'off',
    NIGHTSHIFT_LOG_LEVEL: 'warn',
    // As in the job image (jobs/Dockerfile); the full run also measures glibc's default.
    MALLOC_ARENA_MAX: '2',
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_REGION: server.region,
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    // As in the job image (jobs/Dockerfile), whose start-up this counts. NIGHTSHIFT_BENCH_PROFILE=<dir>:
    // a V8 CPU profile of every job process too, to see where time goes.
    NODE_OPTIONS: ['--enable-source-maps', ...(process.env.NIGHTSHIFT_BENCH_PROFILE ? [`--cpu-prof --cpu-prof-dir=${process.env.NIGHTSHIFT_BENCH_PROFILE}`] : [])].join(' '),
    ...extra,
  });
  /**
   * A job process with the environment Batch would give it. The measuring wrapper gives every
   * command of a group one environment, so each job's own goes on its command line (env -i).
   */
  const job = (name: 'catalog' | 'resize' | 'backup', cfg: PipelineConfig, runId: string, extra: Record<string, string> = {}, glibcArenas = false): string[] => {
    const vars = Object.entries(env(cfg, runId, extra)).filter(([k, v]) => v !== undefined && !(glibcArenas && k === 'MALLOC_ARENA_MAX'));
    return ['env', '-i', ...vars.map(([k, v]) => `${k}=${v}`), process.execPath, LOCAL_JOB_BUNDLE, name];
  };
  const shard = (index: number) => ({ AWS_BATCH_JOB_ARRAY_INDEX: String(index), AWS_BATCH_JOB_ATTEMPT: '1' });
  const plain = { env: { PATH: process.env.PATH }, cwd: work, log };

  try {
    const large = async () => {
      const r = await largeShard({ s3, baseConfig, task, job, work, log });
      process.stdout.write(`${r.line}\n`);
      return r;
    };
    const records = async () => {
      const r = await recordsSection({ s3, baseConfig, job, work, log, images: opts.quick ? 60 : 200, cpuImages: opts.quick ? 3 : 6 });
      process.stdout.write(`${r.lines.join('\n')}\n`);
      return r;
    };
    const api = async () => {
      const r = await apiSection({ root: ROOT, benchDir: BENCH_DIR, ...opts.api });
      process.stdout.write(`${r.lines.join('\n')}\n`);
      return r;
    };
    const formats = async () => {
      const r = await formatsSection(opts.quick ? 2 : Math.min(opts.images, 6));
      process.stdout.write(`${r.lines.join('\n')}\n`);
      return r;
    };
    const uploadLane = async () => {
      const r = await uploadSection({ s3, baseConfig, job, work, log, images: opts.quick ? 4 : 8 });
      process.stdout.write(`${r.lines.join('\n')}\n`);
      return r;
    };
    if (opts.only) {
      const r = await { large, records, api, formats, upload: uploadLane }[opts.only]();
      process.stdout.write(`${JSON.stringify(r.summary)}\n`);
      rmSync(work, { recursive: true, force: true });
      return;
    }
    const images = await corpus(opts.images);
    process.stdout.write(`corpus: ${images.files.length} images (${images.files.filter((f) => f.endsWith('.jpg')).length} JPEG 4000×3000, ${images.files.filter((f) => f.endsWith('.png')).length} PNG 2400×1600), ${fmt(images.bytes / 2 ** 20, 1)} MiB\n`);
    const peers = Object.fromEntries(Object.entries(PEERS).map(([name, probe]) => [name, probe()])) as Record<keyof typeof PEERS, string | undefined>;
    for (const [name, version] of Object.entries(peers)) {
      process.stdout.write(version ? `peer ${name}: ${version}\n` : `peer ${name}: not installed, skipped (install: ${name === 'sort' ? 'apt-get install coreutils' : INSTALL_PEERS})\n`);
    }

    // Resize: the corpus in S3, planned once by the real catalog job.
    const upload = pLimit(8);
    await Promise.all(images.files.map((f) => upload(() => s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: `photos/${f}`, Body: readFileSync(join(images.dir, f)), ContentType: f.endsWith('.png') ? 'image/png' : 'image/jpeg' })))));
    await measure([[job('catalog', config, 'bench-resize', { NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['resize'] }) })]], plain);

    const half = Math.ceil(images.files.length / cores);
    const perWorker = Array.from({ length: cores }, (_, i) => images.files.slice(i * half, (i + 1) * half)).filter((w) => w.length > 0);
    const outDir = join(work, 'out');
    const rows: Row[] = [];
    const row = (name: string, what: string) => {
      const r: Row = { name, what, samples: [] };
      rows.push(r);
      return r;
    };
    const resizeRows = {
      inmemory: row('resize_inmemory', `render() on buffers, p-limit ${config.resize.concurrency}, 1 process`),
      job: row('resize_job', 'resize job (2 shards in turn) via loopback S3'),
      // glibc's default arenas (8 × cores), against the image's MALLOC_ARENA_MAX=2: peak RSS is the point.
      defaultMalloc: opts.quick ? undefined : row('resize_job_glibc_arenas', 'as resize_job, without MALLOC_ARENA_MAX=2'),
      vips: peers.vipsthumbnail ? row('vipsthumbnail', `${cores} processes, 1 per rendition set`) : undefined,
      magick: peers.imagemagick ? row('imagemagick', `${cores} processes, 1 thread each`) : undefined,
    };

    const resizePairs = [[resizeRows.job, resizeRows.inmemory], [resizeRows.job, resizeRows.vips], [resizeRows.job, resizeRows.magick]] as const;
    for (let round = 1; anotherRound(opts.rounds, round - 1, pairRatios(resizePairs)); round++) {
      process.stdout.write(`resize round ${round} (${roundsText(opts.rounds)})…\n`);
      {
        const result = join(work, 'inmemory.json');
        const m = await measure([[[process.execPath, TSX, join(ROOT, 'scripts/bench/inmemory-worker.ts'), images.dir, result]]], { env: env(config, 'bench'), cwd: work, log });
        const r = JSON.parse(readFileSync(result, 'utf8')) as { ms: number; cpuMs: number; outputs: number; outputBytes: number };
        resizeRows.inmemory.samples.push({ wallMs: r.ms, cpuMs: r.cpuMs, maxRssMb: m.maxRssMb, outputs: r.outputs, outputBytes: r.outputBytes });
      }
      for (const [target, glibcArenas] of [
        [resizeRows.job, false],
        [resizeRows.defaultMalloc, true],
      ] as const) {
        if (!target) continue;
        await emptyBucket(s3, 'renditions');
        await forgetResults(s3, 'bench-resize', 'resize');
        const m = await measure([[job('resize', config, 'bench-resize', shard(0), glibcArenas)], [job('resize', config, 'bench-resize', shard(1), glibcArenas)]], plain);
        const out = await bucketBytes(s3, 'renditions');
        if (out.files === 0) throw new Error(`${target.name} round ${round} wrote no renditions: see ${log}`);
        target.samples.push({ ...m, outputs: out.files, outputBytes: out.bytes });
      }
      for (const [peer, scripts] of [
        [resizeRows.vips, vipsScripts(config, perWorker, images.dir, outDir, config.resize.webpEffort)],
        [resizeRows.magick, magickScripts(config, perWorker, images.dir, outDir, config.resize.webpEffort)],
      ] as const) {
        if (!peer) continue;
        rmSync(outDir, { recursive: true, force: true });
        mkdirSync(outDir);
        const paths = scripts.map((s, i) => {
          const p = join(work, `${peer.name}-${i}.sh`);
          writeFileSync(p, `set -e\n${s}\n`);
          return p;
        });
        const m = await measure([paths.map((p) => ['sh', p])], { env: { PATH: process.env.PATH, MAGICK_THREAD_LIMIT: '1', OMP_NUM_THREADS: '1' }, cwd: work, log });
        const out = dirBytes(outDir);
        peer.samples.push({ ...m, outputs: out.files, outputBytes: out.bytes });
      }
    }

    // Backup: many small objects and the images, copied server-side.
    process.stdout.write(`backup: ${opts.backupObjects.toLocaleString('en-US')} small objects + ${images.files.length} images…\n`);
    const random = prng(42);
    await Promise.all(
      Array.from({ length: opts.backupObjects }, (_, i) =>
        upload(() => {
          const body = Buffer.alloc(4096 + Math.floor(random() * 60_000), i % 251);
          return s3.send(new PutObjectCommand({ Bucket: 'backup-src', Key: `archive/${String(i % 50).padStart(2, '0')}/doc-${i}.jpg`, Body: body }));
        }),
      ),
    );
    await Promise.all(images.files.map((f) => upload(() => s3.send(new PutObjectCommand({ Bucket: 'backup-src', Key: `photos/${f}`, Body: readFileSync(join(images.dir, f)) })))));
    await measure([[job('catalog', backupConfig, 'bench-backup', { NIGHTSHIFT_INPUT: JSON.stringify({ operations: ['backup'] }) })]], plain);
    const backupRows = {
      job: row('backup_job', `backup job, 2 array children at once, ${config.backup.concurrency} copies in flight each`),
      rclone: peers.rclone ? row('rclone', `rclone copy (server-side), --transfers ${2 * config.backup.concurrency}`) : undefined,
    };
    const rcloneConf = join(work, 'rclone.conf');
    writeFileSync(rcloneConf, `[bench]\ntype = s3\nprovider = Other\nendpoint = ${server.endpoint}\naccess_key_id = bench\nsecret_access_key = bench\nregion = ${server.region}\nforce_path_style = true\n`);
    for (let round = 1; anotherRound(opts.rounds, round - 1, pairRatios([[backupRows.job, backupRows.rclone]])); round++) {
      await emptyBucket(s3, 'backup');
      await forgetResults(s3, 'bench-backup', 'backup');
      const before = server.requests();
      const m = await measure([[job('backup', backupConfig, 'bench-backup', shard(0)), job('backup', backupConfig, 'bench-backup', shard(1))]], plain);
      const requests = requestsBetween(before, server.requests());
      const out = await bucketBytes(s3, 'backup');
      if (out.files === 0) throw new Error(`backup_job round ${round} copied nothing: see ${log}`);
      backupRows.job.samples.push({ ...m, outputs: out.files, outputBytes: out.bytes, requests });
      if (backupRows.rclone) {
        await emptyBucket(s3, 'rclone-dest');
        const transfers = String(2 * config.backup.concurrency);
        const rcloneBefore = server.requests();
        const r = await measure([[['rclone', '--config', rcloneConf, 'copy', 'bench:backup-src', 'bench:rclone-dest', '--transfers', transfers, '--checkers', transfers, '--s3-no-check-bucket', '--s3-storage-class', config.backup.storageClass]]], { env: { PATH: process.env.PATH, HOME: work }, cwd: work, log });
        const rcloneRequests = requestsBetween(rcloneBefore, server.requests());
        const rout = await bucketBytes(s3, 'rclone-dest');
        backupRows.rclone.samples.push({ ...r, outputs: rout.files, outputBytes: rout.bytes, requests: rcloneRequests });
      }
    }

    // Catalog: sort + diff of 1,000,000 records against GNU sort of the same lines, same memory budget.
    const sortMb = 128;
    const cat = catalogues(opts.catalogRecords);
    process.stdout.write(`catalog: ${opts.catalogRecords.toLocaleString('en-US')} records, ${fmt(cat.bytes / 2 ** 20, 0)} MiB of JSON Lines, ${sortMb} MiB sort memory…\n`);
    const catalogRows = {
      job: row('catalog', `catalog job's line sort + diff, ${sortMb} MiB budget`),
      sort: peers.sort ? row('gnu_sort', `LC_ALL=C sort -S ${sortMb}M (sort only)`) : undefined,
    };
    for (let round = 1; anotherRound(opts.rounds, round - 1, pairRatios([[catalogRows.job, catalogRows.sort]])); round++) {
      const result = join(work, 'catalog.json');
      const m = await measure([[[process.execPath, TSX, join(ROOT, 'scripts/bench/catalog-worker.ts'), cat.tonight, cat.previous, String(sortMb), work, result]]], plain);
      const r = JSON.parse(readFileSync(result, 'utf8')) as { ms: number; records: number };
      catalogRows.job.samples.push({ ...m, wallMs: r.ms, outputs: r.records });
      if (catalogRows.sort) {
        const sorted = join(work, 'sorted.jsonl');
        const s = await measure([[['sort', '-S', `${sortMb}M`, '-T', work, '-o', sorted, cat.tonight]]], { env: { PATH: process.env.PATH, LC_ALL: 'C' }, cwd: work, log });
        catalogRows.sort.samples.push({ ...s, outputs: opts.catalogRecords });
        rmSync(sorted, { force: true });
      }
    }

    const recordsResult = await records();
    const apiResult = await api();
    const largeResult = await large();
    await formats();
    report(rows, {
      resize: [resizeRows.inmemory, resizeRows.job, resizeRows.vips, resizeRows.magick],
      backup: [backupRows.job, backupRows.rclone],
      catalog: [catalogRows.job, catalogRows.sort],
      images: images.files.length,
      task,
      config,
      rounds: opts.rounds,
      minutes: (Date.now() - benchStarted) / 60_000,
      large: largeResult.summary,
      records: recordsResult.summary,
      api: apiResult.summary,
    });
    rmSync(work, { recursive: true, force: true });
  } finally {
    s3.destroy();
    await server.stop();
  }
}

function report(
  rows: Row[],
  parts: { resize: (Row | undefined)[]; backup: (Row | undefined)[]; catalog: (Row | undefined)[]; images: number; task: { vcpu: number; memoryMiB: number }; config: PipelineConfig; rounds: RoundPlan; minutes: number; large: LargeShardSummary; records: RecordsSummary; api: ApiSummary },
): void {
  const med = (r: Row | undefined, f: (s: Sample) => number) => (r && r.samples.length > 0 ? median(r.samples.map(f)) : undefined);
  const lines = [
    ['contender', 'what', 'median s', 'runs (s)', 'CPU s', 'peak RSS MB', 'outputs', 'output MB'],
    ...rows.map((r) => [
      r.name,
      r.what,
      fmt(med(r, (s) => s.wallMs)! / 1000),
      r.samples.map((s) => fmt(s.wallMs / 1000)).join(' '),
      fmt(med(r, (s) => s.cpuMs)! / 1000),
      fmt(med(r, (s) => s.maxRssMb)!, 0),
      String(r.samples.at(-1)?.outputs ?? ''),
      r.samples.at(-1)?.outputBytes === undefined ? '' : fmt(r.samples.at(-1)!.outputBytes! / 2 ** 20, 1),
    ]),
  ];
  const widths = lines[0]!.map((_, c) => Math.max(...lines.map((l) => l[c]!.length)));
  process.stdout.write(`\n${lines.map((l) => l.map((cell, c) => (c >= 2 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ')).join('\n')}\n\n`);

  const [inmemory, job, vips, magick] = parts.resize;
  const [backupJob, rclone] = parts.backup;
  const [catalog, gnuSort] = parts.catalog;
  const time = (r: Row | undefined) => med(r, (s) => s.wallMs);
  const bytes = (r: Row | undefined) => med(r, (s) => s.outputBytes ?? 0);
  const spreads: Record<string, number> = {};
  const ratioLines: string[] = [];
  /**
   * peer time / nightshift time, the median of the rounds' own ratios (scripts/bench/rounds.ts),
   * its spread kept for the JSON line; only where the outputs are comparable (nightshift's bytes
   * within 10 % of the peer's).
   */
  const ratio = (name: string, ours: Row | undefined, peer: Row | undefined, compareBytes = true): number | null => {
    if (!ours?.samples.length || !peer?.samples.length) return null;
    if (compareBytes) {
      const ob = bytes(ours)!;
      const pb = bytes(peer)!;
      if (Math.abs(ob - pb) > 0.1 * pb) {
        process.stdout.write(`note: ${ours!.name} wrote ${fmt(ob / 2 ** 20, 1)} MB and ${peer!.name} ${fmt(pb / 2 ** 20, 1)} MB (more than 10 % apart): no ratio\n`);
        return null;
      }
    }
    const rounds = roundRatios(walls(ours), walls(peer));
    const { ratio: value, spread } = summariseRatio(rounds)!;
    spreads[name] = spread;
    ratioLines.push(`${name.padEnd(30)} ${value.toFixed(3)}  ±${spread.toFixed(3)}  rounds: ${rounds.map((r) => r.toFixed(3)).join(' ')}${spread > parts.rounds.steady ? `  (not steady to ±${parts.rounds.steady} after ${rounds.length} rounds)` : ''}`);
    return value;
  };
  /** The median over rounds of a figure divided by the objects the round wrote. */
  const perObject = (r: Row | undefined, f: (s: Sample) => number, digits: number): number | null => {
    const v = med(r, (s) => (s.outputs ? f(s) / s.outputs : NaN));
    return v === undefined || Number.isNaN(v) ? null : Number(v.toFixed(digits));
  };
  for (const r of [backupJob, rclone]) {
    const last = r?.samples.at(-1);
    if (last?.requests) process.stdout.write(`${r!.name} S3 requests (last round, ${last.outputs} objects copied): ${Object.entries(last.requests).map(([k, v]) => `${v.toLocaleString('en-US')} ${k}`).join(', ')}\n`);
  }
  const jobSeconds = time(job)! / 1000;
  const imagesPerSecond = parts.images / jobSeconds;
  const summary = {
    resize_job_vs_inmemory: ratio('resize_job_vs_inmemory', job, inmemory),
    resize_job_vs_vipsthumbnail: ratio('resize_job_vs_vipsthumbnail', job, vips),
    resize_job_vs_imagemagick: ratio('resize_job_vs_imagemagick', job, magick),
    backup_job_vs_rclone: ratio('backup_job_vs_rclone', backupJob, rclone),
    // The backup job's own CPU (both children, user + system, everything included) and the S3
    // requests it sends, per object it copies (each round starts from an empty backup bucket).
    backup_cpu_ms_per_object: perObject(backupJob, (s) => s.cpuMs, 3),
    backup_requests_per_object: perObject(backupJob, (s) => requestTotal(s.requests), 3),
    rclone_requests_per_object: perObject(rclone, (s) => requestTotal(s.requests), 3),
    catalog_vs_gnu_sort: ratio('catalog_vs_gnu_sort', catalog, gnuSort, false),
    catalog_peak_rss_mb: Math.round(med(catalog, (s) => s.maxRssMb)!),
    images_per_s: Number(imagesPerSecond.toFixed(3)),
    cpu_s_per_image: Number((med(job, (s) => s.cpuMs)! / 1000 / parts.images).toFixed(3)),
    resize_job_peak_rss_mb: Math.round(med(job, (s) => s.maxRssMb)!),
    usd_per_million_images: Number(usdPerMillionImages(imagesPerSecond, parts.task).toFixed(2)),
    usd_per_million_images_total: 0,
    ...parts.records,
    ...parts.api,
    ...parts.large,
    spread: spreads,
  };
  process.stdout.write(`ratios (median of the rounds' own; ± half their range):\n${ratioLines.join('\n')}\n`);
  // What an operator pays for a million new images on a night: the resize compute measured above,
  // plus every S3 request the jobs send for them (listing, GET, a PUT per rendition, COPY for the
  // backup, HEADs on sparse work) at the prices in core/cost.ts, as the plan's estimate counts them.
  const renditionsPerImage = parts.config.presets.reduce((n, p) => n + p.formats.length, 0);
  const total = runCost({
    listed: 1_000_000,
    backups: 1_000_000,
    images: 1_000_000,
    renditionsPerImage,
    dense: false,
    taskSeconds: { resize: 1_000_000 / imagesPerSecond },
    compute: { architecture: 'x86_64', spot: true, backup: parts.task, resize: parts.task },
    backupStorageClass: parts.config.backup.storageClass,
  });
  summary.usd_per_million_images_total = Number(total.totalUsd.toFixed(2));
  process.stdout.write(
    `cost model: a ${parts.task.vcpu}-vCPU / ${parts.task.memoryMiB} MiB resize task at ${fmt(imagesPerSecond)} images/s on Fargate Spot x86_64 (${FARGATE_PRICES.region}, $${FARGATE_PRICES.x86_64.spot.vcpuHourUsd}/vCPU-h, $${FARGATE_PRICES.x86_64.spot.gbHourUsd}/GB-h, read ${FARGATE_PRICES.readOn}; ARM64's rates: ${Math.round((1 - usdPerMillionImages(imagesPerSecond, parts.task, fargateRates('arm64')) / summary.usd_per_million_images) * 100)} % less for the same task-hours, its speed not measured here) = $${summary.usd_per_million_images} per million images\n`,
  );
  process.stdout.write(
    `with S3 requests: ${Object.entries(total.requests).map(([k, v]) => `${v.toLocaleString('en-US')} ${k.toUpperCase()}`).join(', ')} for 1 M new images (${renditionsPerImage} renditions each, backups in ${parts.config.backup.storageClass}) = $${fmt(total.requestsUsd, 2)} of requests (S3 prices read ${S3_REQUEST_PRICES.readOn}, ${S3_REQUEST_PRICES.region}); $${summary.usd_per_million_images_total} per million images in all (the backup's compute not counted)\n`,
  );
  // The upload lane (issue 29) at its default size: the model's render time, and this run's measured CPU per image on one vCPU.
  const lane = uploadLaneSizes(parts.config.onUpload);
  const modelled = uploadsCostPerThousand(parts.config.onUpload, 'x86_64');
  const measured = uploadLaneCost({ architecture: 'x86_64', memoryMiB: lane.memoryMiB, maxReceiveCount: lane.maxReceiveCount, secondsPerImage: summary.cpu_s_per_image + lane.secondsPerImage(0, TYPICAL_UPLOAD.bytes) });
  process.stdout.write(
    `upload lane: $${fmt(modelled.totalUsd, 3)} per thousand uploads (${modelled.basis}); at this run's ${summary.cpu_s_per_image} CPU-s an image: $${fmt(measured.totalUsd, 3)} (Lambda and SQS prices read ${UPLOAD_LANE_PRICES.readOn})\n`,
  );
  process.stdout.write(`bench took ${fmt(parts.minutes, 1)} min\n`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`bench: ${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
