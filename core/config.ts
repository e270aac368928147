/**
 * The pipeline configuration: what the jobs and functions need to know about buckets, presets,
 * filter rules, sorting and sharding. Validated once, at the edge (cdk synth, job start-up, the
 * local runner), with every default spelled out here.
 */
import { z } from 'zod';
import { parseWith } from './validation';

export const OUTPUT_FORMATS = ['jpeg', 'webp', 'avif', 'png', 'gif'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const FITS = ['inside', 'cover', 'contain', 'fill', 'outside'] as const;
export type Fit = (typeof FITS)[number];

/** Where a cropping preset (`fit: cover`) keeps the picture: sharp's strategies, or a gravity. */
export const GRAVITIES = ['centre', 'north', 'northeast', 'east', 'southeast', 'south', 'southwest', 'west', 'northwest'] as const;
export const POSITIONS = ['attention', 'entropy', ...GRAVITIES] as const;
export type Position = (typeof POSITIONS)[number];

/** `auto`: wide-gamut sources render to Display P3, the rest to sRGB; `preserve` keeps the source's profile. */
export const COLOUR_POLICIES = ['auto', 'srgb', 'preserve'] as const;
export type ColourPolicy = (typeof COLOUR_POLICIES)[number];

/** The embedded metadata a rendition may keep, by group (core/image-metadata.ts lists each group's fields). */
export const METADATA_GROUPS = ['rights', 'camera', 'capture-time', 'serial-numbers', 'location'] as const;
export type MetadataGroup = (typeof METADATA_GROUPS)[number];

export const MOTION_POLICIES = ['animate', 'first-frame'] as const;
export type MotionPolicy = (typeof MOTION_POLICIES)[number];

/** Formats that carry an animation; the others take the first frame. */
export const ANIMATED_FORMATS: readonly OutputFormat[] = ['webp', 'gif'];

/** Formats with a quality setting (PNG is lossless). */
const QUALITY_FORMATS = ['jpeg', 'webp', 'avif'] as const;

/** Input formats sharp decodes that nightshift accepts, by sharp's `metadata().format` name. */
export const INPUT_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** S3 storage classes whose objects cannot be read without a restore. */
export const ARCHIVED_STORAGE_CLASSES = ['GLACIER', 'DEEP_ARCHIVE'] as const;

export const BACKUP_STORAGE_CLASSES = [
  'STANDARD',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'GLACIER',
  'DEEP_ARCHIVE',
] as const;

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const bucketName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)');

/** A preset's name is a key prefix: keep it to a safe, readable alphabet. */
const presetName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/);

export const presetSchema = z.strictObject({
  name: presetName,
  /** Target width in pixels. */
  width: z.number().int().min(1).max(16384),
  /** Target height in pixels; when left out the height follows the aspect ratio. */
  height: z.number().int().min(1).max(16384).optional(),
  /** How the image fits width × height (sharp's `fit`); `inside` never crops. */
  fit: z.enum(FITS).default('inside'),
  formats: z.array(z.enum(OUTPUT_FORMATS)).min(1).refine((f) => new Set(f).size === f.length, 'each format once'),
  /** Encoder quality, 1-100, for every format of the preset (PNG ignores it). */
  quality: z.number().int().min(1).max(100).default(80),
  /** A format's own quality, over `quality` (e.g. `{ "avif": 55 }`: AVIF looks as good at a lower number). */
  formatQuality: z.partialRecord(z.enum(QUALITY_FORMATS), z.number().int().min(1).max(100)).optional(),
  /** Where `fit: cover` crops (default `attention`: sharp's saliency). An uploader's focal point (`x-amz-meta-focal-point`) comes first. */
  position: z.enum(POSITIONS).optional(),
  /** WebP renditions of sources with transparency are lossless (PNG always is). */
  lossless: z.boolean().optional(),
});
export type Preset = z.output<typeof presetSchema>;

/**
 * Each default preset fits a square box (`inside`: never cropped, never enlarged): the long side
 * is bounded, whichever it is, so a 300×2000 panorama's thumbnail is 48×320, not 300×2000.
 */
