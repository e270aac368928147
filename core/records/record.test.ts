import { decideChange, REMOVED } from './changes';
import {
  displayedSize,
  failedRecord,
  folderOf,
  imageRecordSchema,
  renderedRecord,
  renditionUrl,
  skippedRecord,
  sourceDetails,
  type ImageRecord,
  type WrittenRendition,
} from './record';

const item = { key: 'photos/2026/IMG_0001.HEIC', etag: '"9b2cf535f27731c974343645a3985328"', size: 2_481_123, lastModified: '2026-12-01T21:14:03Z' };
const header = { width: 4032, height: 3024, orientation: 6, format: 'heif', hasAlpha: false, animated: false, pages: 1, space: 'srgb' };
const placeholder = { thumbhash: '1QcSHQRnh493V4dIh4eXh1h4kJUI', color: '#8a7f6e' };
const thumb: WrittenRendition = { preset: 'thumb', format: 'webp', key: 'thumb/photos/2026/IMG_0001.webp', width: 240, height: 320, bytes: 10_233, etag: '"0cc175b9c0f1b6a831c399e269772661"' };
const context = { runId: 'r-2026-12-02', updatedAt: '2026-12-02T02:10:44Z' };

describe('the rendered record', () => {
  it('is the contract of issue 28: displayed size, placeholder, renditions with content type', () => {
    const record = renderedRecord(item, sourceDetails(header), placeholder, [thumb], context);
    expect(record).toEqual({
      ...item,
      status: 'rendered',
      width: 3024,
      height: 4032,
      format: 'heif',
      hasAlpha: false,
      animated: false,
      pages: 1,
      space: 'srgb',
      placeholder,
      renditions: [{ ...thumb, contentType: 'image/webp' }],
      ...context,
    });
    expect(imageRecordSchema.safeParse(record).success).toBe(true);
    // No url without a delivery base URL: the field is absent, not undefined.
    expect('url' in record.renditions[0]!).toBe(false);
  });

  it('swaps width and height for EXIF orientations 5–8 only', () => {
    for (const o of [1, 2, 3, 4]) expect(displayedSize(400, 300, o)).toEqual({ width: 400, height: 300 });
    for (const o of [5, 6, 7, 8]) expect(displayedSize(400, 300, o)).toEqual({ width: 300, height: 400 });
    expect(displayedSize(400, 300)).toEqual({ width: 400, height: 300 });
  });

  it('takes only the contract fields from a wider source description', () => {
    const wide = { ...sourceDetails(header), orientation: 6, hevc: true, exif: Buffer.from('x') };
    const record = renderedRecord(item, wide, placeholder, [thumb], context);
    expect(imageRecordSchema.safeParse(record).success).toBe(true);
  });
});

describe('rendition urls', () => {
  it('join the base URL and the key URL-encoded per path segment', () => {
    const key = 'thumb/a b/+%/été "q" \'s?#&.webp';
    expect(renditionUrl('https://d111.cloudfront.net', key)).toBe("https://d111.cloudfront.net/thumb/a%20b/%2B%25/%C3%A9t%C3%A9%20%22q%22%20's%3F%23%26.webp");
    expect(renditionUrl('https://cdn.example.com/renditions/', 'thumb/x.webp')).toBe('https://cdn.example.com/renditions/thumb/x.webp');
    // The URL names the object: decoding the path gives the key back.
    const url = new URL(renditionUrl('https://cdn.example.com/r', key));
    expect(url.pathname.split('/').slice(2).map(decodeURIComponent).join('/')).toBe(key);
  });

  it('appear on every rendition when a delivery base URL is configured', () => {
    const record = renderedRecord(item, sourceDetails(header), placeholder, [thumb], { ...context, deliveryBaseUrl: 'https://d111.cloudfront.net/' });
    expect(record.renditions[0]!.url).toBe('https://d111.cloudfront.net/thumb/photos/2026/IMG_0001.webp');
    expect(imageRecordSchema.safeParse(record).success).toBe(true);
  });
});

describe('failed and skipped records', () => {
  it('carry the report\'s code and message, and no renditions', () => {
    const record = failedRecord(item, { code: 'decode-failed', message: 'the image is truncated at byte 81920' }, context);
    expect(record).toEqual({ ...item, status: 'failed', reason: { code: 'decode-failed', message: 'the image is truncated at byte 81920' }, renditions: [], ...context });
    expect(imageRecordSchema.safeParse(record).success).toBe(true);
  });

  it('keep the source details when the header was read', () => {
    const record = failedRecord(item, { code: 'too-many-pixels', message: '40000×30000 exceeds the limit' }, context, sourceDetails(header));
    expect(record.width).toBe(3024);
    expect(imageRecordSchema.safeParse(record).success).toBe(true);
  });

  it('fall back to the reason\'s wording when the skip or failure has no message', () => {
    expect(skippedRecord(item, { code: 'archived' }, context).reason).toEqual({ code: 'archived', message: 'in an archive storage class (GLACIER/DEEP_ARCHIVE): restore it first' });
    expect(failedRecord(item, { code: 'read-failed', message: '' }, context).reason!.message).toBe('the object could not be read from S3');
    expect(imageRecordSchema.safeParse(skippedRecord(item, { code: 'archived' }, context)).success).toBe(true);
  });
});

