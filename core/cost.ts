import { count } from './format';

/**
 * What a million images cost to resize on Fargate Spot, from measured throughput. Fargate bills
 * the vCPUs and memory a task reserves for as long as it runs (per second), so the cost of an
 * image is the task-seconds it takes times the task's price per second.
 *
 * Prices: AWS Fargate, Linux, us-east-1, per architecture (Graviton/ARM64 is about 20 % cheaper
 * than x86 on demand). Spot prices move with supply and demand (AWS quotes 50-70 % below
 * on-demand); check https://aws.amazon.com/fargate/pricing/ ("Current Spot price") before
 * budgeting, and change these constants when they differ.
 */
export const FARGATE_PRICES = {
  region: 'us-east-1',
  /** When these figures were read, and where. */
  readOn: '2026-11-22',
  source: 'aws.amazon.com/fargate/pricing (on-demand, as quoted by vantage.sh and fortem.dev in 2026); Spot: the last us-east-1 Linux/x86 Spot rates known to this project, 70 % below on-demand, and the same discount assumed for ARM64',
  x86_64: {
    onDemand: { vcpuHourUsd: 0.04048, gbHourUsd: 0.004445 },
    spot: { vcpuHourUsd: 0.01214398, gbHourUsd: 0.00133327 },
  },
  arm64: {
    onDemand: { vcpuHourUsd: 0.03238, gbHourUsd: 0.00356 },
    spot: { vcpuHourUsd: 0.009714, gbHourUsd: 0.001068 },
  },
} as const;

export type CpuArchitecture = 'x86_64' | 'arm64';

export interface FargateRates {
  readonly vcpuHourUsd: number;
  readonly gbHourUsd: number;
}

/** The rates a task pays on the given architecture, on Spot or on demand. */
export function fargateRates(architecture: CpuArchitecture = 'x86_64', spot = true): FargateRates {
  return FARGATE_PRICES[architecture][spot ? 'spot' : 'onDemand'];
}

export interface TaskSize {
  readonly vcpu: number;
  readonly memoryMiB: number;
}

/** USD per hour of one task of this size at the given rates. */
export function taskUsdPerHour(task: TaskSize, rates: FargateRates = fargateRates()): number {
  return task.vcpu * rates.vcpuHourUsd + (task.memoryMiB / 1024) * rates.gbHourUsd;
}

/**
 * USD per 1,000,000 images for a task that processes `imagesPerSecond` (measured on a machine
 * with as many cores as the task has vCPUs).
 */
export function usdPerMillionImages(imagesPerSecond: number, task: TaskSize, rates: FargateRates = fargateRates()): number {
  if (!(imagesPerSecond > 0)) throw new RangeError(`imagesPerSecond must be positive, received ${imagesPerSecond}`);
  const taskHours = 1_000_000 / imagesPerSecond / 3600;
  return taskHours * taskUsdPerHour(task, rates);
}

/**
 * S3 request prices, us-east-1, USD per request. Writes (PUT, COPY, POST, LIST) are priced by the
 * storage class written; reads (GET, HEAD) at S3 Standard's rate.
 */
export const S3_REQUEST_PRICES = {
  region: 'us-east-1',
  readOn: '2026-12-01',
  source: 'aws.amazon.com/s3/pricing ("Requests & data retrievals"), as tabulated by c3x.dev, "S3 request fees explained" (2026)',
  write: { STANDARD: 0.005e-3, INTELLIGENT_TIERING: 0.005e-3, STANDARD_IA: 0.01e-3, ONEZONE_IA: 0.01e-3, GLACIER_IR: 0.02e-3, GLACIER: 0.03e-3, DEEP_ARCHIVE: 0.05e-3 },
  read: 0.0004e-3,
} as const;

export type StorageClassPriced = keyof typeof S3_REQUEST_PRICES.write;

/** What a run sends to S3, as the jobs do it (see jobs/src/backup.ts and resize.ts). */
export interface RunRequests {
  readonly list: number;
  readonly copy: number;
  readonly put: number;
  readonly get: number;
  readonly head: number;
}

/**
 * The image records' and their readers' prices, us-east-1, USD. DynamoDB on demand bills write
 * request units: a transactional write of an item takes 2 per KB of item, rounded up (DynamoDB
 * developer guide, "Amazon DynamoDB Transactions: How it works", Capacity management for
 * transactions; aws.amazon.com/dynamodb/pricing/on-demand, "Write request unit"). The records are
 * written with TransactWriteItems (adapters/dynamodb.ts). HTTP API requests are billed per
 * million (aws.amazon.com/api-gateway/pricing, HTTP APIs, first 300 million a month). CloudFront
 * bills invalidation paths past the first 1,000 a month, a wildcard path counting as one
 * (CloudFront developer guide, "Pay for file invalidation").
 */
