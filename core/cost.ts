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
