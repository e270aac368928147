import { onUploadSchema } from './config';
import { UPLOAD_LANE_PRICES, uploadLaneCost } from './cost';
import { BASELINE_MIB, MEMORY_TARGET, PER_IMAGE_MIB, PIPELINE_FACTOR } from './memory-budget';
import { LAMBDA_MAX_TIMEOUT_SECONDS, ONE_VCPU_MIB, uploadLaneSizes, uploadLoopProblem, uploadsCostPerThousand, UPLOAD_LANE } from './upload-lane';
import { UsageError } from './validation';

const MiB = 1024 * 1024;
const defaults = onUploadSchema.parse({});

describe('the upload function\'s sizes', () => {
  it('gives the largest accepted image the memory the resize job\'s model says, never less than one vCPU', () => {
    // 50 MP × 4 bands × 2 bytes decoded, × 1.5, + 32 MiB, + the 100 MiB original, then the baseline and the 80 % target.
    expect(uploadLaneSizes(defaults).memoryMiB).toBe(ONE_VCPU_MIB);
    const big = uploadLaneSizes({ maxPixels: 300_000_000, maxBytes: 200 * MiB });
    const cost = 200 * MiB + PER_IMAGE_MIB * MiB + 300e6 * 8 * PIPELINE_FACTOR;
    expect(big.memoryMiB).toBe(Math.ceil((Math.ceil(cost) / MiB + BASELINE_MIB) / MEMORY_TARGET));
    expect(big.memoryMiB).toBeGreaterThan(4000);
  });

  it('times out after a whole batch of the largest images, and the queue hides a message six timeouts long', () => {
    const s = uploadLaneSizes(defaults);
    const worst = (100 / UPLOAD_LANE.readMiBPerSecond + 50 / 12 / 1.2) * UPLOAD_LANE.safetyFactor;
    expect(s.batchSize).toBe(UPLOAD_LANE.batchSize);
    expect(s.timeoutSeconds).toBe(Math.ceil(UPLOAD_LANE.overheadSeconds + worst * s.batchSize));
    // Lambda developer guide, "Creating and configuring an Amazon SQS event source mapping": at least 6×.
    expect(s.visibilityTimeoutSeconds).toBe(6 * s.timeoutSeconds);
    // Larger originals: fewer in a batch, so that a batch still fits Lambda's 900 s.
    const slow = uploadLaneSizes({ maxPixels: 50_000_000, maxBytes: 4000 * MiB });
    expect(slow.batchSize).toBeLessThan(UPLOAD_LANE.batchSize);
    expect(slow.timeoutSeconds).toBeLessThanOrEqual(LAMBDA_MAX_TIMEOUT_SECONDS);
  });

  it('fails with one line naming onUpload.maxPixels when no Lambda function can hold such an image', () => {
    const tooMany = () => uploadLaneSizes({ maxPixels: 1_000_000_000, maxBytes: 100 * MiB });
    expect(tooMany).toThrow(UsageError);
    expect(tooMany).toThrow(/^onUpload\.maxPixels: 1000000000: an image of 1000000000 pixels and 104857600 bytes needs about [\d,]+ MiB to render, more than Lambda's 10,240 MB: lower onUpload\.maxPixels \(larger images are left for the night\)$/);
  });

  it('names onUpload.maxBytes instead when the original held in memory weighs most', () => {
    expect(() => uploadLaneSizes({ maxPixels: 50_000_000, maxBytes: 20_000 * MiB })).toThrow(/^onUpload\.maxBytes: 20971520000: an image .* lower onUpload\.maxBytes \(larger images are left for the night\)$/);
  });
});

describe('the loop guard', () => {
  const presets = [{ name: 'large' }, { name: 'thumb' }];
  it('says nothing when the renditions have their own bucket', () => {
    expect(uploadLoopProblem(undefined, presets, [])).toBeUndefined();
  });
  it('names the field, the value and the prefixes to exclude when they share the corpus bucket', () => {
    expect(uploadLoopProblem({ field: 'corpus.bucketName', value: 'photos' }, presets, ['large'])).toBe(
      'corpus.bucketName: "photos" holds the renditions too, so every rendition written on upload would notify the upload lane again (a loop): keep the renditions in their own bucket, or add ["thumb/"] to filter.excludePrefixes',
    );
    expect(uploadLoopProblem({ field: 'corpus.bucketName', value: 'photos' }, presets, ['large/', 'thumb/'])).toBeUndefined();
  });
});

describe('what the lane costs', () => {
  it('prices Lambda requests and GB-seconds, and SQS requests with the dead-letter path\'s extra receives', () => {
    const c = uploadLaneCost({ architecture: 'x86_64', memoryMiB: 2048, secondsPerImage: 1, maxReceiveCount: 5, failedShare: 0.1 }, 1000);
    // 900 received once, 100 received 5 times each: 1,400 invocations of 2 GB × 1 s.
    expect(c.invocations).toBe(1400);
    expect(c.gbSeconds).toBe(2800);
    // 1,000 sent by S3, 1,400 received, 100 dead letters received once more, 900 deleted.
    expect(c.sqsRequests).toBe(1000 + 1400 + 100 + 900);
    const p = UPLOAD_LANE_PRICES;
    expect(c.lambdaUsd).toBeCloseTo(1400 * p.lambdaRequestUsd + 2800 * p.lambdaGbSecondUsd.x86_64, 12);
    expect(c.sqsUsd).toBeCloseTo(3400 * p.sqsRequestUsd, 12);
    expect(c.totalUsd).toBeCloseTo(c.lambdaUsd + c.sqsUsd, 12);
    expect(uploadLaneCost({ architecture: 'arm64', memoryMiB: 2048, secondsPerImage: 1, maxReceiveCount: 5, failedShare: 0.1 }).lambdaUsd).toBeLessThan(c.lambdaUsd);
  });

  it('prices a thousand typical uploads with the function the stack builds', () => {
    const c = uploadsCostPerThousand(defaults, 'x86_64');
    expect(c.uploads).toBe(1000);
    expect(c.gbSeconds).toBeCloseTo(c.invocations * (ONE_VCPU_MIB / 1024) * (5 / UPLOAD_LANE.readMiBPerSecond + 12 / 12 / 1.2), 6);
    expect(c.basis).toMatch(/^Lambda x86_64 at 1769 MB, 0\.93 s an image, 1 % of uploads failing 5 receives; us-east-1 prices read \d{4}-\d\d-\d\d, free tiers not counted$/);
  });
});
