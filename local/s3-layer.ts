/**
 * What the embedded S3 server must do as S3 does and fauxqs does not: a small layer of our own in
 * front of it (plain HTTP on loopback, no fauxqs internals). Each behaviour is pinned by
 * test/s3-contract.test.ts, citing the S3 API reference.
 *
 * Conditional requests (S3 API reference, PutObject / GetObject / HeadObject / CopyObject /
 * UploadPartCopy / CompleteMultipartUpload, and the user guide's "Conditional requests"):
 * - writes (PutObject, CopyObject, CompleteMultipartUpload): `If-None-Match: *` fails with 412
 *   when the key exists; `If-Match: <etag>` fails with 412 when its ETag differs and 404 when
 *   there is no object. Writes to one key are serialised. A conditional write (these, and
 *   DeleteObject with If-Match) that arrives while another conditional write to the key is in
 *   progress is answered 409 ConditionalRequestConflict at once, as S3 does (S3 user guide, "How
 *   to prevent object overwrites with conditional writes", Conditional write behavior; S3 API
 *   reference, PutObject If-Match / If-None-Match): of concurrent conditional writers exactly one
 *   wins, and each of the others hears 412 or 409.
 * - reads (GetObject, HeadObject): `If-Match` fails with 412; `If-None-Match` matching gives 304.
 * - deletes (DeleteObject): `If-Match: <etag>` fails with 412 when the ETag differs and 404 when
 *   there is no object (S3 user guide, "How to perform conditional deletes").
 * - copy sources (CopyObject, UploadPartCopy): `x-amz-copy-source-if-match` fails with 412 when the
 *   source's ETag differs, `x-amz-copy-source-if-none-match` when it matches.
 *
 * Multipart ETags (S3 user guide, "Checking object integrity": the ETag of an object uploaded in
 * parts is the MD5 of its parts' binary MD5s, then "-" and the part count, e.g. "…-3"): fauxqs
 * gives a completed upload a plain MD5. The layer answers with the S3 form wherever the ETag
 * shows (CompleteMultipartUpload, HeadObject, GetObject, listings, conditions), until the key is
 * written again.
 *
 * Storage classes (PutObject, CopyObject and CreateMultipartUpload `x-amz-storage-class`; a copy
 * without one is STANDARD): kept per key, answered by HeadObject and GetObject
 * (`x-amz-storage-class`, left out for STANDARD, as S3 does) and in listings' StorageClass.
 *
 * Object tagging, which fauxqs does not keep; each object's tag set is kept beside fauxqs's data:
 *
 * - PutObject and CreateMultipartUpload take `x-amz-tagging` (a URL-encoded query string); a
 *   completed multipart upload gets the tags its CreateMultipartUpload named. An overwrite
 *   replaces the tags (none given: none kept).
 * - CopyObject copies the source's tags unless `x-amz-tagging-directive: REPLACE`, which takes
 *   `x-amz-tagging` instead (CopyObject, "x-amz-tagging-directive": default COPY).
 * - GET/PUT/DELETE `?tagging` read, replace and remove an object's tag set; GetObject and
 *   HeadObject answer `x-amz-tagging-count` when there are tags.
 * - DeleteObject removes the tags with the object.
 *
 * Server-side encryption (S3 API reference, "Common Response Headers" and the Object data type's
 * ETag: objects written by PutObject or CopyObject under SSE-KMS or DSSE-KMS "have ETags that are
 * not an MD5 digest of their object data"; under SSE-S3 or none they are): a PutObject or
 * CreateMultipartUpload that names `x-amz-server-side-encryption: aws:kms` or `aws:kms:dsse` is
 * kept per key; that object's ETag is then not its MD5, and GetObject and HeadObject answer its
 * encryption (and key id), as they answer `AES256` for every other object (S3 encrypts every new
 * object with SSE-S3 by default). A copy takes its destination bucket's default, SSE-S3 here (a
 * copy that names a KMS key is not modelled: the jobs' copies never do).
 *
 * Everything else passes through untouched, bodies streamed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, request as httpRequest, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { s3EventRecord, type S3EventMessage, type S3EventName } from '../core/s3-event';

type TagSet = [string, string][];

/** An object a request addresses: its bucket and key. */
type ObjectRef = { bucket: string; key: string };

