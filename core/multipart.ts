/**
 * S3's multipart limits (S3 user guide, "Amazon S3 multipart upload limits"): at most 10,000
 * parts of 5 MiB to 5 GiB each (the last may be smaller), objects up to 5 TiB.
 */
const MiB = 1024 * 1024;
export const MAX_PARTS = 10_000;
export const MIN_PART_BYTES = 5 * MiB;
export const MAX_PART_BYTES = 5 * 1024 * MiB;
export const MAX_OBJECT_BYTES = 5 * 1024 * 1024 * MiB;

/**
 * The part size for copying an object of `size` bytes: the configured one, or larger (whole MiB)
 * when the configured one would need more than 10,000 parts. Every object up to 5 TiB fits.
 */
export function partSizeFor(size: number, configured: number): number {
  if (size > MAX_OBJECT_BYTES) throw new RangeError(`an object of ${size} bytes is larger than S3's 5 TiB`);
  const needed = Math.ceil(size / MAX_PARTS / MiB) * MiB;
  return Math.min(MAX_PART_BYTES, Math.max(configured, needed, MIN_PART_BYTES));
}