export const DEFAULT_PRESETS: readonly Preset[] = [
  { name: 'large', width: 2048, height: 2048, fit: 'inside', formats: ['jpeg', 'webp'], quality: 80 },
  { name: 'web', width: 1280, height: 1280, fit: 'inside', formats: ['jpeg', 'webp'], quality: 80 },
  { name: 'small', width: 640, height: 640, fit: 'inside', formats: ['jpeg', 'webp'], quality: 80 },
  { name: 'thumb', width: 320, height: 320, fit: 'inside', formats: ['jpeg', 'webp'], quality: 80 },
];

export const filterSchema = z.strictObject({
  /** File extensions (lower case, no dot) that are candidate images. SVG is left out on purpose: rasterising untrusted SVG is unsafe. */
  extensions: z.array(z.string().regex(/^[a-z0-9]{1,10}$/)).min(1).default(['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif']),
  /** Content-Type values accepted when an object has one; generic binary types are always accepted and sniffed. */
  contentTypes: z
    .array(z.string().regex(/^[a-z]+\/[a-z0-9.+-]+$/))
    .min(1)
    .default(['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif', 'image/heic', 'image/heif']),
  /** Objects smaller than this are skipped (zero-byte objects always are). */
  minBytes: z.number().int().min(1).default(1),
  /** Objects larger than this are too large to decode: backed up, not rendered (a decoder limit, resize's alone). */
  maxBytes: z.number().int().min(1).default(512 * MiB),
  /** Images with more pixels than this are not rendered, rejected before decoding (sharp's limitInputPixels); they are still backed up. */
  maxPixels: z.number().int().min(1).default(100_000_000),
  /** Keys under these prefixes are never touched. */
  excludePrefixes: z.array(z.string().min(1)).default([]),
  /** Only objects modified at or after this instant (ISO 8601) are considered. */
  modifiedAfter: z.iso.datetime({ offset: true }).optional(),
});
export type FilterRules = z.output<typeof filterSchema>;

/**
 * The catalogue is in S3 key order, always: the diff against last night's catalogue and the shard
 * jobs' listings depend on it. Other orders used to be accepted and written to a file nothing read.
 */
export const sortSchema = z
  .strictObject({
    by: z
      .string()
      .refine((by) => by === 'key', '"key": the catalogue is always in S3 key order (the diff and the shard jobs need it). For another order, sort runs/<runId>/catalog.jsonl yourself (e.g. jq -s \'sort_by(.size)\'), or leave "sort" out')
      .transform(() => 'key' as const)
      .default('key'),
  })
  .prefault({});

/** What happens to the renditions of an original that is no longer in the corpus. */
export const renditionsSchema = z
  .strictObject({
    /** Delete a deleted original's renditions on the next run (its backup is kept). */
    pruneDeleted: z.boolean().default(true),
    /** If one night would prune the renditions of more than this share of the catalogue, prune nothing and say so (rclone's --max-delete); confirm with the input {"confirmPrune": true}. */
    maxPruneShare: z.number().min(0).max(1).default(0.05),
    /**
     * Renditions made before the rendering policies existed stay current (an upgrade re-renders
     * nothing) until a `full` run, or until this adopts the policies' defaults for them too.
     */
    adoptPolicies: z.boolean().default(false),
    /**
     * Presets dropped from `presets` whose renditions are to be deleted: a preset that still has
     * renditions is never dropped silently (the run refuses or holds it until it is named here).
     */
    removePresets: z.array(presetName).default([]).refine((p) => new Set(p).size === p.length, 'each preset once'),
  })
  .prefault({});

export const shardSchema = z.strictObject({
  /** Aim for about this many objects per shard. */
  targetObjects: z.number().int().min(1).default(500),
  /** …and about this many bytes per shard, whichever gives more shards. */
  targetBytes: z.number().int().min(1).default(2 * GiB),
  /** Never more shards than this (AWS Batch array jobs take 2 to 10,000 children). */
  maxShards: z.number().int().min(2).max(10_000).default(10_000),
});
export type ShardRules = z.output<typeof shardSchema>;

