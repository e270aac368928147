/**
 * The stack's configuration: one validated object, read from the `nightshift` key of cdk.json's
 * context and overridable per key on the command line:
 *
 *   npm run deploy -- -c nightshift.notificationEmails='["ops@example.com"]' -c nightshift.schedule.cron='cron(30 1 * * ? *)'
 *
 * Every key but `notificationEmails` has a default (README, "Configuration"). An invalid value
 * stops `cdk synth` with a message naming the key, the value and the fix.
 */
import { z } from 'zod';
import { apiConfigSchema, deliveryConfigSchema, EXECUTION_TIMEOUT_HOURS, filterSchema, JOB_DEFAULTS, pipelineConfigSchema, type PipelineConfig, presetSchema, removedPresetsAreGone, renditionsSchema, shardSchema, sortSchema } from '../core/config';
import { CRON_HELP, CronError, isTimeZone, parseCron } from '../core/cron';
import { parseWith, showValue, ValidationError } from '../core/validation';

/**
 * Fargate's accepted vCPU → memory (MiB) sizes (AWS Batch user guide, "Fargate compute
 * environments" / ECS task size table): 0.25 vCPU takes 512, 1024 or 2048 MiB; the others a range in steps.
 */
const FARGATE_MEMORY: Record<string, readonly number[]> = {
  '0.25': [512, 1024, 2048],
  '0.5': steps(1024, 4096, 1024),
  '1': steps(2048, 8192, 1024),
  '2': steps(4096, 16384, 1024),
  '4': steps(8192, 30720, 1024),
  '8': steps(16384, 61440, 4096),
  '16': steps(32768, 122880, 8192),
};

function steps(from: number, to: number, by: number): number[] {
  return Array.from({ length: (to - from) / by + 1 }, (_, i) => from + i * by);
}

function describeSizes(sizes: readonly number[]): string {
  if (sizes.length <= 3) return `${sizes.slice(0, -1).join(', ')} or ${sizes.at(-1)} MiB`;
  return `${sizes[0]}-${sizes.at(-1)} MiB in steps of ${sizes[1]! - sizes[0]!}`;
}

/** Fargate's ephemeral storage: 20 GiB unless set, at most 200 GiB. */
const FARGATE_STORAGE_GIB = { default: 20, max: 200 };

const jobSchema = ({ vcpu, memoryMiB, timeoutMinutes }: (typeof JOB_DEFAULTS)[keyof typeof JOB_DEFAULTS], storageGiB: number = FARGATE_STORAGE_GIB.default) =>
  z
    .strictObject({
      vcpu: z.number().refine((v) => String(v) in FARGATE_MEMORY, 'one of Fargate\'s vCPU sizes 0.25, 0.5, 1, 2, 4, 8, 16').default(vcpu),
      memoryMiB: z.number().int().default(memoryMiB),
      /** A job attempt is stopped (SIGTERM, then SIGKILL) after this long. */
      timeoutMinutes: z.number().int().min(1).max(14 * 24 * 60).default(timeoutMinutes),
      /** Attempts per job, including the first (infrastructure failures and exit codes 1/143 are retried). */
      attempts: z.number().int().min(1).max(10).default(3),
      /** The task's ephemeral storage (its /tmp): the catalog's sort spills there, about 400 bytes an object. */
      storageGiB: z.number().int().min(FARGATE_STORAGE_GIB.default).max(FARGATE_STORAGE_GIB.max).default(storageGiB),
    })
    .prefault({})
    .superRefine((job, ctx) => {
      const sizes = FARGATE_MEMORY[String(job.vcpu)];
      if (sizes && !sizes.includes(job.memoryMiB)) {
        ctx.addIssue({ code: 'custom', path: ['memoryMiB'], input: job.memoryMiB, message: `a Fargate memory size for ${job.vcpu} vCPU: ${describeSizes(sizes)}` });
      }
    });