describe('the contract schema', () => {
  const good = renderedRecord(item, sourceDetails(header), placeholder, [thumb], context);
  const bad: Array<[string, unknown]> = [
    ['a rendered record with a reason', { ...good, reason: { code: 'x', message: 'y' } }],
    ['a rendered record without a placeholder', { ...good, placeholder: undefined }],
    ['a rendered record without renditions', { ...good, renditions: [] }],
    ['a failed record without a reason', { ...good, status: 'failed', placeholder: undefined }],
    ['an unknown status', { ...good, status: 'removed' }],
    ['an ETag without its quotes', { ...good, etag: '9b2cf535f27731c974343645a3985328' }],
    ['a colour in upper case', { ...good, placeholder: { ...placeholder, color: '#8A7F6E' } }],
    ['a padded thumbhash', { ...good, placeholder: { ...placeholder, thumbhash: 'abcdefgh=' } }],
    ['a stray field', { ...good, folder: 'photos/2026/' }],
    ['a rendition with a stray field', { ...good, renditions: [{ ...good.renditions[0], data: 'x' }] }],
    ['a non-ISO updatedAt', { ...good, updatedAt: 'yesterday' }],
    ['a failed record with a stray field', { ...failedRecord(item, { code: 'decode-failed', message: 'm' }, context), folder: 'photos/2026/' }],
    ['a failed record with a width that is not a number', { ...failedRecord(item, { code: 'decode-failed', message: 'm' }, context), width: '3024' }],
  ];
  it.each(bad)('rejects %s', (_name, record) => {
    expect(imageRecordSchema.safeParse(record).success).toBe(false);
  });
});

it('folderOf is the key up to its last slash, as S3 lists with delimiter "/"', () => {
  expect(folderOf('photos/2026/a.jpg')).toBe('photos/2026/');
  expect(folderOf('a.jpg')).toBe('');
  expect(folderOf('photos//a.jpg')).toBe('photos//');
});

describe('the change feed', () => {
  const v1 = renderedRecord(item, sourceDetails(header), placeholder, [thumb], context);
  const keys = [thumb.key];

  it('adds a new record, and says nothing when a later run rewrites the same one', () => {
    expect(decideChange(undefined, v1)).toEqual({ key: item.key, change: 'added', etag: item.etag, renditions: keys });
    const rewritten: ImageRecord = { ...v1, runId: 'r-next', updatedAt: '2026-12-03T02:00:00Z' };
    expect(decideChange(v1, rewritten)).toBeUndefined();
    // Field order is not content (a record read back from a store may come in another order).
    const reordered = Object.fromEntries(Object.entries(v1).reverse()) as unknown as ImageRecord;
    expect(decideChange(v1, reordered)).toBeUndefined();
  });

  it('updates on a new version, a changed rendition or a changed placeholder', () => {
    const v2etag = '"aaaa"';
    expect(decideChange(v1, { ...v1, etag: v2etag })).toEqual({ key: item.key, change: 'updated', etag: v2etag, renditions: keys });
    expect(decideChange(v1, { ...v1, renditions: [{ ...v1.renditions[0]!, bytes: 9999 }] })!.change).toBe('updated');
    expect(decideChange(v1, { ...v1, placeholder: { ...placeholder, color: '#000000' } })!.change).toBe('updated');
  });

  it('says failed when the new record is a failure, with or without a record before', () => {
    const failed = failedRecord({ ...item, etag: '"bbbb"' }, { code: 'decode-failed', message: 'truncated' }, context);
    expect(decideChange(v1, failed)).toEqual({ key: item.key, change: 'failed', etag: '"bbbb"', renditions: [] });
    expect(decideChange(undefined, failed)!.change).toBe('failed');
    expect(decideChange(failed, { ...failed, runId: 'r-next' })).toBeUndefined();
  });

  it('removes with the renditions that went, and nothing when there was no record', () => {
    expect(decideChange(v1, REMOVED)).toEqual({ key: item.key, change: 'removed', etag: item.etag, renditions: keys });
    expect(decideChange(undefined, REMOVED)).toBeUndefined();
  });
});
