/**
 * Where everything lives: rendition keys, run artefacts, the last good catalogue. Every key the
 * pipeline writes is derived from the run id, the shard index, the source key or the preset, so a
 * retried step writes the same keys again.
 */
import { createHash } from 'node:crypto';
import type { OutputFormat } from './config';

/** The work-bucket key of the last good catalogue, promoted by aggregate after a successful run. */
export const STATE_CATALOG_KEY = 'state/catalog.jsonl';
/** The presets the promoted catalogue's renditions were made with (core/explain.ts PresetsState), written with it. */
export const STATE_PRESETS_KEY = 'state/presets.json';

/**
 * The work-bucket key of a deployed pipeline configuration, named by a digest of `content` (what
 * the deployment writes there): a changed configuration is a new object under a new name, so the
 * functions' pointer to it changes too and no container reads a configuration that changed under it.
 */
export function pipelineConfigKey(content: string): string {
  return `config/pipeline-${createHash('sha256').update(content).digest('hex').slice(0, 16)}.json`;
}

/** Shard numbers are zero-padded to five digits: 10,000 shards at most (AWS Batch's array limit). */
export function shardName(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 99_999) throw new RangeError(`shard index out of range: ${index}`);
  return String(index).padStart(5, '0');
}

/** A run id becomes a key segment: keep it to characters that need no escaping anywhere. */
export function assertRunId(runId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$/.test(runId)) {
    throw new Error(`Invalid run id ${JSON.stringify(runId)}: expected 1-80 characters of letters, digits, "_", ".", ":" or "-", starting with a letter or digit.`);
  }
  return runId;
}

export const runKeys = (runId: string) => {
  const base = `runs/${assertRunId(runId)}`;
  return {
    base,
    plan: `${base}/plan.json`,
    catalog: `${base}/catalog.jsonl`,
    /** Every listed object the filter left alone, with its reason (JSON Lines). */
    skipped: `${base}/skipped.jsonl`,
    /** Every original deleted since the last run (JSON Lines: key, size, etag). */
    deleted: `${base}/deleted.jsonl`,
    shard: (index: number) => `${base}/shards/${shardName(index)}.jsonl`,
    result: (operation: string, index: number) => `${base}/results/${operation}/${shardName(index)}.json`,
    resultsPrefix: (operation: string) => `${base}/results/${operation}/`,
    /** The shards a redriven array job runs (core/work-scope.ts), one list per operation and redrive. */
    scope: (operation: string, redrive: number) => `${base}/scope/${operation}-${redrive}.json`,
    /** A dry run: each shard's planned actions, and all of them in one list beside the report. */
    plannedShard: (operation: string, index: number) => `${base}/planned/${operation}/${shardName(index)}.jsonl`,
    planned: `${base}/planned.jsonl`,
    /**
     * A resize shard's change lines (core/records/changes.ts ChangeLine, sorted by key), written
     * before its result whenever the job keeps records: empty when nothing changed. A shard
     * without this file (no table, a dry run) changed no record.
     */
    changes: (index: number) => `${base}/changes/${shardName(index)}.jsonl`,
    report: `${base}/report.json`,
    /** A run without work whose promotion a newer run superseded: the outcome, for its email. */
    promotion: `${base}/promotion.json`,
    reportHtml: `${base}/report.html`,
    failuresCsv: `${base}/failures.csv`,
    /** The change feed: every shard's change lines, in shard order (that is key order), concatenated by aggregate. */
    changeFeed: `${base}/changes.jsonl`,
  };
};

/** The source key without its extension: the extension is the part after the last dot of the last path segment. */
export function stripExtension(key: string): string {
  const slash = key.lastIndexOf('/');
  const dot = key.lastIndexOf('.');
  return dot > slash + 1 ? key.slice(0, dot) : key;
}

/** The lower-case extension of a key, or '' when it has none. */
export function extensionOf(key: string): string {
  const stem = stripExtension(key);
  return stem.length < key.length ? key.slice(stem.length + 1).toLowerCase() : '';
}

const FORMAT_EXTENSION: Record<OutputFormat, string> = { jpeg: 'jpeg', webp: 'webp', avif: 'avif', png: 'png', gif: 'gif' };
export const FORMAT_CONTENT_TYPE: Record<OutputFormat, string> = { jpeg: 'image/jpeg', webp: 'image/webp', avif: 'image/avif', png: 'image/png', gif: 'image/gif' };