const cronSchema = z.string().superRefine((value, ctx) => {
  try {
    parseCron(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', input: value, message: error instanceof CronError ? `an EventBridge cron expression, but ${error.reason}. ${CRON_HELP}` : String(error) });
  }
});

const bucketName = pipelineConfigSchema.shape.buckets.shape.corpus;
const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:key\/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export const stackConfigSchema = z.strictObject({
  /** Who gets the email after every run (required: nothing sensible can default it). */
  notificationEmails: z.array(z.email()).min(1),
  corpus: z
    .strictObject({
      /** An existing bucket to read the corpus from. Left out: the stack creates one (and retains it on delete). */
      bucketName: bucketName.optional(),
      /** The existing bucket's region, when it is not the stack's (the jobs follow S3's redirect; this scopes the KMS grant). */
      region: z.string().regex(AWS_REGION, 'an AWS region such as eu-west-1').optional(),
      /** The KMS key the existing bucket's objects are encrypted with (SSE-KMS): the jobs get kms:Decrypt on it, through S3 only. */
      kmsKeyArn: z.string().regex(KMS_KEY_ARN, 'a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (an alias will not do: IAM grants keys by key ARN)').optional(),
      /** Plan from the corpus's S3 Inventory (CSV or Parquet) instead of listing it: where its deliveries land (core/inventory.ts). */
      inventory: z
        .strictObject({
          bucketName,
          /** `<destination-prefix>/<source-bucket>/<config-ID>/`: the folder of the dated deliveries. */
          prefix: z.string().min(1).regex(/\/$/, 'a prefix ending in "/": <destination-prefix>/<source-bucket>/<config-ID>/'),
          /** Older deliveries make the plan warn. */
          maxAgeHours: z.number().positive().default(48),
        })
        .optional(),
    })
    .default({})
    .superRefine((corpus, ctx) => {
      for (const field of ['region', 'kmsKeyArn'] as const) {
        if (corpus[field] !== undefined && corpus.bucketName === undefined) {
          ctx.addIssue({ code: 'custom', path: [field], input: corpus[field], message: 'to be set only with corpus.bucketName (the corpus bucket the stack creates is in its own region, encrypted with S3-managed keys)' });
        }
      }
      const keyRegion = corpus.kmsKeyArn?.split(':')[3];
      if (keyRegion && corpus.region && keyRegion !== corpus.region) {
        ctx.addIssue({ code: 'custom', path: ['kmsKeyArn'], input: corpus.kmsKeyArn, message: `a key in the bucket's region ${corpus.region} (SSE-KMS keys must be in the bucket's region)` });
      }
    }),
  schedule: z
    .strictObject({
      /** EventBridge cron, evaluated in UTC unless timeZone is set. */
      cron: cronSchema.default('cron(0 2 * * ? *)'),
      /** An IANA time zone (e.g. Europe/Paris): uses EventBridge Scheduler, which follows daylight saving time. */
      timeZone: z.string().refine(isTimeZone, 'an IANA time zone such as Europe/Paris or America/New_York').optional(),
      /** false: deploy without a schedule (ad-hoc runs only). */
      enabled: z.boolean().default(true),
    })
    .prefault({}),
  presets: pipelineConfigSchema.shape.presets,
  filter: filterSchema.prefault({}),
  sort: sortSchema,
  renditions: renditionsSchema,
  shards: shardSchema.prefault({}),
  backup: pipelineConfigSchema.shape.backup,
  resize: pipelineConfigSchema.shape.resize,
  /** The upload lane (issue 29): render new originals on upload, the night doing the rest. Off by default. */
  onUpload: pipelineConfigSchema.shape.onUpload,
  /** Object Lock retention on the backup bucket (compliance/governance mode, days). Left out: no Object Lock. */
  backupObjectLock: z.strictObject({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), days: z.number().int().min(1).max(36500) }).optional(),
  compute: z
    .strictObject({
      /** Run on Fargate Spot first (about 70 % cheaper), with on-demand Fargate as the fallback queue entry. */
      spot: z.boolean().default(true),
      /** Most vCPUs running at once across all jobs. */
      maxVcpus: z.number().int().min(1).max(10_000).default(32),
      /**
       * The jobs' CPU architecture: the image is built for it and Fargate runs it. ARM64
       * (Graviton) costs about 20 % less per vCPU-hour (core/cost.ts); Fargate Spot supports both
       * (AWS Batch API reference, RuntimePlatform).
       */
      architecture: z.enum(['x86_64', 'arm64']).default('x86_64'),
      /**
       * Where the jobs' tasks get their network. "public" (the default, nothing billed while idle):
       * public subnets, each task a public IP and a security group with no inbound rule. "private-nat":
       * private subnets behind one NAT gateway, billed by the hour whether or not a job runs (core/cost.ts, STANDING_PRICES).
       */
      network: z.enum(['public', 'private-nat']).default('public'),
      /** An existing VPC: its public subnets (network "public") or its private subnets with egress ("private-nat"). Left out: the stack creates one with flow logs. */
      vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/).optional(),
      // 100 GiB: room for the sort of a catalogue of about 250 million objects.
      catalog: jobSchema(JOB_DEFAULTS.catalog, 100),
      backup: jobSchema(JOB_DEFAULTS.backup),
      resize: jobSchema(JOB_DEFAULTS.resize),
    })
    // Left out: every field's own default (prefault parses `{}`), so each default is written once.
    .prefault({}),
  retention: z
    .strictObject({
      /** Days run artefacts (runs/<runId>/…) are kept in the work bucket. */
      runDays: z.number().int().min(1).default(90),
      /** Days a replaced or deleted backup version is kept. */
      noncurrentBackupDays: z.number().int().min(1).default(90),
      /** Days CloudWatch keeps job, function and workflow logs (one of CloudWatch's retention values). */
      logDays: z
        .number()
        .int()
        .refine((d) => LOG_RETENTION_DAYS.includes(d), `one of CloudWatch's retention periods: ${LOG_RETENTION_DAYS.join(', ')}`)
        .default(30),
    })
    .prefault({}),
  /** The image records' API (issue 28): authorization, CORS origins, throttling. */
  api: apiConfigSchema,
  /** Where renditions are served from: an optional CloudFront distribution, or a base URL (issue 28). */
  delivery: deliveryConfigSchema,
}).superRefine(removedPresetsAreGone);