// Image records (issue 28): how applications read them (the API) and where renditions are served
// from (delivery). The stack's configuration takes both; the jobs and functions learn what
// delivery resolved to from the environment the stack gives them (DELIVERY_ENV).

/** The image records' HTTP API (GET /images/{key+}, GET /images?prefix=…). */
export const apiConfigSchema = z
  .strictObject({
    /** `iam`: callers sign requests (SigV4) with credentials allowed execute-api:Invoke; `none`: anyone with the URL reads the records. */
    auth: z.enum(['iam', 'none']).default('iam'),
    /** Origins a browser application may call the API from (CORS); none: no cross-origin access. */
    corsOrigins: z.array(z.string().regex(/^(\*|https?:\/\/[^/\s?#]+)$/, 'an origin such as https://app.example.com (scheme and host, no path or trailing slash), or "*"')).default([]),
    /** The default stage's throttling: steady requests per second and the burst; above them API Gateway answers 429, which bounds what a runaway client costs. */
    throttle: z
      .strictObject({
        rateLimit: z.number().positive().max(10_000).default(100),
        burstLimit: z.number().int().min(1).max(5_000).default(200),
      })
      .prefault({}),
  })
  .prefault({});

export const deliveryConfigSchema = z
  .strictObject({
    /** Serve the renditions bucket through a CloudFront distribution (Origin Access Control, HTTPS only); records' urls use its domain. */
    cdn: z.boolean().default(false),
    /** Paths invalidated after a run at most; above it whole folders are (1,000 a month are free: CloudFront pricing, "Invalidation requests"). */
    maxInvalidationPaths: z.number().int().min(1).default(1000),
    /** Where the renditions are served from without the CDN: records' urls are this followed by the rendition key. Left out (and no CDN): records carry no url. */
    baseUrl: z
      .string()
      .regex(/^https:\/\/[^/\s?#]+(\/[^\s?#]*)?$/, 'an https URL such as https://images.example.com/ (records\' urls are it followed by the rendition key)')
      .transform((url) => (url.endsWith('/') ? url : `${url}/`))
      .optional(),
  })
  .prefault({})
  .superRefine((delivery, ctx) => {
    if (delivery.cdn && delivery.baseUrl !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['baseUrl'], input: delivery.baseUrl, message: "to be left out when delivery.cdn is true (records' urls then use the distribution's domain)" });
    }
  });
export type DeliveryConfig = z.output<typeof deliveryConfigSchema>;

/** The environment variables through which the stack tells the jobs and functions what delivery resolved to. */
export const DELIVERY_ENV = {
  /** `https://<host>/`: records' urls are it followed by the rendition key (the distribution's domain, or delivery.baseUrl). */
  baseUrl: 'NIGHTSHIFT_DELIVERY_BASE_URL',
  /** The distribution Aggregate invalidates replaced and removed renditions in (only with delivery.cdn). */
  distributionId: 'NIGHTSHIFT_DISTRIBUTION_ID',
  /** delivery.maxInvalidationPaths (only with delivery.cdn). */
  maxInvalidationPaths: 'NIGHTSHIFT_MAX_INVALIDATION_PATHS',
} as const;

/**
 * Renditions live at keys derived from their source's key, so a replaced original or a changed
 * preset changes a rendition under the same key: a year of `immutable` would show the old picture
 * for a year. An hour, then revalidation: CDNs and browsers ask again with the ETag they hold and
 * get a cheap 304 while it is current. Operators whose keys never change content may set
 * `resize.cacheControl` to a longer lifetime.
 */
export const RENDITION_CACHE_CONTROL = 'public, max-age=3600, must-revalidate';

/** Hours an execution may run before Step Functions stops it (the workflow's timeout). */
export const EXECUTION_TIMEOUT_HOURS = 24;

/** Each Batch job's default size and attempt timeout: the stack's job definitions and the plan's estimate both start here. */
export const JOB_DEFAULTS = {
  catalog: { vcpu: 1, memoryMiB: 4096, timeoutMinutes: 120 },
  backup: { vcpu: 0.5, memoryMiB: 1024, timeoutMinutes: 120 },
  resize: { vcpu: 2, memoryMiB: 4096, timeoutMinutes: 240 },
} as const;

const jobLimits = ({ vcpu, memoryMiB, timeoutMinutes }: (typeof JOB_DEFAULTS)[keyof typeof JOB_DEFAULTS]) =>
  z
    .strictObject({
      vcpu: z.number().positive().default(vcpu),
      /** What the task reserves (and Fargate bills). */
      memoryMiB: z.number().int().min(512).default(memoryMiB),
      /** Batch's attempt timeout. */
      timeoutMinutes: z.number().int().min(1).default(timeoutMinutes),
      attempts: z.number().int().min(1).max(10).default(3),
    })
    .prefault({});

/**
 * What the plan knows of the compute the array jobs run on, to bound each Batch state's time and
 * say whether a run fits the execution (core/timing.ts). The stack fills it from its `compute`
 * configuration; left out, the stack's defaults.
 */
export const computeLimitsSchema = z
  .strictObject({
    maxVcpus: z.number().int().min(1).max(10_000).default(32),
    executionTimeoutHours: z.number().positive().max(24 * 365).default(EXECUTION_TIMEOUT_HOURS),
    /** The rates the cost estimate uses (core/cost.ts). */
    architecture: z.enum(['x86_64', 'arm64']).default('x86_64'),
    spot: z.boolean().default(true),
    /** The catalog job: its state timeout bounds the run lease taken at Prepare (core/lease.ts). */
    catalog: jobLimits(JOB_DEFAULTS.catalog),
    backup: jobLimits(JOB_DEFAULTS.backup),
    resize: jobLimits(JOB_DEFAULTS.resize),
  })
  // Left out: every field's own default (prefault parses `{}`), so each default is written once.
  .prefault({});
export type ComputeLimits = z.output<typeof computeLimitsSchema>;

/**
 * The upload lane (issue 29): S3 notifications → SQS → a Lambda that renders a new or replaced
 * original at once with the resize job's code and writes its record; the night does the rest.
 * Only objects the night would select (filter, excludePrefixes) are handled.
 */
export const onUploadSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Function instances at once at most (the SQS event source's maximum concurrency, 2-1000): a bulk upload drains steadily instead of throttling the account. */
    maxConcurrency: z.number().int().min(2).max(1000).default(10),
    /** Images with more pixels than this are left for the night (its larger memory renders them). */
    maxPixels: z.number().int().min(1).default(50_000_000),
    /** Objects larger than this are left for the night. */
    maxBytes: z.number().int().min(1).default(100 * MiB),
  })
  .prefault({});
export type OnUploadConfig = z.output<typeof onUploadSchema>;

/** renditions.removePresets names presets dropped from `presets`: one still configured is a contradiction. */
export function removedPresetsAreGone(config: { presets: readonly { name: string }[]; renditions: { removePresets: readonly string[] } }, ctx: z.RefinementCtx): void {
  for (const [i, name] of config.renditions.removePresets.entries()) {
    if (config.presets.some((p) => p.name === name)) {
      ctx.addIssue({ code: 'custom', path: ['renditions', 'removePresets', i], input: name, message: `a preset dropped from presets (${JSON.stringify(name)} is still there: remove it from presets to delete its renditions, or from renditions.removePresets to keep them)` });
    }
  }
}

export const pipelineConfigSchema = z.strictObject({
  buckets: z.strictObject({
    corpus: bucketName,
    renditions: bucketName,
    backup: bucketName,
    work: bucketName,
  }),
  presets: z
    .array(presetSchema)
    .min(1)
    .default(() => DEFAULT_PRESETS.map((p) => ({ ...p, formats: [...p.formats] })))
    .refine((p) => new Set(p.map((x) => x.name)).size === p.length, 'unique preset names'),
  filter: filterSchema.prefault({}),
  sort: sortSchema,
  renditions: renditionsSchema,
  shards: shardSchema.prefault({}),
  backup: z
    .strictObject({
      /** Storage class of backup copies. */
      storageClass: z.enum(BACKUP_STORAGE_CLASSES).default('STANDARD_IA'),
      /** Objects above this size are copied with multipart UploadPartCopy (S3's CopyObject limit is 5 GiB). */
      multipartThresholdBytes: z.number().int().min(5 * MiB).max(5 * GiB).default(5 * GiB),
      /** Part size of multipart copies. */
      partSizeBytes: z.number().int().min(5 * MiB).max(5 * GiB).default(512 * MiB),
      /** Copies in flight at once per job. */
      concurrency: z.number().int().min(1).max(256).default(32),
    })
    .prefault({}),
  resize: z
    .strictObject({
      /** Images in flight at once per job (download, decode/encode, upload overlap across them). */
      concurrency: z.number().int().min(1).max(64).default(3),
      /** WebP encoder effort 0-6: the dominant CPU cost of a rendition set. */
      webpEffort: z.number().int().min(0).max(6).default(4),
      /** AVIF encoder effort 0-9 (AVIF is opt-in per preset: it costs far more than JPEG and WebP together). */
      avifEffort: z.number().int().min(0).max(9).default(4),
      /** When sharp aborts on invalid pixel data: `warning` (strictest) suits untrusted input. */
      failOn: z.enum(['none', 'truncated', 'error', 'warning']).default('warning'),
      /** Cache-Control written on every rendition (see RENDITION_CACHE_CONTROL). */
      cacheControl: z.string().min(1).default(RENDITION_CACHE_CONTROL),
      /** Colour: `auto` renders wide-gamut sources to Display P3 (profile embedded), the rest to sRGB; `srgb` always sRGB; `preserve` keeps the source's profile. */
      colour: z.enum(COLOUR_POLICIES).default('auto'),
      /** Embedded metadata kept: these groups (rights = copyright, artist/creator, credit), or `strip`. GPS, serial numbers and thumbnails go unless listed. */
      metadata: z.union([z.literal('strip'), z.array(z.enum(METADATA_GROUPS)).min(1).refine((g) => new Set(g).size === g.length, 'each group once')]).default(['rights']),
      /** Animated GIF/WebP sources: an animated WebP (`animate`), or the first frame only. JPEG, AVIF and PNG always take the first frame. */
      animated: z.enum(MOTION_POLICIES).default('animate'),
      /** Above this many frames × width × height an animation renders as its first frame (the record says why): decoding every frame takes memory. */
      maxAnimatedPixels: z.number().int().min(1).default(50_000_000),
    })
    .prefault({}),
  compute: computeLimitsSchema,
  onUpload: onUploadSchema,
  corpus: z
    .strictObject({
      /**
       * The corpus's default encryption is SSE-KMS (the stack sets it from corpus.kmsKeyArn): a hint only, so that the
       * backup HEADs an original before copying it instead of after a first copy; each object's own encryption decides.
       */
      sseKms: z.boolean().default(false),
      /**
       * Plan from the newest S3 Inventory delivery instead of listing the bucket (core/inventory.ts):
       * for corpora of tens of millions of objects. `prefix` ends at the configuration id:
       * `<destination-prefix>/<source-bucket>/<config-ID>/`. Older than `maxAgeHours`: the plan warns.
       */
      inventory: z
        .strictObject({
          bucket: bucketName,
          prefix: z.string().min(1).regex(/\/$/, 'a prefix ending in "/": <destination-prefix>/<source-bucket>/<config-ID>/'),
          maxAgeHours: z.number().positive().default(48),
        })
        .optional(),
    })
    .prefault({}),
}).superRefine(removedPresetsAreGone);
export type PipelineConfig = z.output<typeof pipelineConfigSchema>;
export type PipelineConfigInput = z.input<typeof pipelineConfigSchema>;

/** Validates a pipeline configuration and fills in every default. */
export function parsePipelineConfig(raw: unknown, root = 'config'): PipelineConfig {
  return parseWith(pipelineConfigSchema, raw, root, 'Fix the value in your configuration (cdk.json context "nightshift", or NIGHTSHIFT_CONFIG for a job) and try again.');
}
