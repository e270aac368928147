/**
 * The S3 contract: every S3 behaviour the pipeline's guarantees rest on, run against the embedded
 * server (fauxqs behind a layer of ours, local/s3-layer.ts). Each case cites the S3 API reference
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/). Where the embedded server lacks a behaviour,
 * the server is made right, never this test lenient.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { compareKeys } from '../core/keys';
import { listPages } from '../adapters/s3';
import { startTestS3, type TestS3 } from './support/processes';

describe('S3 contract (embedded server)', () => {
  let server: TestS3;
  beforeAll(async () => {
    server = await startTestS3(['order-test']);
  });
  afterAll(() => server.stop());

  const keys = ['B.jpg', 'a.jpg', 'caf\u00e9.jpg', 'cafe\u0301.jpg', 'Z/1.jpg', 'z/2.jpg', '\u{1F600}.jpg', '\uFF21.jpg', 'a b.jpg', 'a+b.jpg', 'A.jpg', 'é/x.jpg', 'e/x.jpg'];

  it('listens on loopback', () => {
    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('lists in S3 (UTF-8 byte) order and loses no key across pages, whatever the case or accents', async () => {
    for (const key of keys) await server.s3.send(new PutObjectCommand({ Bucket: 'order-test', Key: key, Body: key }));
    for (const pageSize of [1, 2, 3, 1000]) {
      const listed: string[] = [];
      for await (const page of listPages(server.s3, { bucket: 'order-test', pageSize })) listed.push(...page.objects.map((o) => o.Key!));
      expect(listed).toEqual([...keys].sort(compareKeys));
    }
  });

  it('rolls keys up into common prefixes with a delimiter, across pages', async () => {
    const prefixes: string[] = [];
    const objects: string[] = [];
    for await (const page of listPages(server.s3, { bucket: 'order-test', delimiter: '/', pageSize: 2 })) {
      prefixes.push(...page.prefixes);
      objects.push(...page.objects.map((o) => o.Key!));
    }
    expect(new Set(prefixes)).toEqual(new Set(['Z/', 'z/', 'é/', 'e/']));
    expect(objects).toHaveLength(keys.length - 4);
  });

  it('answers a missing bucket with NoSuchBucket', async () => {
    await expect(server.s3.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' }))).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });

  /**
   * Object tagging as the S3 API reference documents it (PutObject / CreateMultipartUpload
   * `x-amz-tagging`; CopyObject `x-amz-tagging-directive`, default COPY; Get/Put/DeleteObjectTagging;
   * HeadObject `x-amz-tagging-count`): the guarantee that a backup keeps its original's tags rests on it.
   */
  it('keeps, copies, replaces and removes object tags as S3 does', async () => {
    const tagsOf = async (key: string) => (await server.s3.send(new GetObjectTaggingCommand({ Bucket: 'order-test', Key: key }))).TagSet;
    await server.s3.send(new PutObjectCommand({ Bucket: 'order-test', Key: 'tags/a b.jpg', Body: 'a', Tagging: 'k=v%26w&empty=' }));
    expect(await tagsOf('tags/a b.jpg')).toEqual([{ Key: 'k', Value: 'v&w' }, { Key: 'empty', Value: '' }]);
    expect((await server.s3.send(new HeadObjectCommand({ Bucket: 'order-test', Key: 'tags/a b.jpg' }))).TagCount).toBe(2);
    await server.s3.send(new CopyObjectCommand({ Bucket: 'order-test', Key: 'tags/copied.jpg', CopySource: 'order-test/tags/a%20b.jpg' }));
    expect(await tagsOf('tags/copied.jpg')).toEqual([{ Key: 'k', Value: 'v&w' }, { Key: 'empty', Value: '' }]);
    await server.s3.send(new CopyObjectCommand({ Bucket: 'order-test', Key: 'tags/replaced.jpg', CopySource: 'order-test/tags/a%20b.jpg', TaggingDirective: 'REPLACE', Tagging: 'x=1' }));
    expect(await tagsOf('tags/replaced.jpg')).toEqual([{ Key: 'x', Value: '1' }]);
    await server.s3.send(new PutObjectTaggingCommand({ Bucket: 'order-test', Key: 'tags/replaced.jpg', Tagging: { TagSet: [{ Key: 'y', Value: '<2>' }] } }));
    expect(await tagsOf('tags/replaced.jpg')).toEqual([{ Key: 'y', Value: '<2>' }]);
    await server.s3.send(new PutObjectCommand({ Bucket: 'order-test', Key: 'tags/a b.jpg', Body: 'a2' })); // an overwrite without tags has none
    expect(await tagsOf('tags/a b.jpg')).toEqual([]);
    await server.s3.send(new DeleteObjectCommand({ Bucket: 'order-test', Key: 'tags/copied.jpg' }));
    await expect(tagsOf('tags/copied.jpg')).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  /**
   * `x-amz-tagging` is "encoded as URL Query parameters" (PutObject, CreateMultipartUpload): S3
   * percent-decodes it and reads a `+` as a plus, not as a space (form encoding is not URL encoding).
   */
  it('reads x-amz-tagging percent-decoded, a plus as a plus', async () => {
    await server.s3.send(new PutObjectCommand({ Bucket: 'order-test', Key: 'tags/plus.jpg', Body: 'a', Tagging: 'owner=studio%20b&formula=a+b%2Bc' }));
    const { TagSet } = await server.s3.send(new GetObjectTaggingCommand({ Bucket: 'order-test', Key: 'tags/plus.jpg' }));
    expect(TagSet).toEqual([{ Key: 'owner', Value: 'studio b' }, { Key: 'formula', Value: 'a+b+c' }]);
  });

  /**
   * Server-side encryption (S3 API reference, "Common Response Headers": x-amz-server-side-encryption;
   * the Object data type's ETag: under SSE-KMS or DSSE-KMS an object written by PutObject or
   * CopyObject "ha[s] ETags that are not an MD5 digest of their object data", under SSE-S3 or none
   * they are). S3 encrypts every new object with SSE-S3 unless told otherwise, and a copy takes its
   * destination's default, not its source's encryption.
   */
  it('answers each object its encryption, and a non-MD5 ETag under SSE-KMS and DSSE-KMS', async () => {
    const keyId = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const md5 = `"${createHash('md5').update('sse body').digest('hex')}"`;
    const head = (Key: string) => server.s3.send(new HeadObjectCommand({ Bucket: 'order-test', Key }));
    for (const sse of ['aws:kms', 'aws:kms:dsse'] as const) {
      const put = await server.s3.send(new PutObjectCommand({ Bucket: 'order-test', Key: `sse/${sse}`, Body: 'sse body', ServerSideEncryption: sse, SSEKMSKeyId: keyId }));
      expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(put.ETag).not.toBe(md5);
      const got = await head(`sse/${sse}`);
      expect({ sse: got.ServerSideEncryption, key: got.SSEKMSKeyId, etag: got.ETag }).toEqual({ sse, key: keyId, etag: put.ETag });
      const listed = (await server.s3.send(new ListObjectsV2Command({ Bucket: 'order-test', Prefix: `sse/${sse}` }))).Contents!;
      expect(listed.map((o) => o.ETag)).toEqual([put.ETag]);
    }
    const plain = await server.s3.send(new PutObjectCommand({ Bucket: 'order-test', Key: 'sse/plain', Body: 'sse body' }));
    expect({ etag: plain.ETag, sse: (await head('sse/plain')).ServerSideEncryption }).toEqual({ etag: md5, sse: 'AES256' });
    const copy = await server.s3.send(new CopyObjectCommand({ Bucket: 'order-test', Key: 'sse/copy', CopySource: 'order-test/sse/aws:kms' }));
    expect({ etag: copy.CopyObjectResult!.ETag, sse: (await head('sse/copy')).ServerSideEncryption }).toEqual({ etag: md5, sse: 'AES256' });
  });

  describe('conditional requests', () => {
    const B = 'order-test';
    const put = (Key: string, Body: string, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}) => server.s3.send(new PutObjectCommand({ Bucket: B, Key, Body, ...extra }));
    const status = (error: unknown) => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const refused = async (p: Promise<unknown>) => p.then(() => 'accepted', (e: unknown) => `${status(e)} ${(e as { name?: string }).name}`);

    // PutObject, "If-None-Match": uploads only if the key does not exist; 412 Precondition Failed otherwise.
    it('PutObject If-None-Match: * writes a new key once, and refuses when it exists', async () => {
      expect(await refused(put('cond/once.json', 'first', { IfNoneMatch: '*' }))).toBe('accepted');
      expect(await refused(put('cond/once.json', 'second', { IfNoneMatch: '*' }))).toBe('412 PreconditionFailed');
      expect(await (await server.s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond/once.json' }))).Body!.transformToString()).toBe('first');
    });

    // DeleteObject, "If-Match" (S3 user guide, "How to perform conditional deletes"): deletes only if
    // the ETag matches (204); 412 Precondition Failed if it does not; 404 NoSuchKey if there is no
    // object. Pruning rests on it: a rendition rewritten since it was checked is never deleted.
    it('DeleteObject If-Match deletes only the version it read', async () => {
      const { ETag } = await put('cond/rendition.jpeg', 'old');
      const { ETag: newer } = await put('cond/rendition.jpeg', 'rewritten');
      expect(await refused(server.s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'cond/rendition.jpeg', IfMatch: ETag })))).toBe('412 PreconditionFailed');
      expect(await (await server.s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond/rendition.jpeg' }))).Body!.transformToString()).toBe('rewritten');
      expect(await refused(server.s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'cond/rendition.jpeg', IfMatch: newer })))).toBe('accepted');
      expect(await refused(server.s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cond/rendition.jpeg' })))).toBe('404 NotFound');
      expect(await refused(server.s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'cond/rendition.jpeg', IfMatch: newer })))).toBe('404 NoSuchKey');
    });

    // S3 user guide, "How to prevent object overwrites with conditional writes"
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html), Conditional
    // write behavior, and S3 API reference, PutObject If-None-Match: of concurrent conditional
    // writers the first to finish wins; each other one is refused with 412 Precondition Failed or,
    // while the winner's write is in progress, 409 ConditionalRequestConflict. Never two winners.
    it('of two concurrent If-None-Match: * writes, exactly one wins; the others hear 412 or 409', async () => {
      for (const round of [1, 2, 3]) {
        const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => refused(put(`cond/race-${round}.json`, `writer ${i}`, { IfNoneMatch: '*' }))));
        expect(outcomes.filter((o) => o === 'accepted')).toHaveLength(1);
        expect(outcomes.filter((o) => o !== 'accepted' && o !== '412 PreconditionFailed' && o !== '409 ConditionalRequestConflict')).toEqual([]);
      }
    });

    // The same page, and PutObject If-Match / If-None-Match ("If a conflicting operation occurs
    // during the upload S3 returns a 409 ConditionalRequestConflict response. On a 409 failure you
    // should fetch the object's ETag and retry the upload"): a conditional write that arrives while
    // another conditional write to the key is in progress is refused with 409, nothing written; the
    // one in progress completes. An unconditional write is not refused (it waits its turn).
    it('answers 409 ConditionalRequestConflict to a conditional write while another is in progress', async () => {
      const { ETag } = await put('cond/busy.json', 'v1');
      const slow = await slowPut('cond/busy.json', { 'if-match': ETag! });
      const conflict = await server.s3.send(new PutObjectCommand({ Bucket: B, Key: 'cond/busy.json', Body: 'v2', IfMatch: ETag })).then(
        () => undefined,
        (e: unknown) => e as { name: string; message: string; $metadata: { httpStatusCode: number } },
      );
      expect(conflict).toMatchObject({ name: 'ConditionalRequestConflict', message: 'A conflicting conditional operation is currently in progress against this resource. Please try again.', $metadata: { httpStatusCode: 409 } });
      expect(await refused(put('cond/busy.json', 'create', { IfNoneMatch: '*' }))).toBe('409 ConditionalRequestConflict');
      expect(await refused(server.s3.send(new DeleteObjectCommand({ Bucket: B, Key: 'cond/busy.json', IfMatch: ETag })))).toBe('409 ConditionalRequestConflict');
      const plain = put('cond/busy.json', 'unconditional');
      expect(await slow.finish()).toBe(200);
      expect(await refused(plain)).toBe('accepted');
      expect(await (await server.s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond/busy.json' }))).Body!.transformToString()).toBe('unconditional');
      // Once it has ended, the next conditional write is judged on the ETag: 412, the object changed.
      expect(await refused(put('cond/busy.json', 'v3', { IfMatch: ETag }))).toBe('412 PreconditionFailed');
    });

    // PutObject, "If-Match": uploads only if the ETag matches; 412 if it does not; 404 NoSuchKey if there is no object.
    it('PutObject If-Match replaces only the version it read', async () => {
      const { ETag } = await put('cond/state.jsonl', 'v1');
      expect(await refused(put('cond/state.jsonl', 'v2', { IfMatch: '"00000000000000000000000000000000"' }))).toBe('412 PreconditionFailed');
      expect(await refused(put('cond/state.jsonl', 'v2', { IfMatch: ETag }))).toBe('accepted');
      expect(await refused(put('cond/state.jsonl', 'v3', { IfMatch: ETag }))).toBe('412 PreconditionFailed'); // its ETag changed with v2
      expect(await refused(put('cond/missing.jsonl', 'x', { IfMatch: ETag }))).toBe('404 NoSuchKey');
    });

    // GetObject / HeadObject, "If-Match": 412 when the ETag differs; "If-None-Match": 304 Not Modified when it matches.
    it('GetObject and HeadObject honour If-Match and If-None-Match', async () => {
      const { ETag } = await put('cond/read.jpg', 'pixels');
      expect(await refused(server.s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond/read.jpg', IfMatch: '"ffffffffffffffffffffffffffffffff"' })))).toBe('412 PreconditionFailed');
      expect(await refused(server.s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cond/read.jpg', IfMatch: '"ffffffffffffffffffffffffffffffff"' })))).toMatch(/^412 /);
      expect(await refused(server.s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cond/read.jpg', IfMatch: ETag })))).toBe('accepted');
      expect(await refused(server.s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond/read.jpg', IfNoneMatch: ETag })))).toMatch(/^304 /);
    });

    // CopyObject, "x-amz-copy-source-if-match": copies only if the source's ETag matches, else 412.
    it('CopyObject and UploadPartCopy copy only the source version they name', async () => {
      const { ETag } = await put('cond/src.jpg', 'version 1');
      await put('cond/src.jpg', 'version 2');
      const copy = (CopySourceIfMatch: string) => refused(server.s3.send(new CopyObjectCommand({ Bucket: B, Key: 'cond/dst.jpg', CopySource: `${B}/cond/src.jpg`, CopySourceIfMatch })));
      expect(await copy(ETag!)).toBe('412 PreconditionFailed');
      const current = (await server.s3.send(new HeadObjectCommand({ Bucket: B, Key: 'cond/src.jpg' }))).ETag!;
      expect(await copy(current)).toBe('accepted');
      expect(await refused(server.s3.send(new CopyObjectCommand({ Bucket: B, Key: 'cond/dst2.jpg', CopySource: `${B}/cond/src.jpg`, CopySourceIfNoneMatch: current })))).toBe('412 PreconditionFailed');
      const { UploadId } = await server.s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'cond/mp.jpg' }));
      expect(await refused(server.s3.send(new UploadPartCopyCommand({ Bucket: B, Key: 'cond/mp.jpg', UploadId, PartNumber: 1, CopySource: `${B}/cond/src.jpg`, CopySourceIfMatch: ETag })))).toBe('412 PreconditionFailed');
    });

    // CompleteMultipartUpload, "If-None-Match": completes only if the key does not exist, else 412;
    // "If-Match" on a key with no object: 404 NoSuchKey (S3 user guide, "How to prevent object
    // overwrites with conditional writes", Conditional write behavior).
    it('CompleteMultipartUpload honours If-None-Match: *, and If-Match answers 404 on a missing key', async () => {
      await put('cond/big.bin', 'already here');
      const { UploadId } = await server.s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'cond/big.bin' }));
      const part = await server.s3.send(new UploadPartCommand({ Bucket: B, Key: 'cond/big.bin', UploadId, PartNumber: 1, Body: 'part one' }));
      const complete = server.s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'cond/big.bin', UploadId, IfNoneMatch: '*', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
      expect(await refused(complete)).toBe('412 PreconditionFailed');
      expect(await (await server.s3.send(new GetObjectCommand({ Bucket: B, Key: 'cond/big.bin' }))).Body!.transformToString()).toBe('already here');
      const gone = await server.s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'cond/gone.bin' }));
      const only = await server.s3.send(new UploadPartCommand({ Bucket: B, Key: 'cond/gone.bin', UploadId: gone.UploadId, PartNumber: 1, Body: 'part one' }));
      const ifMatch = server.s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'cond/gone.bin', UploadId: gone.UploadId, IfMatch: only.ETag, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: only.ETag }] } }));
      expect(await refused(ifMatch)).toBe('404 NoSuchKey');
    });

    /**
     * A PUT whose body is held after its first byte until finish(): a conditional write in
     * progress. In progress once a probe that can only fail (If-Match on an ETag no object has)
     * hears 409 rather than 412; a probe that got there first makes the held PUT hear 409
     * instead, and it is sent again.
     */
    async function slowPut(key: string, headers: Record<string, string>): Promise<{ finish: () => Promise<number> }> {
      const body = Buffer.from('slow write');
      const { port } = new URL(server.endpoint);
      for (;;) {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path: `/${B}/${key}`, headers: { ...headers, 'content-length': String(body.length), authorization: 'AWS4-HMAC-SHA256 Credential=nightshift/20260101/us-east-1/s3/aws4_request' } });
        let status: number | undefined;
        const answered = new Promise<number>((resolve, reject) => {
          req.on('response', (res) => (res.resume(), resolve((status = res.statusCode ?? 0))));
          req.on('error', reject);
        });
        req.flushHeaders();
        req.write(body.subarray(0, 1));
        let probe = '412 PreconditionFailed';
        while (probe === '412 PreconditionFailed' && status === undefined) probe = await refused(put(key, 'probe', { IfMatch: '"00000000000000000000000000000000"' }));
        if (probe === '409 ConditionalRequestConflict' && status === undefined) return { finish: () => (req.end(body.subarray(1)), answered) };
        req.destroy();
        await answered.catch(() => undefined);
      }
    }
  });

  // S3 user guide, "Checking object integrity in Amazon S3" (ETags of multipart objects): the ETag
  // of a multipart upload is the MD5 of its parts' binary MD5s, then "-" and the part count; it is
  // not the MD5 of the data. CopyObject makes a new, single-part object with an ETag of its own.
  it('gives a multipart upload the ETag form "<md5 of part md5s>-<parts>", everywhere it shows', async () => {
    const B = 'order-test';
    const parts = [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.alloc(1024, 2)];
    const { UploadId } = await server.s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp/three.bin' }));
    const uploaded = [];
    for (const [i, Body] of parts.entries()) uploaded.push({ PartNumber: i + 1, ETag: (await server.s3.send(new UploadPartCommand({ Bucket: B, Key: 'mp/three.bin', UploadId, PartNumber: i + 1, Body }))).ETag! });
    const done = await server.s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mp/three.bin', UploadId, MultipartUpload: { Parts: uploaded } }));
    const md5 = (b: Buffer) => createHash('md5').update(b).digest();
    const expected = `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-2"`;
    expect(done.ETag).toBe(expected);
    expect((await server.s3.send(new HeadObjectCommand({ Bucket: B, Key: 'mp/three.bin' }))).ETag).toBe(expected);
    const listed = (await server.s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'mp/' }))).Contents!.map((o) => [o.Key, o.ETag]);
    expect(listed).toEqual([['mp/three.bin', expected]]);
    expect((await server.s3.send(new GetObjectCommand({ Bucket: B, Key: 'mp/three.bin', IfMatch: expected }))).ETag).toBe(expected);
    // A copy of it is a single-part object: its ETag is the MD5 of the data, not the source's.
    await server.s3.send(new CopyObjectCommand({ Bucket: B, Key: 'mp/copy.bin', CopySource: `${B}/mp/three.bin`, CopySourceIfMatch: expected }));
    expect((await server.s3.send(new HeadObjectCommand({ Bucket: B, Key: 'mp/copy.bin' }))).ETag).toBe(`"${createHash('md5').update(Buffer.concat(parts)).digest('hex')}"`);
    // Written again in one PUT, the key has a plain ETag once more.
    await server.s3.send(new PutObjectCommand({ Bucket: B, Key: 'mp/three.bin', Body: 'small' }));
    expect((await server.s3.send(new HeadObjectCommand({ Bucket: B, Key: 'mp/three.bin' }))).ETag).toBe(`"${createHash('md5').update('small').digest('hex')}"`);
  });

  // ListObjectsV2, "EncodingType": with url, S3 URL-encodes Key, Prefix, StartAfter and Delimiter
  // in the response and says EncodingType url; XML 1.0 cannot carry some characters a key may hold.
  it('URL-encodes listed names on request, and the adapter lists every key back as it is', async () => {
    const B = 'order-test';
    const hostile = ['enc/a\u0001b.jpg', 'enc/tab\there.jpg', 'enc/spa ce+plus.jpg', 'enc/100%.jpg', 'enc/&<>"\'.jpg', 'enc/dir one/x.jpg', 'enc/é.jpg'];
    for (const key of hostile) await server.s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: key }));
    const raw = await server.s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'enc/', EncodingType: 'url' }));
    expect(raw.EncodingType).toBe('url');
    expect(raw.Contents!.map((o) => o.Key)).toContain('enc/spa+ce%2Bplus.jpg');
    expect(raw.Contents!.map((o) => o.Key)).toContain('enc/a%01b.jpg');
    for (const pageSize of [1, 3, 1000]) {
      const listed: string[] = [];
      for await (const page of listPages(server.s3, { bucket: B, prefix: 'enc/', pageSize })) listed.push(...page.objects.map((o) => o.Key!));
      expect(listed).toEqual([...hostile].sort(compareKeys));
    }
    const prefixes: string[] = [];
    for await (const page of listPages(server.s3, { bucket: B, prefix: 'enc/', delimiter: '/' })) prefixes.push(...page.prefixes);
    expect(prefixes).toEqual(['enc/dir one/']);
  });

  // PutObject / CopyObject / CreateMultipartUpload, "x-amz-storage-class" (a copy without one is
  // STANDARD); HeadObject answers it for every class but STANDARD; ListObjectsV2 shows StorageClass.
  it('keeps storage classes on PUT, Copy and multipart uploads, and shows them in HEAD and listings', async () => {
    const B = 'order-test';
    await server.s3.send(new PutObjectCommand({ Bucket: B, Key: 'sc/ia.jpg', Body: 'ia', StorageClass: 'STANDARD_IA' }));
    await server.s3.send(new PutObjectCommand({ Bucket: B, Key: 'sc/plain.jpg', Body: 'plain' }));
    await server.s3.send(new CopyObjectCommand({ Bucket: B, Key: 'sc/ir-copy.jpg', CopySource: `${B}/sc/ia.jpg`, StorageClass: 'GLACIER_IR' }));
    await server.s3.send(new CopyObjectCommand({ Bucket: B, Key: 'sc/default-copy.jpg', CopySource: `${B}/sc/ia.jpg` }));
    const { UploadId } = await server.s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'sc/mp.bin', StorageClass: 'ONEZONE_IA' }));
    const part = await server.s3.send(new UploadPartCommand({ Bucket: B, Key: 'sc/mp.bin', UploadId, PartNumber: 1, Body: 'only part' }));
    await server.s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'sc/mp.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    const expected: Record<string, string | undefined> = { 'sc/default-copy.jpg': undefined, 'sc/ia.jpg': 'STANDARD_IA', 'sc/ir-copy.jpg': 'GLACIER_IR', 'sc/mp.bin': 'ONEZONE_IA', 'sc/plain.jpg': undefined };
    for (const [key, storageClass] of Object.entries(expected)) expect([key, (await server.s3.send(new HeadObjectCommand({ Bucket: B, Key: key }))).StorageClass]).toEqual([key, storageClass]);
    const listed = Object.fromEntries((await server.s3.send(new ListObjectsV2Command({ Bucket: B, Prefix: 'sc/' }))).Contents!.map((o) => [o.Key, o.StorageClass]));
    expect(listed).toEqual(Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, v ?? 'STANDARD'])));
  });
});
