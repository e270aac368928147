/**
 * The one S3 module. Jobs, functions and the local runtime talk to S3 through these few calls, so
 * the same code runs against AWS or the embedded server by endpoint alone.
 *
 * Environment (all optional):
 * - `AWS_ENDPOINT_URL_S3`: an S3-compatible endpoint (e.g. the embedded server); path-style addressing is used with it.
 * - `AWS_REGION`: defaults to us-east-1 when nothing else sets it.
 * - `NIGHTSHIFT_S3_MAX_ATTEMPTS`: attempts per request, including the first (default 8). Retries
 *   follow the SDK's adaptive mode (exponential backoff with jitter, client-side rate limiting
 *   when S3 answers 503 SlowDown) without its shared retry quota: see adapters/retry.ts.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { readFile, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, GetObjectCommand, type GetObjectCommandOutput, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type _Object, type S3ClientConfig } from '@aws-sdk/client-s3';
import { compareKeys, keyBetween } from '../core/keys';
import { Upload } from '@aws-sdk/lib-storage';
import { endpointSettings } from './endpoint';
import { NoQuotaAdaptiveRetryStrategy } from './retry';

export interface S3Options {
  readonly endpoint?: string;
  readonly region?: string;
  readonly maxAttempts?: number;
  /** Sockets per client; size it to the request concurrency. Default: 64. */
  readonly maxSockets?: number;
}

export function createS3Client(options: S3Options = {}, env: NodeJS.ProcessEnv = process.env): S3Client {
  return new S3Client(s3ClientConfig(options, env));
}

/** The configuration createS3Client gives the SDK (exported for the request-cost probe's variants). */
export function s3ClientConfig(options: S3Options = {}, env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = options.endpoint ?? env.AWS_ENDPOINT_URL_S3;
  const maxAttempts = options.maxAttempts ?? positiveInt(env.NIGHTSHIFT_S3_MAX_ATTEMPTS, 'NIGHTSHIFT_S3_MAX_ATTEMPTS') ?? 8;
  const config: S3ClientConfig = {
    region: options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    retryStrategy: new NoQuotaAdaptiveRetryStrategy(maxAttempts),
    // A corpus bucket in another region answers 301 PermanentRedirect with x-amz-bucket-region:
    // the SDK then re-signs for that region and remembers it per bucket.
    followRegionRedirects: true,
    // Not `cacheMiddleware: true`, though it saves about 10 % of the CPU of a CopyObject here. It
    // resolves a command class's middleware once, with one handler context that every later
    // request of that class shares (@smithy/core's Command.resolveMiddlewareWithContext), so
    // concurrent requests overwrite each other's resolved endpoint: 100 of 200 concurrent GETs to
    // two buckets were answered from the other one, and the multipart backup test read an
    // original back with its backup's three-part ETag. A request sent to the wrong bucket can
    // overwrite an original; it stays off (adapters/s3.test.ts, "sends each of many concurrent
    // requests to its own bucket").
    requestHandler: { httpsAgent: { maxSockets: options.maxSockets ?? 64 }, httpAgent: { maxSockets: options.maxSockets ?? 64 } },
  };
  return endpoint ? { ...config, ...endpointSettings(endpoint, env), forcePathStyle: true } : config;
}

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number >= 1, received ${JSON.stringify(value)}`);
  return n;
}

/** True for "no such key" (and "no such bucket" when `bucketToo`): the answers that mean "not there". */
export function isNotFound(error: unknown, bucketToo = false): boolean {
  const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  const name = e?.name ?? e?.Code;
  if (name === 'NoSuchBucket') return bucketToo;
  return name === 'NoSuchKey' || name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** True when S3 refused because a precondition (If-Match, CopySourceIfMatch) did not hold. */
export function isPreconditionFailed(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}

/**
 * True when S3 refused a conditional write because another conditional write to the same key was
 * in progress: 409 ConditionalRequestConflict (S3 user guide, "How to prevent object overwrites
 * with conditional writes", Conditional write behavior; S3 API reference, PutObject If-Match /
 * If-None-Match: "On a 409 failure you should fetch the object's ETag and retry the upload").
 * Nothing was written: the caller re-reads the key and decides again.
 */
export function isConditionalConflict(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'ConditionalRequestConflict' || e?.$metadata?.httpStatusCode === 409;
}

/**
 * True when S3 refused to read an archived object: GetObject and CopyObject answer 403
 * InvalidObjectState for Glacier objects not restored and for Intelligent-Tiering objects in the
 * Archive Access or Deep Archive Access tiers (S3 API reference, GetObject, Errors).
 */
export function isArchived(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === 'InvalidObjectState';
}

export function errorText(error: unknown): string {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  return `${e?.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${e?.message ?? String(error)}`;
}

export async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body!.transformToString('utf-8');
}

export async function getJson<T>(s3: S3Client, bucket: string, key: string): Promise<T> {
  const text = await getText(s3, bucket, key);
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`s3://${bucket}/${key} is not valid JSON: ${(error as Error).message}`);
  }
}

