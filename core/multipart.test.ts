import { MAX_OBJECT_BYTES, MAX_PART_BYTES, MAX_PARTS, partSizeFor } from './multipart';

const MiB = 1024 * 1024;

describe('multipart part size', () => {
  it('keeps the configured part size while it needs at most 10,000 parts', () => {
    expect(partSizeFor(12 * MiB, 5 * MiB)).toBe(5 * MiB);
    expect(partSizeFor(4096 * 1024 * MiB, 512 * MiB)).toBe(512 * MiB); // 4 TiB: 8,192 parts
  });

  it('grows the part size for the largest objects, so that every size up to 5 TiB fits', () => {
    for (const size of [5000 * 1024 * MiB, MAX_OBJECT_BYTES - 1, MAX_OBJECT_BYTES]) {
      const part = partSizeFor(size, 512 * MiB);
      expect(part % MiB).toBe(0);
      expect(part).toBeLessThanOrEqual(MAX_PART_BYTES);
      expect(Math.ceil(size / part)).toBeLessThanOrEqual(MAX_PARTS);
    }
    expect(() => partSizeFor(MAX_OBJECT_BYTES + 1, 512 * MiB)).toThrow("larger than S3's 5 TiB");
  });
});
