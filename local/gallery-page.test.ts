/**
 * The /gallery page's HTML as served (its behaviour in a browser: test/gallery-browser.test.ts):
 * self-contained, and nothing from its options can end its script or reach it as markup.
 */
import { readFileSync } from 'node:fs';
import { galleryPage } from './gallery-page';

const hostile = '"></script><script>alert(1)</script><!--';

it('inlines thumbhash as published and the page code, with no external script or stylesheet', () => {
  const html = galleryPage({ apiBase: 'http://127.0.0.1:4599/api/', renditionsBase: 'http://127.0.0.1:4598/renditions' });
  expect(html).toContain(readFileSync(require.resolve('thumbhash'), 'utf8'));
  expect(html).toContain('const GALLERY = {"apiBase":"http://127.0.0.1:4599/api/","renditionsBase":"http://127.0.0.1:4598/renditions","pageSize":100};');
  expect(html).not.toMatch(/<script[^>]*\ssrc=|<link[^>]*stylesheet/);
  expect(html.match(/<script/g)).toHaveLength(1);
});

it('keeps options inside their script and their text as text', () => {
  const html = galleryPage({ apiBase: hostile, renditionsBase: hostile, title: hostile });
  expect(html.match(/<\/script>/g)).toHaveLength(1);
  expect(html).toContain('<title>&quot;&gt;&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--</title>');
  expect(html).toContain(JSON.stringify(`${hostile}/`).replace(/</g, '\\u003c'));
});

it('asks the API for pages it can answer', () => {
  expect(() => galleryPage({ apiBase: '/api/', renditionsBase: '/r', pageSize: 1001 })).toThrow('gallery pageSize must be a whole number from 1 to 1000 (the API\'s limit), received 1001');
  expect(() => galleryPage({ apiBase: '/api/', renditionsBase: '/r', pageSize: 0 })).toThrow(RangeError);
  expect(galleryPage({ apiBase: '/api', renditionsBase: '/r', pageSize: 7 })).toContain('{"apiBase":"/api/","renditionsBase":"/r","pageSize":7}');
});