/**
 * `<preset>/<source key without extension>.<format>`; for an image whose stem another image's
 * renditions hold (`a.png` beside `a.jpg`, core/state.ts StemOwnership), `<preset>/<source key>/.<format>`.
 * That form cannot meet any other image's keys: an owner's last segment is its stem's (never
 * empty: a stem does not end with "/") followed by `.<format>`, so no owner key ends in `/.<format>`;
 * and another newcomer's key holds its own, different, source key. Keeping the extension
 * in the name (`a.png.webp`) would not do: `a.png.jpg` renders to that key.
 */
export function renditionKey(preset: string, sourceKey: string, format: OutputFormat, disambiguated = false): string {
  return `${renditionPrefix(preset, sourceKey, disambiguated)}${FORMAT_EXTENSION[format]}`;
}

/** Every rendition key of one image and preset starts with this, followed by nothing but a format's extension. */
export function renditionPrefix(preset: string, sourceKey: string, disambiguated = false): string {
  return disambiguated ? `${preset}/${sourceKey}/.` : `${preset}/${stripExtension(sourceKey)}.`;
}

/**
 * The source key a rendition key (after its `<preset>/`) was made from, without its extension for
 * an owner's key (`a` of `a.webp`), whole for a disambiguated one (`a.png` of `a.png/.webp`).
 */
export function renditionSource(rest: string): { readonly stem: string } | { readonly key: string } {
  const slash = rest.lastIndexOf('/');
  return slash >= 0 && rest.indexOf('.', slash) === slash + 1 && rest.indexOf('.', slash + 2) < 0 ? { key: rest.slice(0, slash) } : { stem: stripExtension(rest) };
}

/**
 * S3 lists keys in UTF-8 binary order. JavaScript compares UTF-16 code units, which differs only
 * where a surrogate pair (U+10000 and up) meets a character from U+E000 to U+FFFF; shifting those
 * two ranges past each other gives exactly the UTF-8 (code point) order without encoding anything.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/**
 * The CopySource of CopyObject/UploadPartCopy: `<bucket>/<key>` with the key URL-encoded per path
 * segment (S3 decodes it once; `+`, `%`, `&`, `=`, spaces and unicode must all be escaped, `/` kept).
 */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** The printable ASCII range the split points of a listing are drawn from (valid in any StartAfter). */
const SPLIT_LOW = 0x20;
const SPLIT_BASE = 0x7f - SPLIT_LOW;

/**
 * A key strictly between `after` and `before` in S3 order, near the middle of the gap (both read
 * as base-95 fractions of printable ASCII): where one listing splits its range in two. It is
 * printable ASCII, or else `after` (a listed key) and one printable character: always a valid
 * StartAfter. Undefined when none is found (the two are adjacent, or `before` is not above `after`).
 */
export function keyBetween(after: string, before: string): string | undefined {
  if (compareKeys(after, before) >= 0) return undefined;
  const digit = (s: string, i: number, pad: number) => {
    const c = i < s.length ? s.charCodeAt(i) : pad;
    return Math.min(Math.max(c, SPLIT_LOW), 0x7e) - SPLIT_LOW;
  };
  const n = Math.max(after.length, before.length) + 1;
  // Sum of the two fractions, then halved, most significant digit first.
  const sum = new Array<number>(n).fill(0);
  for (let i = n - 1, carry = 0; i >= 0; i--) {
    const total = digit(after, i, SPLIT_LOW) + digit(before, i, SPLIT_LOW) + carry;
    sum[i] = total % SPLIT_BASE;
    carry = Math.floor(total / SPLIT_BASE);
    if (i === 0 && carry) sum.unshift(carry);
  }
  const halves: number[] = [];
  let remainder = 0;
  for (const d of sum) {
    const value = remainder * SPLIT_BASE + d;
    halves.push(Math.floor(value / 2));
    remainder = value % 2;
  }
  // A carry out of the first digit made the sum one digit longer: the half starts one digit later.
  const digits = sum.length > n ? halves.slice(1) : halves;
  if (sum.length > n) digits[0]! += halves[0]! * SPLIT_BASE;
  const mid = String.fromCharCode(...digits.map((d) => d + SPLIT_LOW));
  // Shortest prefix of the midpoint that is still strictly between.
  for (let len = 1; len <= mid.length; len++) {
    const candidate = mid.slice(0, len);
    if (compareKeys(candidate, after) > 0 && compareKeys(candidate, before) < 0) return candidate;
  }
  for (const next of [SPLIT_LOW + (SPLIT_BASE >> 1), SPLIT_LOW]) {
    const candidate = `${after}${String.fromCharCode(next)}`;
    if (compareKeys(candidate, before) < 0) return candidate;
  }
  return undefined;
}