export const RECORD_PRICES = {
  region: 'us-east-1',
  readOn: '2026-12-04',
  source: 'aws.amazon.com/dynamodb/pricing/on-demand (after the November 2024 reduction), aws.amazon.com/api-gateway/pricing, aws.amazon.com/cloudfront/pricing',
  writeRequestUnitUsd: 0.625e-6,
  writeUnitsPerTransactionalKb: 2,
  httpApiRequestUsd: 1.0e-6,
  invalidationPathUsd: 0.005,
  freeInvalidationPathsPerMonth: 1_000,
} as const;

/** A record's size as DynamoDB counts it (attribute names and values), estimated: its facts and placeholder, then each rendition with its key, url and figures. */
export const RECORD_BYTES = { base: 700, perRendition: 320 } as const;

/** Write request units of one record written in a transaction: 2 per KB, rounded up. */
export function recordWriteUnits(renditions: number): number {
  const bytes = RECORD_BYTES.base + RECORD_BYTES.perRendition * Math.max(0, renditions);
  return RECORD_PRICES.writeUnitsPerTransactionalKb * Math.ceil(bytes / 1024);
}

/**
 * Paths billed for one run's invalidation: past the free allowance left this month. Unknown
 * (undefined), a nightly run is assumed to get a thirtieth of the allowance.
 */
export function billedInvalidationPaths(paths: number, freeLeft?: number): number {
  const free = freeLeft ?? RECORD_PRICES.freeInvalidationPathsPerMonth / 30;
  return Math.max(0, Math.ceil(paths - free));
}

export interface RecordsCost {
  /** Records written (rendered, failed and skipped images; pruned originals' records deleted). */
  readonly writes: number;
  readonly writeRequestUnits: number;
  readonly usd: number;
}

export interface RunCost {
  readonly computeUsd: number;
  readonly requestsUsd: number;
  readonly totalUsd: number;
  readonly requests: RunRequests;
  /** The image records' DynamoDB writes, when the run keeps records. */
  readonly records?: RecordsCost;
  /** The CDN invalidation after the run, when there is a CDN. */
  readonly invalidation?: { readonly paths: number; readonly billedPaths: number; readonly usd: number };
  /** Requests to the records' HTTP API, when an estimate of them is given. */
  readonly api?: { readonly requests: number; readonly usd: number };
  /** How the figures were made: the rates and what they assume. */
  readonly basis: string;
}

/**
 * A run's expected cost before it starts: Fargate task-seconds of each array job at the
 * configured architecture and Spot or on-demand rates, plus S3 requests. Sparse work (a nightly
 * run) checks each output with HEAD; dense work (first and full runs) lists instead.
 */
export function runCost(work: {
  readonly listed: number;
  readonly backups: number;
  readonly images: number;
  readonly renditionsPerImage: number;
  readonly dense: boolean;
  readonly taskSeconds: Partial<Record<'backup' | 'resize', number>>;
  readonly compute: { readonly architecture: CpuArchitecture; readonly spot: boolean; readonly backup: TaskSize; readonly resize: TaskSize };
  readonly backupStorageClass: StorageClassPriced;
  /** Records written (each image's, and each pruned original's deleted), when the run keeps records. */
  readonly recordWrites?: number;
  /** Paths the run invalidates in the CDN (capped by delivery.maxInvalidationPaths), and the free allowance left this month. */
  readonly invalidationPaths?: number;
  readonly freeInvalidationPathsLeft?: number;
  /** Requests to the records' HTTP API over the run's day. */
  readonly apiRequests?: number;
}): RunCost {
  const rates = fargateRates(work.compute.architecture, work.compute.spot);
  const computeUsd = (['backup', 'resize'] as const).reduce((sum, op) => sum + ((work.taskSeconds[op] ?? 0) / 3600) * taskUsdPerHour(work.compute[op], rates), 0);
  const renditions = work.images * work.renditionsPerImage;
  const requests: RunRequests = {
    list: Math.ceil(work.listed / 1000) + (work.dense ? Math.ceil((2 * work.backups + renditions) / 1000) : 0),
    copy: work.backups,
    put: renditions,
    get: work.images,
    head: work.dense ? 0 : 2 * work.backups + renditions,
  };
  const p = S3_REQUEST_PRICES;
  const requestsUsd = (requests.list + requests.put) * p.write.STANDARD + requests.copy * p.write[work.backupStorageClass] + (requests.get + requests.head) * p.read;
  const extras = recordsAndDelivery(work);
  const extrasUsd = (extras.records?.usd ?? 0) + (extras.invalidation?.usd ?? 0) + (extras.api?.usd ?? 0);
  const priced = [extras.records && 'DynamoDB writes', extras.invalidation && 'CloudFront invalidations', extras.api && 'HTTP API requests'].filter(Boolean);
  return {
    computeUsd,
    requestsUsd,
    totalUsd: computeUsd + requestsUsd + extrasUsd,
    requests,
    ...extras,
    basis: `Fargate ${work.compute.spot ? 'Spot' : 'on-demand'} ${work.compute.architecture} (${FARGATE_PRICES.readOn}) and S3 requests (${p.readOn})${priced.length ? `, ${priced.join(', ')} (${RECORD_PRICES.readOn})` : ''}, ${p.region} prices; S3 storage and transfer not included`,
  };
}

