import { type CatalogRecord, filterRecord, resizeSkipFor } from './catalog';
import { parsePipelineConfig } from './config';

const rules = parsePipelineConfig({
  buckets: { corpus: 'aaa', renditions: 'bbb', backup: 'ccc', work: 'ddd' },
  filter: { excludePrefixes: ['tmp/'], maxBytes: 1000, minBytes: 10, modifiedAfter: '2026-01-01T00:00:00Z' },
}).filter;
const rec = (key: string, extra: Partial<CatalogRecord> = {}): CatalogRecord => ({ key, size: 100, etag: '"e"', lastModified: '2026-11-01T00:00:00.000Z', storageClass: 'STANDARD', ...extra });

describe('filter rules', () => {
  it('gives every object it leaves alone a reason', () => {
    expect(filterRecord(rec('photos/'), rules)).toBe('folder-placeholder');
    expect(filterRecord(rec('empty.png', { size: 0 }), rules)).toBe('zero-byte');
    expect(filterRecord(rec('tmp/a.jpg'), rules)).toBe('excluded-prefix');
    expect(filterRecord(rec('notes.txt'), rules)).toBe('not-an-image');
    expect(filterRecord(rec('drawing.svg'), rules)).toBe('not-an-image');
    expect(filterRecord(rec('tiny.jpg', { size: 5 }), rules)).toBe('too-small');
    expect(filterRecord(rec('old.jpg', { lastModified: '2025-12-31T23:59:59.000Z' }), rules)).toBe('too-old');
    expect(filterRecord(rec('cold.jpg', { storageClass: 'GLACIER' }), rules)).toBe('archived');
    expect(filterRecord(rec('colder.jpg', { storageClass: 'DEEP_ARCHIVE' }), rules)).toBe('archived');
  });

  it('selects an image too large to render (it is backed up), and tells resize to skip it', () => {
    expect(filterRecord(rec('huge.jpg', { size: 1001 }), rules)).toBeUndefined();
    expect(resizeSkipFor(rec('huge.jpg', { size: 1001 }), rules)).toEqual({ code: 'too-large', message: '1001 bytes, larger than filter.maxBytes (1000): backed up, not rendered' });
    expect(resizeSkipFor(rec('fine.jpg', { size: 1000 }), rules)).toBeUndefined();
  });

  it('selects images, whatever the case of the extension, and readable archive tiers', () => {
    expect(filterRecord(rec('a/B.JPG'), rules)).toBeUndefined();
    expect(filterRecord(rec('ir.webp', { storageClass: 'GLACIER_IR' }), rules)).toBeUndefined();
    expect(filterRecord(rec('thawed.png', { storageClass: 'GLACIER', restored: true }), rules)).toBeUndefined();
  });
});
