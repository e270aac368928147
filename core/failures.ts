/** Why an object was not done: the failure codes (with whether tomorrow's run may succeed) and the skip record. */

/** Reason codes of per-object failures. `retryable` failures are worth another attempt tomorrow. */
export const FAILURE_CODES = {
  'source-missing': { retryable: true, hint: 'the object was deleted after it was listed' },
  'source-changed': { retryable: true, hint: 'the object changed after it was listed; the next run picks up the new version' },
  'read-failed': { retryable: true, hint: 'the object could not be read from S3' },
  'write-failed': { retryable: true, hint: 'an output could not be written to S3' },
  'copy-failed': { retryable: true, hint: 'the server-side copy failed' },
  'verify-failed': { retryable: true, hint: 'the copy did not match its source after writing' },
  'prune-failed': { retryable: true, hint: 'a rendition of a deleted original could not be deleted; the next run tries again' },
  'unsupported-format': { retryable: false, hint: 'the content is not an image format nightshift renders (sniffed from the bytes, not the name)' },
  'content-type': { retryable: false, hint: 'the object\'s Content-Type is not an accepted image type' },
  'too-many-pixels': { retryable: false, hint: 'width × height exceeds filter.maxPixels' },
  'too-large-for-memory': { retryable: false, hint: 'the image alone needs more memory to render than the resize job has: raise compute.resize.memoryMiB' },
  'decode-failed': { retryable: false, hint: 'the image is corrupt or truncated' },
  'encode-failed': { retryable: false, hint: 'a rendition could not be encoded' },
  'internal-error': { retryable: true, hint: 'an unexpected error in nightshift itself: see the job log for the stack trace' },
} as const;
export type FailureCode = keyof typeof FAILURE_CODES;

/**
 * Skips that are not done work: the object could not be read yet (an archive tier answers GET and
 * CopyObject with InvalidObjectState; Intelligent-Tiering's archive tiers cannot be told from the
 * listing). Aggregate leaves these out of the promoted catalogue, so the next run after a restore
 * finds them new again.
 */
export const NOT_DONE_SKIP_CODES: ReadonlySet<string> = new Set(['archived']);

export const ARCHIVED_MESSAGE = 'the object is in an archive tier (S3 Glacier, or Intelligent-Tiering Archive Access / Deep Archive Access): restore it first; the next run after the restore picks it up';

export interface Failure {
  readonly key: string;
  readonly code: FailureCode;
  readonly message: string;
  readonly retryable: boolean;
}

export interface Skip {
  readonly key: string;
  readonly code: string;
  readonly message?: string;
}

export function failure(key: string, code: FailureCode, message: string): Failure {
  return { key, code, message, retryable: FAILURE_CODES[code].retryable };
}