/** A request header's value (the layer reads single-valued ones only). */
const header = (req: IncomingMessage, name: string) => req.headers[name] as string | undefined;

/**
 * Where the layer sends S3 event notifications (S3 user guide, "Event message structure", version
 * 2.1): one message per successful PutObject, CopyObject, CompleteMultipartUpload and DeleteObject
 * of a bucket `buckets` names, as S3 sends them to a notification's queue.
 */
export interface S3Notify {
  readonly buckets: readonly string[];
  send(message: S3EventMessage): void;
}

export interface S3Layer {
  readonly port: number;
  /** Requests received so far, by requestKind (a snapshot). */
  requests(): Record<string, number>;
  close(): Promise<void>;
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const xmlUnescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** An `If-Match` / `If-None-Match` value (`*`, or ETags, quoted or not, comma-separated) against an object's ETag. */
function etagMatches(condition: string, etag: string): boolean {
  const bare = (t: string) => t.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return condition.split(',').some((c) => c.trim() === '*' || bare(c) === bare(etag));
}

/**
 * `x-amz-tagging`: "encoded as URL Query parameters" (PutObject, CreateMultipartUpload), read as S3
 * reads it: percent-decoded, and a `+` is a plus, not a space (URLSearchParams would make it one).
 */
export function parseTaggingHeader(value: string | undefined): TagSet {
  if (!value) return [];
  return value.split('&').filter(Boolean).map((pair): [string, string] => {
    const eq = pair.indexOf('=');
    return eq < 0 ? [decodeURIComponent(pair), ''] : [decodeURIComponent(pair.slice(0, eq)), decodeURIComponent(pair.slice(eq + 1))];
  });
}

/** The KMS encryption a write names (SSE-KMS, DSSE-KMS), as the headers S3 answers for that object; undefined for SSE-S3 or none. */
function kmsEncryption(req: IncomingMessage): Record<string, string> | undefined {
  const algorithm = header(req, 'x-amz-server-side-encryption');
  if (algorithm !== 'aws:kms' && algorithm !== 'aws:kms:dsse') return undefined;
  const keyId = header(req, 'x-amz-server-side-encryption-aws-kms-key-id');
  return { 'x-amz-server-side-encryption': algorithm, ...(keyId ? { 'x-amz-server-side-encryption-aws-kms-key-id': keyId } : {}) };
}

function tagSetXml(tags: TagSet): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>${tags.map(([k, v]) => `<Tag><Key>${xmlEscape(k)}</Key><Value>${xmlEscape(v)}</Value></Tag>`).join('')}</TagSet></Tagging>`;
}

function parseTagSetXml(xml: string): TagSet {
  return [...xml.matchAll(/<Tag>\s*<Key>([\s\S]*?)<\/Key>\s*<Value>([\s\S]*?)<\/Value>\s*<\/Tag>/g)].map((m) => [xmlUnescape(m[1]!), xmlUnescape(m[2]!)]);
}

/** S3's URL encoding of names in listings: percent-encoding with "/" kept and a space as "+" (SDKs decode with unquote_plus). */
function s3UrlEncode(name: string): string {
  return encodeURIComponent(name).replace(/%2F/g, '/').replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `/bucket/key…` → bucket and decoded key (path-style addressing, as the project's clients use). */
function target(url: URL): ObjectRef | undefined {
  const [, bucket, ...rest] = url.pathname.split('/');
  if (!bucket || rest.length === 0 || rest.join('/') === '') return undefined;
  return { bucket: decodeURIComponent(bucket), key: decodeURIComponent(rest.join('/')) };
}

/** `x-amz-copy-source`: `bucket/key` or `/bucket/key`, URL-encoded, maybe with `?versionId=`. */
function copySourceOf(header: string): string {
  const path = decodeURIComponent(header.replace(/^\//, '').replace(/\?versionId=.*$/, ''));
  const slash = path.indexOf('/');
  return `${path.slice(0, slash)}\0${path.slice(slash + 1)}`;
}

/** The S3 ETag of a completed multipart upload, from its parts' ETags (hex MD5s). */
export function multipartEtag(partEtags: readonly string[]): string {
  const md5s = Buffer.concat(partEtags.map((e) => Buffer.from(e.replace(/"/g, ''), 'hex')));
  return `"${createHash('md5').update(md5s).digest('hex')}-${partEtags.length}"`;
}

/**
 * A request's kind, as S3 prices it: LIST (a bucket GET), GET, HEAD, PUT, COPY (a PUT with
 * x-amz-copy-source: CopyObject and UploadPartCopy), POST (multipart create and complete, batch
 * delete; SNS too), DELETE.
 */
export function requestKind(req: Pick<IncomingMessage, 'method' | 'headers'>, onObject: boolean): string {
  const method = req.method ?? 'GET';
  if (method === 'GET') return onObject ? 'GET' : 'LIST';
  if (method === 'PUT' && req.headers['x-amz-copy-source']) return 'COPY';
  return method;
}

/**
 * Starts the layer in front of fauxqs. One closure, long on purpose: the layer's state (tags,
 * multipart ETags and storage classes by key, saved to one file), its upstream and its per-key
 * write queue are shared by the short handlers inside it, one per S3 operation it corrects
 * (`handle` routes to them).
 */
export async function startS3Layer(options: { upstreamPort: number; port?: number; file?: string; notify?: S3Notify }): Promise<S3Layer> {
  const saved = (options.file && existsSync(options.file) ? JSON.parse(readFileSync(options.file, 'utf8')) : {}) as { tags?: [string, TagSet][]; etags?: [string, string][]; classes?: [string, string][]; kms?: [string, Record<string, string>][] };
  const tags = new Map<string, TagSet>(saved.tags ?? []);
  /** Keys completed by a multipart upload → their S3 ETag. */
  const etags = new Map<string, string>(saved.etags ?? []);
  /** Keys whose storage class is not STANDARD → their class. */
  const classes = new Map<string, string>(saved.classes ?? []);
  /** Keys written under SSE-KMS or DSSE-KMS → the encryption headers S3 answers for them. */
  const kms = new Map<string, Record<string, string>>(saved.kms ?? []);
  const pendingUploads = new Map<string, { tags: TagSet; storageClass: string; kms?: Record<string, string> }>();
  const save = () => {
    if (options.file) writeFileSync(options.file, JSON.stringify({ tags: [...tags], etags: [...etags], classes: [...classes], kms: [...kms] }));
  };
  /** Sets or removes a key's entry in one of the maps; saves only when something changed. */
  const update = <V>(map: Map<string, V>, id: string, value: V | undefined) => {
    if (value !== undefined) map.set(id, value);
    else if (!map.delete(id)) return;
    save();
  };
  const setClass = (id: string, storageClass: string | undefined) => update(classes, id, storageClass && storageClass !== 'STANDARD' ? storageClass : undefined);
  const setEtag = (id: string, etag: string | undefined) => update(etags, id, etag);
  const setTags = (id: string, set: TagSet) => update(tags, id, set.length > 0 ? set : undefined);
  const setKms = (id: string, headers: Record<string, string> | undefined) => update(kms, id, headers);
  /** The encryption headers S3 answers for an object: its KMS encryption, or SSE-S3. */
  const encryptionOf = (id: string) => kms.get(id) ?? { 'x-amz-server-side-encryption': 'AES256' };

  /** Forwards a request upstream (with `body` when it was read already) and buffers the (small) answer. */
  const forward = (req: IncomingMessage, body?: Buffer) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; payload: Buffer }>((resolve, reject) => {
      const up = httpRequest({ host: '127.0.0.1', port: options.upstreamPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => resolve({ status: answer.statusCode ?? 500, headers: answer.headers, payload: Buffer.concat(chunks) }));
        answer.on('error', reject);
      });
      up.on('error', reject);
      if (body) up.end(body);
      else req.pipe(up);
    });

  /** Streams the upstream answer to the client, with extra headers. */
  const relay = (req: IncomingMessage, res: ServerResponse, extra: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      const up = httpRequest({ host: '127.0.0.1', port: options.upstreamPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 500, { ...answer.headers, ...extra });
        answer.pipe(res);
        answer.on('end', () => resolve(answer.statusCode ?? 500));
        answer.on('error', reject);
      });
      up.on('error', reject);
      req.pipe(up);
    });

  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };

  /** The object's current ETag (quotes included), or undefined when there is no object. */
  const etagOf = (bucket: string, key: string) =>
    new Promise<string | undefined>((resolve, reject) => {
      const path = `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
      const up = httpRequest({ host: '127.0.0.1', port: options.upstreamPort, method: 'HEAD', path, headers: { authorization: 'AWS4-HMAC-SHA256 Credential=nightshift/20260101/us-east-1/s3/aws4_request' } }, (answer) => {
        answer.resume();
        resolve(answer.statusCode === 200 ? (etags.get(`${bucket}\0${key}`) ?? String(answer.headers.etag)) : undefined);
      });
      up.on('error', reject);
      up.end();
    });
  const objectExists = async (bucket: string, key: string) => (await etagOf(bucket, key)) !== undefined;

  /** S3 orders a key's events by sequencer, a hex string compared after padding: here a counter. */
  let sequence = 0;
  /** Sends the event of a write that succeeded (its ETag and size read back in its serialised step, so they are the write's). */
  const emit = async (eventName: S3EventName, object: ObjectRef) => {
    if (!options.notify?.buckets.includes(object.bucket)) return;
    const sequencer = (++sequence).toString(16).toUpperCase().padStart(16, '0');
    const created = eventName.startsWith('ObjectCreated:');
    const facts = created ? await sizeAndEtagOf(object.bucket, object.key) : undefined;
    options.notify.send({ Records: [s3EventRecord({ eventName, bucket: object.bucket, key: object.key, ...(facts ?? {}), sequencer, time: new Date() })] });
  };
  const sizeAndEtagOf = async (bucket: string, key: string) => {
    const etag = await etagOf(bucket, key);
    const size = await new Promise<number>((resolve, reject) => {
      const path = `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
      const up = httpRequest({ host: '127.0.0.1', port: options.upstreamPort, method: 'HEAD', path, headers: { authorization: 'AWS4-HMAC-SHA256 Credential=nightshift/20260101/us-east-1/s3/aws4_request' } }, (answer) => {
        answer.resume();
        resolve(Number(answer.headers['content-length'] ?? 0));
      });
      up.on('error', reject);
      up.end();
    });
    return etag === undefined ? undefined : { etag, size };
  };

  // Writes to one key run one at a time: a conditional write's check and the write itself are one step.
  const writing = new Map<string, Promise<unknown>>();
  const serialised = <T>(id: string, work: () => Promise<T>): Promise<T> => {
    const run = (writing.get(id) ?? Promise.resolve()).then(work, work);
    const tail = run.catch(() => undefined);
    writing.set(id, tail);
    void tail.then(() => {
      if (writing.get(id) === tail) writing.delete(id);
    });
    return run;
  };

  /** Keys with a conditional write in progress (from its arrival to its answer). */
  const conditionalInFlight = new Set<string>();
  /**
   * A write, serialised with the key's other writes; a conditional one is answered 409
   * ConditionalRequestConflict instead when another conditional write to the key is in progress.
   */
  const write = async (req: IncomingMessage, res: ServerResponse, id: string, work: () => Promise<void>): Promise<void> => {
    if (header(req, 'if-match') === undefined && header(req, 'if-none-match') === undefined) return serialised(id, work);
    if (conditionalInFlight.has(id)) return void (req.resume(), conditionalConflict(res));
    conditionalInFlight.add(id);
    try {
      await serialised(id, work);
    } finally {
      conditionalInFlight.delete(id);
    }
  };

  /**
   * Evaluates the conditional headers of a request as S3 does. Answers the request and returns
   * true when a condition fails; otherwise removes the headers it evaluated (so that the server
   * behind sees a plain request) and returns false.
   */
  async function conditionFails(req: IncomingMessage, res: ServerResponse, object: ObjectRef, write: boolean): Promise<boolean> {
    const h = req.headers;
    const ifMatch = h['if-match'] as string | undefined;
    const ifNoneMatch = h['if-none-match'] as string | undefined;
    const source = h['x-amz-copy-source'] as string | undefined;
    const sourceIfMatch = h['x-amz-copy-source-if-match'] as string | undefined;
    const sourceIfNoneMatch = h['x-amz-copy-source-if-none-match'] as string | undefined;
    if (ifMatch !== undefined || ifNoneMatch !== undefined) {
      const current = await etagOf(object.bucket, object.key);
      if (ifMatch !== undefined) {
        if (current === undefined && write) {
          noSuchKey(res, object.key);
          return true;
        }
        if (current !== undefined && !etagMatches(ifMatch, current)) {
          preconditionFailed(res, req, 'If-Match');
          return true;
        }
      }
      if (ifNoneMatch !== undefined && current !== undefined && etagMatches(ifNoneMatch, current)) {
        if (write) {
          preconditionFailed(res, req, 'If-None-Match');
          return true;
        }
        return void res.writeHead(304, { etag: current }).end(), true;
      }
    }
    if (source && (sourceIfMatch !== undefined || sourceIfNoneMatch !== undefined)) {
      const [bucket, key] = copySourceOf(source).split('\0') as [string, string];
      const current = await etagOf(bucket, key);
      if (current !== undefined && sourceIfMatch !== undefined && !etagMatches(sourceIfMatch, current)) {
          preconditionFailed(res, req, 'x-amz-copy-source-If-Match');
          return true;
        }
      if (current !== undefined && sourceIfNoneMatch !== undefined && etagMatches(sourceIfNoneMatch, current)) {
          preconditionFailed(res, req, 'x-amz-copy-source-If-None-Match');
          return true;
        }
    }
    for (const name of ['if-match', 'if-none-match', 'x-amz-copy-source-if-match', 'x-amz-copy-source-if-none-match']) delete h[name];
    return false;
  }

  const preconditionFailed = (res: ServerResponse, req: IncomingMessage, condition: string) => {
    res.writeHead(412, { 'content-type': 'application/xml' });
    res.end(req.method === 'HEAD' ? undefined : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>${condition}</Condition></Error>`);
  };

  // S3's answer, code and message, to a conditional write that met another in progress.
  const conditionalConflict = (res: ServerResponse) =>
    res.writeHead(409, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ConditionalRequestConflict</Code><Message>A conflicting conditional operation is currently in progress against this resource. Please try again.</Message></Error>`);

  const noSuchKey = (res: ServerResponse, key: string) =>
    res.writeHead(404, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${xmlEscape(key)}</Key></Error>`);

  /**
   * A listing, when fauxqs's needs correcting: multipart objects' ETags in S3's form, and with
   * `encoding-type=url` the key names URL-encoded, as S3 does (ListObjectsV2, "EncodingType": Key,
   * Prefix, StartAfter and Delimiter are encoded, and the response says EncodingType url), so that
   * keys holding characters XML 1.0 cannot carry survive the listing.
   */
  async function relayListing(req: IncomingMessage, res: ServerResponse, bucket: string, urlEncode: boolean): Promise<void> {
    const answer = await forward(req);
    let xml = answer.payload.toString('utf8').replace(/<Contents>([\s\S]*?)<\/Contents>/g, (contents, inner: string) => {
      const raw = /<Key>([^<]*)<\/Key>/.exec(inner)?.[1];
      if (raw === undefined) return contents;
      const id = `${bucket}\0${xmlUnescape(raw)}`;
      const etag = etags.get(id);
      const storageClass = classes.get(id);
      let out = etag ? contents.replace(/<ETag>[^<]*<\/ETag>/, `<ETag>${xmlEscape(etag)}</ETag>`) : contents;
      if (storageClass) out = /<StorageClass>/.test(out) ? out.replace(/<StorageClass>[^<]*<\/StorageClass>/, `<StorageClass>${storageClass}</StorageClass>`) : out.replace('</Contents>', `<StorageClass>${storageClass}</StorageClass></Contents>`);
      return out;
    });
    if (urlEncode && answer.status === 200 && !/<EncodingType>/.test(xml)) {
      xml = xml
        .replace(/<(Key|Prefix|StartAfter|Delimiter)>([^<]*)<\/\1>/g, (_, element: string, raw: string) => `<${element}>${s3UrlEncode(xmlUnescape(raw))}</${element}>`)
        .replace(/<\/ListBucketResult>\s*$/, '<EncodingType>url</EncodingType></ListBucketResult>');
    }
    const payload = Buffer.from(xml);
    res.writeHead(answer.status, { ...answer.headers, 'content-length': String(payload.length) }).end(payload);
  }

  /** Routes a request to what the layer adds for it, or relays it as it is. */
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const object = target(url);
    const kind = requestKind(req, object !== undefined);
    requests[kind] = (requests[kind] ?? 0) + 1;
    if (!object) return bucketRequest(req, res, url);
    const id = `${object.bucket}\0${object.key}`;
    const uploadId = url.searchParams.get('uploadId');
    if (url.searchParams.has('tagging') && (await taggingRequest(req, res, object, id))) return;
    if (req.method === 'POST' && url.searchParams.has('uploads')) return createMultipart(req, res);
    if (req.method === 'POST' && uploadId) return completeMultipart(req, res, object, id, uploadId);
    if (req.method === 'PUT' && uploadId) {
      // UploadPartCopy's copy-source conditions; the part itself is not the object.
      if (await conditionFails(req, res, { bucket: '', key: '' }, false)) return void req.resume();
      await relay(req, res);
      return;
    }
    if (req.method === 'PUT') return putObject(req, res, object, id);
    if (req.method === 'DELETE' && !uploadId) return deleteObject(req, res, object, id);
    if (req.method === 'GET' || req.method === 'HEAD') return readObject(req, res, object, id);
    await relay(req, res);
  }

  /** A bucket request: a listing is rewritten when it must be URL-encoded or carries what fauxqs does not store. */
  async function bucketRequest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const bucket = decodeURIComponent(url.pathname.split('/')[1] ?? '');
    const urlEncode = url.searchParams.get('encoding-type') === 'url';
    const holds = (m: Map<string, unknown>) => [...m.keys()].some((k) => k.startsWith(`${bucket}\0`));
    if (req.method === 'GET' && bucket && (urlEncode || holds(etags) || holds(classes))) return relayListing(req, res, bucket, urlEncode);
    await relay(req, res);
  }

  /** GetObjectTagging, PutObjectTagging, DeleteObjectTagging: kept here. False when another method is left to the rest. */
  async function taggingRequest(req: IncomingMessage, res: ServerResponse, object: ObjectRef, id: string): Promise<boolean> {
    if (!(await objectExists(object.bucket, object.key))) return (noSuchKey(res, object.key), true);
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/xml' }).end(tagSetXml(tags.get(id) ?? []));
      return true;
    }
    if (req.method === 'PUT') {
      setTags(id, parseTagSetXml((await readBody(req)).toString('utf8')));
      res.writeHead(200).end();
      return true;
    }
    if (req.method === 'DELETE') {
      setTags(id, []);
      res.writeHead(204).end();
      return true;
    }
    return false;
  }

  /** CreateMultipartUpload: the upload's tags and storage class wait for its completion. */
  async function createMultipart(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const answer = await forward(req);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(answer.payload.toString('utf8'))?.[1];
    if (answer.status === 200 && uploadId) pendingUploads.set(uploadId, { tags: parseTaggingHeader(header(req, 'x-amz-tagging')), storageClass: header(req, 'x-amz-storage-class') ?? 'STANDARD', kms: kmsEncryption(req) });
    res.writeHead(answer.status, answer.headers).end(answer.payload);
  }

  /** CompleteMultipartUpload: conditional, and answering S3's multipart ETag ("<md5 of part MD5s>-<parts>"). */
  async function completeMultipart(req: IncomingMessage, res: ServerResponse, object: ObjectRef, id: string, uploadId: string): Promise<void> {
    await write(req, res, id, async () => {
      if (await conditionFails(req, res, object, true)) {
        req.resume();
        return;
      }
      const body = await readBody(req);
      const parts = [...body.toString('utf8').matchAll(/<ETag>([^<]+)<\/ETag>/g)].map((m) => xmlUnescape(m[1]!));
      const answer = await forward(req, body);
      let payload = answer.payload;
      if (answer.status === 200 && !/<Error>/.test(payload.toString('utf8'))) {
        const etag = multipartEtag(parts);
        setEtag(id, etag);
        setTags(id, pendingUploads.get(uploadId)?.tags ?? []);
        setClass(id, pendingUploads.get(uploadId)?.storageClass);
        setKms(id, pendingUploads.get(uploadId)?.kms);
        pendingUploads.delete(uploadId);
        payload = Buffer.from(payload.toString('utf8').replace(/<ETag>[^<]*<\/ETag>/, `<ETag>${xmlEscape(etag)}</ETag>`));
        await emit('ObjectCreated:CompleteMultipartUpload', object);
      }
      res.writeHead(answer.status, { ...answer.headers, 'content-length': String(payload.length) }).end(payload);
    });
  }

  /** PutObject and CopyObject: conditional, with the tags and storage class the request sets (or, for a copy, its source's tags). */
  async function putObject(req: IncomingMessage, res: ServerResponse, object: ObjectRef, id: string): Promise<void> {
    await write(req, res, id, async () => {
      if (await conditionFails(req, res, object, true)) {
        req.resume();
        return;
      }
      const source = header(req, 'x-amz-copy-source');
      const next = source && (header(req, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase() === 'COPY' ? [...(tags.get(copySourceOf(source)) ?? [])] : parseTaggingHeader(header(req, 'x-amz-tagging'));
      // Under SSE-KMS an ETag that is not the MD5 of the data (32 hex digits, as S3 gives).
      const encrypted = source ? undefined : kmsEncryption(req);
      const etag = encrypted && `"${randomBytes(16).toString('hex')}"`;
      const status = await relay(req, res, { ...(encrypted ?? { 'x-amz-server-side-encryption': 'AES256' }), ...(etag ? { etag } : {}) });
      if (status === 200) {
        setTags(id, next);
        setEtag(id, etag); // a new object: its own ETag
        setClass(id, header(req, 'x-amz-storage-class')); // a copy without one is STANDARD, whatever its source's
        setKms(id, encrypted);
        await emit(source ? 'ObjectCreated:Copy' : 'ObjectCreated:Put', object);
      }
    });
  }

  /** DeleteObject: If-Match only (S3 has no If-None-Match on DELETE); 412 on another ETag, 404 when absent. */
  async function deleteObject(req: IncomingMessage, res: ServerResponse, object: ObjectRef, id: string): Promise<void> {
    delete req.headers['if-none-match'];
    await write(req, res, id, async () => {
      if (await conditionFails(req, res, object, true)) return;
      const status = await relay(req, res);
      if (status === 204 || status === 200) {
        setTags(id, []);
        setEtag(id, undefined);
        setClass(id, undefined);
        setKms(id, undefined);
        await emit('ObjectRemoved:Delete', object);
      }
    });
  }

  /** GetObject and HeadObject: conditional, with the tag count, multipart ETag and storage class fauxqs does not keep. */
  async function readObject(req: IncomingMessage, res: ServerResponse, object: ObjectRef, id: string): Promise<void> {
    if (await conditionFails(req, res, object, false)) return;
    const count = tags.get(id)?.length;
    const etag = etags.get(id);
    const storageClass = classes.get(id);
    await relay(req, res, { ...(count ? { 'x-amz-tagging-count': String(count) } : {}), ...(etag ? { etag } : {}), ...(storageClass ? { 'x-amz-storage-class': storageClass } : {}), ...encryptionOf(id) });
  }

  /** Requests received, by requestKind: what a benchmark counts per object. */
  const requests: Record<string, number> = {};

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/xml' }).end(`<Error><Code>InternalError</Code><Message>${xmlEscape(String(error))}</Message></Error>`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  // A port in use rejects (EADDRINUSE) instead of throwing from an unhandled 'error' event.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    requests: () => ({ ...requests }),
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
