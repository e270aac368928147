import { billedInvalidationPaths, FARGATE_PRICES, RECORD_PRICES, recordWriteUnits, runCost, S3_REQUEST_PRICES, standingCost, standingCostLine } from './cost';

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

  it('adds the image records\' DynamoDB writes, the CDN invalidation and API requests when given, leaving the rest as it was', () => {
    const work = { listed: 1_000_000, backups: 1000, images: 1000, renditionsPerImage: 8, dense: false, taskSeconds: { backup: 1800, resize: 3600 }, compute, backupStorageClass: 'STANDARD_IA' as const };
    const without = runCost(work);
    const c = runCost({ ...work, recordWrites: 1000, invalidationPaths: 1000, freeInvalidationPathsLeft: 200, apiRequests: 2_000_000 });
    expect(c.requests).toEqual(without.requests);
    expect(c.computeUsd).toBe(without.computeUsd);
    expect(c.requestsUsd).toBe(without.requestsUsd);
    // A record of 8 renditions is 700 + 8 x 320 = 3,260 bytes: 4 KB, and a transactional write takes
    // 2 write request units per KB (DynamoDB developer guide, "Amazon DynamoDB Transactions: How it works").
    expect(recordWriteUnits(8)).toBe(8);
    expect(recordWriteUnits(0)).toBe(2);
    expect(c.records).toEqual({ writes: 1000, writeRequestUnits: 8000, usd: 8000 * 0.625e-6 });
    // Paths past the free monthly 1,000 are billed at $0.005 (CloudFront developer guide, "Pay for file invalidation").
    expect(c.invalidation).toEqual({ paths: 1000, billedPaths: 800, usd: 800 * 0.005 });
    expect(c.api).toEqual({ requests: 2_000_000, usd: 2 });
    expect(c.totalUsd).toBeCloseTo(without.totalUsd + 8000 * RECORD_PRICES.writeRequestUnitUsd + 4 + 2, 10);
    expect(c.basis).toContain('DynamoDB writes, CloudFront invalidations, HTTP API requests');
    expect(without).not.toHaveProperty('records');
  });

  it('bills a nightly run a thirtieth of the free invalidation allowance when the month\'s use is not known', () => {
    expect(billedInvalidationPaths(30)).toBe(0);
    expect(billedInvalidationPaths(1000)).toBe(967);
    expect(billedInvalidationPaths(1000, 0)).toBe(1000);
    expect(billedInvalidationPaths(10, 1000)).toBe(0);
  });
});

describe('what the stack costs while idle', () => {
  it('bills a NAT gateway by the hour, a KMS key, alarms and dashboards by the month, and nothing else', () => {
    // aws.amazon.com/vpc/pricing: $0.045 per NAT gateway-hour, 730 hours a month.
    const c = standingCost({ 'AWS::EC2::NatGateway': 1, 'AWS::KMS::Key': 1, 'AWS::CloudWatch::Alarm': 4, 'AWS::CloudWatch::Dashboard': 1, 'AWS::Lambda::Function': 9, 'AWS::S3::Bucket': 5 });
    expect(c.items.map((i) => [i.noun, i.count, Number(i.monthlyUsd.toFixed(2))])).toEqual([
      ['NAT gateway', 1, 32.85],
      ['KMS key', 1, 1],
      ['CloudWatch alarm', 4, 0.4],
      ['CloudWatch dashboard', 1, 3],
    ]);
    expect(c.monthlyUsd).toBeCloseTo(37.25, 10);
    expect(standingCostLine(c)).toMatch(/^about \$37\.25 a month while idle: 1 NAT gateway \$32\.85, 1 KMS key \$1\.00, 4 CloudWatch alarms \$0\.40, 1 CloudWatch dashboard \$3\.00 \(.*plus \$0\.045\/GB through the NAT gateway/);
  });

  it('says nothing is billed when nothing standing is there', () => {
    const c = standingCost({ 'AWS::Lambda::Function': 3 });
    expect(c.items).toEqual([]);
    expect(standingCostLine(c)).toMatch(/^about \$0\.00 a month while idle \(/);
    expect(standingCostLine(c)).not.toContain('NAT');
  });
});