/** An object's JSON and ETag (for a conditional write back), or undefined when there is no object. */
export async function getJsonIfExists<T>(s3: S3Client, bucket: string, key: string): Promise<{ value: T; etag: string } | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = await out.Body!.transformToString('utf-8');
    try {
      return { value: JSON.parse(text) as T, etag: out.ETag! };
    } catch (error) {
      throw new Error(`s3://${bucket}/${key} is not valid JSON: ${(error as Error).message}`);
    }
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function putJson(s3: S3Client, bucket: string, key: string, value: unknown, condition: WriteCondition = {}): Promise<void> {
  await putText(s3, bucket, key, `${JSON.stringify(value, null, 2)}\n`, 'application/json', condition);
}

export async function putText(s3: S3Client, bucket: string, key: string, body: string, contentType: string, condition: WriteCondition = {}): Promise<void> {
  // ContentLength explicitly: for an empty body (an empty shard manifest) the SDK would send none.
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: Buffer.byteLength(body), ContentType: `${contentType}; charset=utf-8`, ...conditionParams(condition) }));
}

/** Streams an object line by line (JSON Lines manifests and catalogues); `undefined` when it does not exist. `ifMatch`: that version only (412 otherwise). */
export async function readLinesIfExists(s3: S3Client, bucket: string, key: string, ifMatch?: string): Promise<AsyncGenerator<string> | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: ifMatch }));
    return nonEmptyLines(out.Body as Readable);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Downloads an object to a local file, streaming; returns the ETag of the version downloaded, or undefined when there is no object. */
export async function downloadFileIfExists(s3: S3Client, bucket: string, key: string, path: string): Promise<string | undefined> {
  let out: GetObjectCommandOutput;
  try {
    out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  await pipeline(out.Body as Readable, createWriteStream(path));
  return out.ETag!;
}

export async function readLines(s3: S3Client, bucket: string, key: string): Promise<AsyncGenerator<string>> {
  const lines = await readLinesIfExists(s3, bucket, key);
  if (!lines) throw Object.assign(new Error(`s3://${bucket}/${key} does not exist`), { name: 'NoSuchKey' });
  return lines;
}

async function* nonEmptyLines(body: Readable): AsyncGenerator<string> {
  body.setEncoding('utf8');
  for await (const line of createInterface({ input: body, crlfDelay: Infinity })) if (line) yield line;
}

const UPLOAD_PART_BYTES = 8 * 1024 * 1024;

/**
 * A conditional write (S3 API reference, PutObject and CompleteMultipartUpload): `ifMatch` replaces
 * only that version, `ifNoneMatch: '*'` writes only a key that does not exist; S3 answers 412
 * otherwise (isPreconditionFailed). S3 also answers 404 NoSuchKey to `ifMatch` on a key with no
 * object (isNotFound), and 409 ConditionalRequestConflict when another conditional write to the
 * key is in progress (isConditionalConflict): every caller handles all three (S3 user guide, "How
 * to prevent object overwrites with conditional writes", Conditional write behavior).
 */
export interface WriteCondition {
  readonly ifMatch?: string;
  readonly ifNoneMatch?: '*';
}

const conditionParams = (condition: WriteCondition) => ({ IfMatch: condition.ifMatch, IfNoneMatch: condition.ifNoneMatch });

/**
 * lib-storage's Upload, aborted on every failure path. On a part's or the completion's failure
 * it aborts the multipart upload itself (leavePartsOnError: false, its default). On abort() —
 * here, `signal` — its done() rejects at once, while its own AbortMultipartUpload waits for the
 * parts in flight, which a process exiting for a retry does not: so the upload is aborted here
 * too, before done's error is passed on (a second abort answers NoSuchUpload, ignored).
 */
async function multipartUpload(s3: S3Client, params: ConstructorParameters<typeof Upload>[0]['params'], signal?: AbortSignal): Promise<void> {
  const upload = new Upload({ client: s3, params, partSize: UPLOAD_PART_BYTES, queueSize: 4, leavePartsOnError: false });
  const stop = () => void upload.abort();
  if (signal?.aborted) stop();
  else signal?.addEventListener('abort', stop, { once: true });
  try {
    await upload.done();
  } catch (error) {
    if (signal?.aborted && upload.uploadId) await s3.send(new AbortMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: upload.uploadId })).catch(() => undefined);
    throw error;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

/**
 * Uploads a local file, e.g. a catalogue written to a temp file: one PUT up to 8 MiB, multipart
 * above; conditionally when asked. `signal` stops a multipart upload and aborts it.
 */
export async function uploadFile(s3: S3Client, bucket: string, key: string, path: string, contentType: string, condition: WriteCondition = {}, signal?: AbortSignal): Promise<number> {
  const { size } = await stat(path);
  const when = conditionParams(condition);
  if (size <= UPLOAD_PART_BYTES) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(path), ContentType: contentType, ...when }));
  } else {
    // lib-storage passes its params to CompleteMultipartUpload, which carries the condition.
    await multipartUpload(s3, { Bucket: bucket, Key: key, Body: createReadStream(path), ContentType: contentType, ...when }, signal);
  }
  return size;
}

