import { parsePipelineConfig } from './config';
import { arrayJobTiming, FARGATE_MINIMUM_BILLED_SECONDS, planTiming, QUEUE_SLACK_SECONDS, SAFETY_FACTOR, THROUGHPUT, type Workload } from './timing';

const compute = parsePipelineConfig({ buckets: { corpus: 'c-b', renditions: 'r-b', backup: 'b-b', work: 'w-b' } }).compute;
const work = (shardCount: number, objects: number, operations: Workload['operations'] = ['backup', 'resize']): Workload => ({ shardCount, objects, bytes: objects * 3_000_000, operations, elapsedSeconds: 600 });

describe('array job timing', () => {
  it('a few shards in one wave: the state allows every attempt of a child, plus the queue (as before)', () => {
    const t = arrayJobTiming('resize', work(2, 1000), compute);
    expect(t).toMatchObject({ atOnce: 8, waves: 1 }); // 32 vCPUs shared by two array jobs, 2 vCPUs a child
    expect(t.timeoutSeconds).toBe(240 * 60 * 3 + QUEUE_SLACK_SECONDS);
  });

  it('grows with the shards that must wait for vCPUs, from the measured throughput, with a safety factor', () => {
    const t = arrayJobTiming('resize', work(800, 400_000), compute);
    expect(t.waves).toBe(100);
    const perShard = 500 / (THROUGHPUT.resize.objectsPerVcpuSecond * 2);
    expect(t.expectedSeconds).toBe(Math.round(100 * perShard));
    expect(t.timeoutSeconds).toBe(Math.ceil(SAFETY_FACTOR * 100 * perShard + QUEUE_SLACK_SECONDS));
    // More vCPUs, fewer waves, a shorter bound.
    expect(arrayJobTiming('resize', work(800, 400_000), { ...compute, maxVcpus: 320 }).timeoutSeconds).toBeLessThan(t.timeoutSeconds);
  });

  it("bills each child at least Fargate's one-minute minimum: small backup shards are mostly minimums", () => {
    const backup = arrayJobTiming('backup', work(2000, 1_000_000, ['backup']), compute);
    const copying = Math.max(500 / (THROUGHPUT.backup.objectsPerVcpuSecond * compute.backup.vcpu), (500 * 3_000_000) / (THROUGHPUT.backup.bytesPerVcpuSecond * compute.backup.vcpu));
    expect(copying).toBeLessThan(FARGATE_MINIMUM_BILLED_SECONDS);
    expect(backup.taskSeconds).toBe(2000 * FARGATE_MINIMUM_BILLED_SECONDS);
    // A child that works longer than a minute is billed for what it works.
    const resize = arrayJobTiming('resize', work(800, 400_000), compute);
    expect(resize.taskSeconds).toBe(Math.round(800 * (500 / (THROUGHPUT.resize.objectsPerVcpuSecond * compute.resize.vcpu))));
  });

  it('a job that runs alone gets every vCPU', () => {
    expect(arrayJobTiming('resize', work(100, 1000, ['resize']), compute).atOnce).toBe(16);
  });
});

describe('plan timing', () => {
  it('fits a nightly run and says nothing more', () => {
    const t = planTiming(work(4, 2000), compute);
    expect(t).toMatchObject({ fits: true, executionTimeoutSeconds: 86_400 });
    expect(t.advice).toBeUndefined();
    expect(Object.keys(t.timeouts).sort()).toEqual(['backup', 'resize']);
  });

  it('says when a backfill cannot fit the execution, and what would make it fit', () => {
    const t = planTiming(work(10_000, 5_000_000), compute);
    expect(t.fits).toBe(false);
    expect(t.expectedSeconds).toBeGreaterThan(86_400);
    const vcpus = Number(/raise compute.maxVcpus to about (\d+)/.exec(t.advice!)![1]);
    expect(vcpus).toBeGreaterThan(32);
    expect(planTiming(work(10_000, 5_000_000), { ...compute, maxVcpus: vcpus }).fits).toBe(true);
    expect(t.advice).toContain('backfill prefix by prefix');
  });
});