/** The records' writes, the CDN invalidation and the API requests, each priced when given. */
function recordsAndDelivery(work: Parameters<typeof runCost>[0]): Pick<RunCost, 'records' | 'invalidation' | 'api'> {
  const r = RECORD_PRICES;
  const units = (work.recordWrites ?? 0) * recordWriteUnits(work.renditionsPerImage);
  const billed = billedInvalidationPaths(work.invalidationPaths ?? 0, work.freeInvalidationPathsLeft);
  return {
    ...(work.recordWrites !== undefined ? { records: { writes: work.recordWrites, writeRequestUnits: units, usd: units * r.writeRequestUnitUsd } } : {}),
    ...(work.invalidationPaths !== undefined ? { invalidation: { paths: work.invalidationPaths, billedPaths: billed, usd: billed * r.invalidationPathUsd } } : {}),
    ...(work.apiRequests !== undefined ? { api: { requests: work.apiRequests, usd: work.apiRequests * r.httpApiRequestUsd } } : {}),
  };
}

/**
 * The upload lane's prices (issue 29), us-east-1, USD, free tiers not counted. Lambda bills each
 * invocation and its duration × memory in GB-seconds, per millisecond, at its architecture's rate
 * (aws.amazon.com/lambda/pricing, the first tier: 6 billion GB-seconds a month on x86, 7.5 on Arm).
 * SQS bills each standard-queue request, a payload's every 64 KB a request; an S3 event message is
 * about 1-2 KB (aws.amazon.com/sqs/pricing).
 */
export const UPLOAD_LANE_PRICES = {
  region: 'us-east-1',
  readOn: '2026-12-04',
  source: 'aws.amazon.com/lambda/pricing and aws.amazon.com/sqs/pricing, as tabulated by cloudchipr.com, "AWS Lambda Pricing Breakdown" (2024)',
  lambdaRequestUsd: 0.2e-6,
  lambdaGbSecondUsd: { x86_64: 0.0000166667, arm64: 0.0000133334 },
  sqsRequestUsd: 0.4e-6,
} as const;

/** Share of uploads assumed to fail every receive and end in the dead-letter queue (then left for the night). */
export const UPLOAD_FAILED_SHARE = 0.01;

export interface UploadLaneCost {
  readonly uploads: number;
  /** Invocations: one a receive (batches of one: the unhurried case; batching lowers it). */
  readonly invocations: number;
  readonly gbSeconds: number;
  /** SendMessage (S3's event), ReceiveMessage (each attempt, and one of each dead letter by whoever redrives or inspects it), DeleteMessage (each success). */
  readonly sqsRequests: number;
  readonly lambdaUsd: number;
  readonly sqsUsd: number;
  readonly totalUsd: number;
  readonly basis: string;
}

/**
 * What `uploads` uploads cost in the lane: every event sent once, received once, or
 * maxReceiveCount times when it fails (each receive an invocation that runs as long as a render),
 * then once more from the dead-letter queue. The S3 GET, the renditions' PUTs and the record's
 * write are the night's own, made earlier: not counted here.
 */
export function uploadLaneCost(lane: { readonly architecture: CpuArchitecture; readonly memoryMiB: number; readonly secondsPerImage: number; readonly maxReceiveCount: number; readonly failedShare?: number }, uploads = 1000): UploadLaneCost {
  const p = UPLOAD_LANE_PRICES;
  const failed = uploads * (lane.failedShare ?? UPLOAD_FAILED_SHARE);
  const receives = uploads - failed + failed * lane.maxReceiveCount;
  const gbSeconds = receives * (lane.memoryMiB / 1024) * lane.secondsPerImage;
  const sqsRequests = uploads + receives + failed + (uploads - failed);
  const lambdaUsd = receives * p.lambdaRequestUsd + gbSeconds * p.lambdaGbSecondUsd[lane.architecture];
  const sqsUsd = sqsRequests * p.sqsRequestUsd;
  return {
    uploads,
    invocations: receives,
    gbSeconds,
    sqsRequests,
    lambdaUsd,
    sqsUsd,
    totalUsd: lambdaUsd + sqsUsd,
    basis: `Lambda ${lane.architecture} at ${lane.memoryMiB} MB, ${lane.secondsPerImage.toFixed(2)} s an image, ${(100 * (lane.failedShare ?? UPLOAD_FAILED_SHARE)).toFixed(0)} % of uploads failing ${lane.maxReceiveCount} receives; ${p.region} prices read ${p.readOn}, free tiers not counted`,
  };
}

