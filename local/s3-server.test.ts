import { CopyObjectCommand, DeleteObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, PutObjectTaggingCommand } from '@aws-sdk/client-s3';
import { compareKeys } from '../core/keys';
import { listPages } from '../adapters/s3';
import { startTestS3, type TestS3 } from '../test/support/processes';

describe('embedded S3 server', () => {
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
});