export type StackConfig = z.output<typeof stackConfigSchema>;

export { presetSchema };

/** Reads the configuration from context: the `nightshift` object, then `nightshift.<path>` overrides. */
export function configFromContext(tryGetContext: (key: string) => unknown, contextKeys: readonly string[]): StackConfig {
  const base = tryGetContext('nightshift');
  const raw: Record<string, unknown> = typeof base === 'string' ? (parseContextValue(base, 'nightshift') as Record<string, unknown>) : structuredClone((base ?? {}) as Record<string, unknown>);
  for (const key of contextKeys.filter((k) => k.startsWith('nightshift.')).sort()) {
    setPath(raw, key.slice('nightshift.'.length).split('.'), parseContextValue(tryGetContext(key), key));
  }
  return parseStackConfig(raw);
}

export function parseStackConfig(raw: unknown): StackConfig {
  return parseWith(
    stackConfigSchema,
    raw,
    'nightshift',
    'Fix it in cdk.json ("context" → "nightshift") or on the command line with -c nightshift.<key>=<JSON value>, then run cdk synth again.',
  );
}

/** `-c key=value` always gives a string: JSON where it parses (numbers, booleans, arrays), the string otherwise. */
function parseContextValue(value: unknown, key: string): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    if (/^\s*[[{]/.test(value)) throw new ValidationError('nightshift', [{ field: key, received: showValue(value), expected: 'valid JSON' }]);
    return value;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const part of path.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** The pipeline configuration the jobs and functions receive, given the deployed bucket names. */
export function pipelineConfigOf(config: StackConfig, buckets: PipelineConfig['buckets']): PipelineConfig {
  const limits = (job: StackConfig['compute']['backup']) => ({ vcpu: job.vcpu, memoryMiB: job.memoryMiB, timeoutMinutes: job.timeoutMinutes, attempts: job.attempts });
  return {
    buckets,
    presets: config.presets,
    filter: config.filter,
    sort: config.sort,
    renditions: config.renditions,
    shards: config.shards,
    backup: config.backup,
    resize: config.resize,
    onUpload: config.onUpload,
    compute: { maxVcpus: config.compute.maxVcpus, executionTimeoutHours: EXECUTION_TIMEOUT_HOURS, architecture: config.compute.architecture, spot: config.compute.spot, catalog: limits(config.compute.catalog), backup: limits(config.compute.backup), resize: limits(config.compute.resize) },
    corpus: {
      sseKms: config.corpus.kmsKeyArn !== undefined,
      ...(config.corpus.inventory ? { inventory: { bucket: config.corpus.inventory.bucketName, prefix: config.corpus.inventory.prefix, maxAgeHours: config.corpus.inventory.maxAgeHours } } : {}),
    },
  };
}
