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

/**
 * Codes that name a kind of failure, not its cause: a failure with one of these is explained by
 * the first FAILURE_CAUSES entry its raw message matches (libvips, libheif and sharp word them).
 */
export const GENERIC_CODES: ReadonlySet<string> = new Set(['decode-failed', 'unsupported-format', 'encode-failed', 'too-many-pixels', 'internal-error']);

const LOOSER_FAIL_ON = 'or set resize.failOn to "none" to render what is there';

/**
 * Known causes, each with a stable code and ONE sentence saying what happened and what to do.
 * Matched on the raw message in this order (the most specific first: a format list names every
 * format), which the report keeps, folded, for whoever needs the detail.
 */
export const FAILURE_CAUSES: readonly { readonly cause: string; readonly pattern: RegExp; readonly advice: string }[] = [
  { cause: 'jpeg-truncated', pattern: /premature end of (JPEG (image|file)|input file)/i, advice: `the JPEG is truncated: the file ends before the image data does; re-upload it, ${LOOSER_FAIL_ON}` },
  { cause: 'warning-as-error', pattern: /Warning treated as error due to failOn/i, advice: 'libvips warned while decoding and resize.failOn is "warning", the strictest setting: the file is slightly damaged; re-export it, or set resize.failOn to "error" to render it anyway' },
  { cause: 'pixel-limit', pattern: /pixel limit|pixels exceeds the limit/i, advice: 'the image has more pixels than filter.maxPixels allows (it is backed up, not rendered); raise filter.maxPixels if the resize job has the memory for it' },
  { cause: 'not-accepted-format', pattern: /^content is \w+, not one of/, advice: 'the content is an image format nightshift does not render (sniffed from the bytes, not the name); convert it to JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIC, or leave it out with filter rules' },
  { cause: 'jpeg-corrupt', pattern: /Corrupt JPEG data|VipsJpeg/i, advice: `the JPEG's data is damaged part-way through; re-export or re-upload it, ${LOOSER_FAIL_ON}` },
  { cause: 'png-corrupt', pattern: /vipspng|libpng|pngload|spng/i, advice: `the PNG is damaged or cut short (libpng could not read it); re-export or re-upload it, ${LOOSER_FAIL_ON}` },
  { cause: 'gif-corrupt', pattern: /gifload|giflib|cgif/i, advice: 'the GIF is damaged or cut short (its data ends early); re-export or re-upload it' },
  { cause: 'webp-corrupt', pattern: /webp/i, advice: 'the WebP is damaged or cut short (its header cannot be parsed); re-export or re-upload it' },
  { cause: 'tiff-corrupt', pattern: /tiff/i, advice: `the TIFF is damaged or cut short; re-export or re-upload it, ${LOOSER_FAIL_ON}` },
  { cause: 'heic-corrupt', pattern: /^HEIC:/, advice: 'the HEIC is damaged or cut short, so libheif cannot decode it; export it again from the phone or Photos and re-upload it' },
  { cause: 'heif-truncated', pattern: /heif: Invalid input|bad seek|iloc box/i, advice: 'the HEIF/AVIF file is cut short or malformed (its boxes point past the end of the file); re-upload the complete file' },
  { cause: 'svg-invalid', pattern: /XML parse error/i, advice: 'the content is XML (an SVG) that cannot be parsed, and SVG is not rendered anyway; leave it out with filter rules' },
  { cause: 'empty-object', pattern: /Input Buffer is empty/i, advice: 'the object holds no bytes; upload the image again' },
  { cause: 'not-an-image', pattern: /unsupported image format|not in a known format|no decoder/i, advice: 'the content is not an image at all (text, PDF, or an unknown format, whatever its name says); remove it, or leave it out with filter rules' },
  { cause: 'corrupt-header', pattern: /corrupt header/i, advice: 'the file\'s header is damaged, so its format cannot be read; re-upload the original' },
];

export interface FailureExplained {
  /** A stable code: the cause when one is known, else the failure's own code. */
  readonly cause: string;
  /** One sentence: what happened and what to do. */
  readonly advice: string;
}

/** A failure in words a person can act on (the raw message stays in the report's detail). */
export function explainFailure(f: { readonly code: string; readonly message: string }): FailureExplained {
  if (GENERIC_CODES.has(f.code)) {
    const known = FAILURE_CAUSES.find((c) => c.pattern.test(f.message));
    if (known) return { cause: known.cause, advice: known.advice };
  }
  return { cause: f.code, advice: adviceOf(f.code) };
}

/** The sentence for a cause code (or a failure code, whose hint is its sentence). */
export function adviceOf(cause: string): string {
  return FAILURE_CAUSES.find((c) => c.cause === cause)?.advice ?? (FAILURE_CODES as Record<string, { hint: string }>)[cause]?.hint ?? cause;
}
