/**
 * How long a run's array jobs should take on the configured compute, and how long each may take
 * before its state gives up. The plan carries both: the workflow reads each Batch state's
 * timeout from it (TimeoutSecondsPath), and the plan says when a run cannot fit the execution's
 * limit, with the setting that would make it fit.
 *
 * A state's timeout must let honest work finish: all its children, as many at once as the vCPUs
 * allow, each possibly retried. It is the expected time with a safety factor, never less than
 * one child's every attempt, never more than every wave's every attempt, plus time in the queue.
 */
import type { ComputeLimits } from './config';
import type { ShardOperation } from './input';

/**
 * Work rates of one job task, per vCPU. Resize: `npm run bench` (README "Performance": 2.42
 * images/s on 2 vCPUs for 12-MP JPEGs, 4 widths × JPEG + WebP). Backup: server-side copies wait
 * on S3's latency, which this machine cannot measure: 32 copies in flight at ~100-300 ms each,
 * and S3's copy rate for large objects; deliberately conservative.
 */
export const THROUGHPUT = {
  resize: { objectsPerVcpuSecond: 1.2, bytesPerVcpuSecond: Number.POSITIVE_INFINITY },
  backup: { objectsPerVcpuSecond: 200, bytesPerVcpuSecond: 200 * 1024 * 1024 },
} as const;

/**
 * Fargate bills a task from the start of its image download until it ends, rounded up to the
 * second, with a minimum charge of one minute (AWS Fargate pricing,
 * https://aws.amazon.com/fargate/pricing/). A backup child of 500 small objects copies for
 * seconds, so most of what it is billed is this minimum.
 */
export const FARGATE_MINIMUM_BILLED_SECONDS = 60;

/** Expected time is multiplied by this for a state's timeout: straggler shards, slow nights, Spot reclaims. */
export const SAFETY_FACTOR = 3;
/** Time a state allows for its jobs to wait in the queue for capacity. */
export const QUEUE_SLACK_SECONDS = 3600;

/** The Plan state's timeout (the catalog job): its every attempt, and time in the queue. */
export function catalogStateTimeoutSeconds(job: { readonly timeoutMinutes: number; readonly attempts: number }): number {
  return job.timeoutMinutes * 60 * job.attempts + QUEUE_SLACK_SECONDS;
}

export interface ArrayJobTiming {
  /** Children that run at once on the configured vCPUs (sharing them with the other array job). */
  readonly atOnce: number;
  readonly waves: number;
  readonly expectedSeconds: number;
  /** Task-seconds of all its children (what Fargate bills: at least a minute each). */
  readonly taskSeconds: number;
  /** The state's TimeoutSeconds. */
  readonly timeoutSeconds: number;
}

export interface PlanTiming {
  readonly timeouts: Record<ShardOperation, number>;
  readonly arrayJobs: Partial<Record<ShardOperation, ArrayJobTiming>>;
  /** The whole run: the catalog so far plus the array jobs (they run side by side). */
  readonly expectedSeconds: number;
  readonly executionTimeoutSeconds: number;
  readonly fits: boolean;
  /** When it does not fit: what would make it fit. */
  readonly advice?: string;
}

export interface Workload {
  readonly shardCount: number;
  readonly objects: number;
  readonly bytes: number;
  /** The array jobs this run submits. */
  readonly operations: readonly ShardOperation[];
  /** Seconds spent before the array jobs (the catalog job). */
  readonly elapsedSeconds: number;
}

export function arrayJobTiming(op: ShardOperation, work: Workload, compute: ComputeLimits): ArrayJobTiming {
  const job = compute[op];
  const attemptSeconds = job.timeoutMinutes * 60;
  const sharing = Math.max(1, work.operations.length);
  const atOnce = Math.max(1, Math.floor(compute.maxVcpus / sharing / job.vcpu));
  const waves = Math.ceil(work.shardCount / atOnce);
  const rate = THROUGHPUT[op];
  const perShard = work.shardCount > 0 ? Math.max(work.objects / work.shardCount / (rate.objectsPerVcpuSecond * job.vcpu), work.bytes / work.shardCount / (rate.bytesPerVcpuSecond * job.vcpu)) : 0;
  const expectedSeconds = waves * perShard;
  const everyAttempt = attemptSeconds * job.attempts;
  const bound = Math.min(Math.max(waves, 1) * everyAttempt, Math.max(SAFETY_FACTOR * expectedSeconds, everyAttempt));
  const billedPerShard = Math.max(FARGATE_MINIMUM_BILLED_SECONDS, perShard);
  return { atOnce, waves, expectedSeconds: Math.round(expectedSeconds), taskSeconds: Math.round(work.shardCount * billedPerShard), timeoutSeconds: Math.ceil(bound + QUEUE_SLACK_SECONDS) };
}

export function planTiming(work: Workload, compute: ComputeLimits): PlanTiming {
  const all: ShardOperation[] = ['backup', 'resize'];
  const arrayJobs: Partial<Record<ShardOperation, ArrayJobTiming>> = {};
  const timeouts = {} as Record<ShardOperation, number>;
  for (const op of all) {
    const timing = arrayJobTiming(op, work, compute);
    timeouts[op] = timing.timeoutSeconds;
    if (work.operations.includes(op)) arrayJobs[op] = timing;
  }
  const longest = Math.max(0, ...Object.values(arrayJobs).map((t) => t.expectedSeconds));
  const expectedSeconds = Math.round(work.elapsedSeconds + longest);
  const executionTimeoutSeconds = compute.executionTimeoutHours * 3600;
  const fits = expectedSeconds <= executionTimeoutSeconds;
  if (fits) return { timeouts, arrayJobs, expectedSeconds, executionTimeoutSeconds, fits };
  // Array time shrinks with vCPUs (more children at once); leave a tenth of the limit spare.
  const room = executionTimeoutSeconds * 0.9 - work.elapsedSeconds;
  const vcpus = room > 0 ? Math.min(10_000, Math.ceil((compute.maxVcpus * longest) / room)) : undefined;
  const advice = `expected ${hours(expectedSeconds)} on compute.maxVcpus ${compute.maxVcpus}, past the execution's ${compute.executionTimeoutHours} h limit: ${vcpus ? `raise compute.maxVcpus to about ${vcpus}, or ` : ''}backfill prefix by prefix (input "prefix") so each run fits`;
  return { timeouts, arrayJobs, expectedSeconds, executionTimeoutSeconds, fits, advice };
}

function hours(seconds: number): string {
  return `${(seconds / 3600).toFixed(1)} h`;
}