/**
 * Uploads text produced as it goes (JSON lines from a generator) without a local copy: parts of
 * UPLOAD_PART_BYTES are sent as they fill (one PUT when it all fits in one), so memory is a few
 * parts whatever the size, and no disk is needed. Conditional when asked.
 */
export async function uploadStream(s3: S3Client, bucket: string, key: string, text: AsyncIterable<string> | Iterable<string>, contentType: string, condition: WriteCondition = {}, metadata?: Record<string, string>): Promise<void> {
  // Pieces (lines, CSV rows) are joined into chunks of about 64 KiB: the upload is not fed a Buffer per line.
  const body = Readable.from((async function* () {
    let chunk = '';
    for await (const piece of text) {
      chunk += piece;
      if (chunk.length >= 64 * 1024) {
        yield Buffer.from(chunk, 'utf8');
        chunk = '';
      }
    }
    if (chunk) yield Buffer.from(chunk, 'utf8');
  })());
  await multipartUpload(s3, { Bucket: bucket, Key: key, Body: body, ContentType: contentType, Metadata: metadata, ...conditionParams(condition) });
}

/** An object's ETag and user metadata (x-amz-meta-*), or undefined when there is no object. */
export async function headIfExists(s3: S3Client, bucket: string, key: string): Promise<{ etag: string; metadata: Record<string, string> } | undefined> {
  try {
    const out = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { etag: out.ETag!, metadata: out.Metadata ?? {} };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** An object's ETag, or undefined when there is no object. */
export async function etagOf(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export interface ListOptions {
  readonly bucket: string;
  readonly prefix?: string;
  readonly delimiter?: string;
  readonly startAfter?: string;
  /** Objects per page (S3's maximum and default is 1000). */
  readonly pageSize?: number;
}

export interface ListPage {
  readonly objects: readonly _Object[];
  readonly prefixes: readonly string[];
}

/**
 * Every page of a ListObjectsV2 listing, following continuation tokens. Names are asked for
 * URL-encoded (EncodingType url) and decoded here, so that any key S3 can hold, control
 * characters included, survives the XML; a server that answers without EncodingType sent them as
 * they are.
 */
export async function* listPages(s3: S3Client, options: ListOptions): AsyncGenerator<ListPage> {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: options.bucket,
        Prefix: options.prefix || undefined,
        Delimiter: options.delimiter,
        StartAfter: token ? undefined : options.startAfter,
        ContinuationToken: token,
        MaxKeys: options.pageSize,
        EncodingType: 'url',
        // Tells archived objects that have a readable restored copy apart from those that do not.
        OptionalObjectAttributes: ['RestoreStatus'],
      }),
    );
    const name = page.EncodingType === 'url' ? decodeListedName : (n: string) => n;
    const objects = (page.Contents ?? []).map((o) => (o.Key === undefined ? o : { ...o, Key: name(o.Key) }));
    yield { objects, prefixes: (page.CommonPrefixes ?? []).map((p) => p.Prefix).filter((p): p is string => Boolean(p)).map(name) };
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (page.IsTruncated && !token) throw new Error(`ListObjectsV2 on ${options.bucket} said the listing was truncated but gave no continuation token`);
  } while (token);
}

