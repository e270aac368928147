import { FARGATE_PRICES, runCost, S3_REQUEST_PRICES } from './cost';

const compute = { architecture: 'x86_64' as const, spot: true, backup: { vcpu: 0.5, memoryMiB: 1024 }, resize: { vcpu: 2, memoryMiB: 4096 } };

describe('a run\'s cost estimate', () => {
  it('adds Fargate task time and every S3 request a nightly (sparse) run sends', () => {
    // 1,000 new images, 8 renditions each, listed among 1,000,000 objects; 1 task-hour of resize, half an hour of backup.
    const c = runCost({ listed: 1_000_000, backups: 1000, images: 1000, renditionsPerImage: 8, dense: false, taskSeconds: { backup: 1800, resize: 3600 }, compute, backupStorageClass: 'STANDARD_IA' });
    expect(c.requests).toEqual({ list: 1000, copy: 1000, put: 8000, get: 1000, head: 2 * 1000 + 8000 });
    const spot = FARGATE_PRICES.x86_64.spot;
    expect(c.computeUsd).toBeCloseTo(0.5 * (0.5 * spot.vcpuHourUsd + 1 * spot.gbHourUsd) + 1 * (2 * spot.vcpuHourUsd + 4 * spot.gbHourUsd), 10);
    // LIST and PUT at Standard's write price, COPY into Standard-IA at its own, GET and HEAD at the read price.
    expect(c.requestsUsd).toBeCloseTo((1000 + 8000) * 0.005e-3 + 1000 * 0.01e-3 + (1000 + 10_000) * S3_REQUEST_PRICES.read, 10);
    expect(c.totalUsd).toBeCloseTo(c.computeUsd + c.requestsUsd, 10);
    expect(c.basis).toContain('Fargate Spot x86_64');
  });

  it('lists instead of HEADing on dense work (a backfill), and prices on-demand ARM when configured', () => {
    const c = runCost({ listed: 10_000, backups: 10_000, images: 10_000, renditionsPerImage: 8, dense: true, taskSeconds: {}, compute: { ...compute, architecture: 'arm64', spot: false }, backupStorageClass: 'STANDARD' });
    expect(c.requests).toMatchObject({ list: 10 + 100, head: 0 });
    expect(c.computeUsd).toBe(0);
    expect(c.basis).toContain('on-demand arm64');
  });
});