/** How the Batch jobs reach AWS: public subnets with a public IP per task, or private subnets behind a NAT gateway. */
export type JobNetwork = 'public' | 'private-nat';

/**
 * What the stack costs while no run is running, us-east-1, USD: the resources billed by the hour
 * or the month whether used or not. Everything else is billed per use (Fargate, Lambda, Step
 * Functions, requests) or per byte stored (S3, DynamoDB, logs), and costs nothing idle and empty.
 * NAT gateway: per hour provisioned plus per GB processed (aws.amazon.com/vpc/pricing, "NAT
 * Gateway pricing"); a customer managed KMS key: per month (aws.amazon.com/kms/pricing); a
 * standard-resolution alarm and a custom dashboard: per month (aws.amazon.com/cloudwatch/pricing;
 * the first 10 alarms and 3 dashboards of an account are free, not counted here). A task's public
 * IPv4 address is billed per hour while the task runs (aws.amazon.com/vpc/pricing, "Public IPv4
 * address"): a run cost, not a standing one. Gateway endpoints for S3 and DynamoDB are free.
 */
export const STANDING_PRICES = {
  region: 'us-east-1',
  readOn: '2026-12-04',
  source: 'aws.amazon.com/vpc/pricing, aws.amazon.com/kms/pricing, aws.amazon.com/cloudwatch/pricing',
  hoursPerMonth: 730,
  natGatewayHourUsd: 0.045,
  natGatewayGbUsd: 0.045,
  kmsKeyMonthUsd: 1,
  alarmMonthUsd: 0.1,
  dashboardMonthUsd: 3,
  publicIpv4HourUsd: 0.005,
} as const;

/** The CloudFormation resource types billed while idle, and what one costs a month. */
const STANDING_RESOURCES: Record<string, { readonly noun: string; readonly monthUsd: number }> = {
  'AWS::EC2::NatGateway': { noun: 'NAT gateway', monthUsd: STANDING_PRICES.natGatewayHourUsd * STANDING_PRICES.hoursPerMonth },
  'AWS::KMS::Key': { noun: 'KMS key', monthUsd: STANDING_PRICES.kmsKeyMonthUsd },
  'AWS::CloudWatch::Alarm': { noun: 'CloudWatch alarm', monthUsd: STANDING_PRICES.alarmMonthUsd },
  'AWS::CloudWatch::Dashboard': { noun: 'CloudWatch dashboard', monthUsd: STANDING_PRICES.dashboardMonthUsd },
};

export interface StandingCost {
  /** Each billed resource type: how many the stack has and their monthly cost. */
  readonly items: readonly { readonly type: string; readonly noun: string; readonly count: number; readonly monthlyUsd: number }[];
  readonly monthlyUsd: number;
  /** What is not included, and the prices' date. */
  readonly basis: string;
}

/** The monthly standing cost of a stack with these resources (resource type → count, as in its template). */
export function standingCost(resourceCounts: Readonly<Record<string, number>>): StandingCost {
  const items = Object.entries(STANDING_RESOURCES)
    .filter(([type]) => (resourceCounts[type] ?? 0) > 0)
    .map(([type, { noun, monthUsd }]) => ({ type, noun, count: resourceCounts[type]!, monthlyUsd: resourceCounts[type]! * monthUsd }));
  const nat = (resourceCounts['AWS::EC2::NatGateway'] ?? 0) > 0 ? `, plus $${STANDING_PRICES.natGatewayGbUsd}/GB through the NAT gateway` : '';
  return {
    items,
    monthlyUsd: items.reduce((sum, i) => sum + i.monthlyUsd, 0),
    basis: `${STANDING_PRICES.region} prices of ${STANDING_PRICES.readOn}, before free tiers${nat}; stored bytes (S3, DynamoDB, logs) billed as stored`,
  };
}

/** `about $4.60 a month while idle: 1 KMS key $1.00, 6 CloudWatch alarms $0.60, …`: one line, from standingCost. */
export function standingCostLine(c: StandingCost): string {
  const usd = (x: number) => `$${x.toFixed(2)}`;
  const items = c.items.map((i) => `${count(i.count, i.noun)} ${usd(i.monthlyUsd)}`).join(', ');
  return `about ${usd(c.monthlyUsd)} a month while idle${items ? `: ${items}` : ''} (${c.basis})`;
}