/**
 * Lists every object under `prefix` with up to `listers` listings at once, whatever the layout:
 * the key space is cut into ranges (after, until], each listed from its StartAfter. The listing
 * starts as one range; whenever a lister turns a full page while another lister is idle, it
 * hands the upper part of its remaining range (from a split key halfway to its end, keyBetween)
 * to that lister. A split that lands past the keys costs one empty page and is tried closer next
 * time, so ranges converge on where the keys are: flat layouts (`img/0000000001.jpg` …) and
 * folders alike. Every key falls in exactly one range, whatever the split keys, so none is lost
 * or listed twice. Pages are handed to `onPage` as they come, in no particular order.
 */
export async function listInParallel(s3: S3Client, options: { bucket: string; prefix?: string; listers: number }, onPage: (objects: readonly _Object[]) => Promise<void>): Promise<{ ranges: number; pages: number }> {
  const prefix = options.prefix ?? '';
  // Split keys are printable ASCII: the ceiling of the splittable space (keys above it stay in the last range).
  const ceiling = `${prefix}~`;
  const ranges: { after?: string; until?: string }[] = [{}];
  let running = 0;
  let pages = 0;
  let made = 1;
  const listRange = async (range: { after?: string; until?: string }) => {
    let until = range.until;
    for await (const page of listPages(s3, { bucket: options.bucket, prefix, startAfter: range.after })) {
      pages++;
      const past = until === undefined ? -1 : page.objects.findIndex((o) => compareKeys(o.Key!, until!) > 0);
      const mine = past < 0 ? page.objects : page.objects.slice(0, past);
      await onPage(mine);
      if (past >= 0 || mine.length === 0) return;
      if (running < options.listers && ranges.length === 0) {
        const last = mine.at(-1)!.Key!;
        const end = until === undefined || compareKeys(until, ceiling) > 0 ? ceiling : until;
        const split = keyBetween(last, end);
        if (split !== undefined) {
          ranges.push({ after: split, ...(until !== undefined ? { until } : {}) });
          made++;
          until = split;
          pump();
        }
      }
    }
  };
  let settle!: { resolve: () => void; reject: (e: unknown) => void };
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const pump = () => {
    while (ranges.length > 0 && running < options.listers) {
      const range = ranges.shift()!;
      running++;
      listRange(range).then(
        () => {
          running--;
          if (running === 0 && ranges.length === 0) settle.resolve();
          else pump();
        },
        (error: unknown) => settle.reject(error),
      );
    }
  };
  pump();
  await done;
  return { ranges: made, pages };
}

/** A name from a listing asked with EncodingType url: percent-decoding, with "+" for a space. */
export function decodeListedName(name: string): string {
  return decodeURIComponent(name.replace(/\+/g, ' '));
}

/**
 * Looks keys up in a bucket's listing, asked in ascending key order (a shard's manifest order):
 * the listing starts just before the first key asked and only moves forward. `undefined` means
 * the key is not there; `null` means the cursor cannot tell (a key asked out of order, or the
 * listing failed), and the caller asks HeadObject instead.
 */
export class ListingCursor {
  private pages: AsyncGenerator<ListPage> | undefined;
  private page: readonly _Object[] = [];
  private index = 0;
  private exhausted = false;
  private broken = false;
  private last: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  find(key: string): Promise<_Object | undefined | null> {
    const result = this.queue.then(() => this.advanceTo(key));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async advanceTo(key: string): Promise<_Object | undefined | null> {
    if (this.broken || (this.last !== undefined && compareKeys(key, this.last) <= 0)) return null;
    this.last = key;
    // StartAfter is exclusive: start after a proper prefix of the key, which sorts before it.
    this.pages ??= listPages(this.s3, { bucket: this.bucket, startAfter: Array.from(key).slice(0, -1).join('') || undefined });
    for (;;) {
      while (this.index < this.page.length) {
        const listed = this.page[this.index]!;
        const order = compareKeys(listed.Key!, key);
        if (order < 0) this.index++;
        else return order === 0 ? listed : undefined;
      }
      if (this.exhausted) return undefined;
      let next: IteratorResult<ListPage>;
      try {
        next = await this.pages.next();
      } catch {
        this.broken = true;
        return null;
      }
      if (next.done) this.exhausted = true;
      else {
        this.page = next.value.objects;
        this.index = 0;
      }
    }
  }
}
