import fc from 'fast-check';
import { compareKeys, copySource, extensionOf, keyBetween, renditionKey, renditionSource, runKeys, shardName, stripExtension } from './keys';

describe('rendition keys', () => {
  it('replace the extension of the last segment only', () => {
    expect(renditionKey('thumb', '2026/11/cat.jpg', 'webp')).toBe('thumb/2026/11/cat.webp');
    expect(renditionKey('thumb', 'a.b/c', 'jpeg')).toBe('thumb/a.b/c.jpeg');
    expect(renditionKey('web', '.hidden', 'jpeg')).toBe('web/.hidden.jpeg');
    expect(renditionKey('web', 'x y+z%2F&=é.JPG', 'png')).toBe('web/x y+z%2F&=é.png');
    expect(extensionOf('a/B.JPG')).toBe('jpg');
    expect(extensionOf('folder.d/noext')).toBe('');
    expect(stripExtension('a.tar.gz')).toBe('a.tar');
  });

  it('put a newcomer whose stem is held under keys no other image can have: its whole key, then "/." and the format', () => {
    expect(renditionKey('thumb', 'photos/a.png', 'webp', true)).toBe('thumb/photos/a.png/.webp');
    // Keeping the extension in the file name would meet a.png.jpg's keys; this does not.
    expect(renditionKey('thumb', 'photos/a.png.jpg', 'webp')).toBe('thumb/photos/a.png.webp');
    expect(renditionSource('photos/a.png/.webp')).toEqual({ key: 'photos/a.png' });
    expect(renditionSource('photos/a.webp')).toEqual({ stem: 'photos/a' });
    expect(renditionSource('x/.hidden.webp')).toEqual({ stem: 'x/.hidden' });
    // Any two distinct image keys: a disambiguated key is never another image's key of either kind.
    const segment = fc.stringMatching(/^[ab.]{1,6}$/);
    const key = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
    // b: any key, or a's key or stem with one more extension (the near misses).
    const pair = fc.tuple(key, key, fc.nat(2)).map(([a, c, pick]) => [a, [c, `${a}.${c.replaceAll('/', '')}`, `${stripExtension(a)}.${c.replaceAll('/', '')}`][pick]!] as const);
    fc.assert(
      fc.property(pair, fc.boolean(), ([a, b], disambiguated) => {
        fc.pre(a !== b && extensionOf(a) !== '' && extensionOf(b) !== '');
        expect(renditionKey('p', a, 'webp', true)).not.toBe(renditionKey('p', b, 'webp', disambiguated));
      }),
    );
  });

  it('run artefacts sit exactly where docs/design.md puts them', () => {
    const k = runKeys('2026-11-22T02-00-00Z');
    expect([k.plan, k.catalog, k.shard(7), k.result('resize', 12), k.report, k.reportHtml, k.failuresCsv]).toEqual([
      'runs/2026-11-22T02-00-00Z/plan.json',
      'runs/2026-11-22T02-00-00Z/catalog.jsonl',
      'runs/2026-11-22T02-00-00Z/shards/00007.jsonl',
      'runs/2026-11-22T02-00-00Z/results/resize/00012.json',
      'runs/2026-11-22T02-00-00Z/report.json',
      'runs/2026-11-22T02-00-00Z/report.html',
      'runs/2026-11-22T02-00-00Z/failures.csv',
    ]);
    expect(shardName(9999)).toBe('09999');
    expect(() => runKeys('../etc')).toThrow(/Invalid run id/);
  });
});

describe('S3 key order', () => {
  const utf8 = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));

  it('is UTF-8 byte order, also where UTF-16 order differs (astral vs U+E000-U+FFFF)', () => {
    const astral = '\u{1F600}'; // a surrogate pair in UTF-16
    const high = '\uFF21'; // FULLWIDTH A, above the surrogates in UTF-16
    expect(astral < high).toBe(true); // JavaScript's order...
    expect(Math.sign(compareKeys(astral, high))).toBe(1); // ...is not S3's
    expect(utf8(astral, high)).toBe(1);
    expect(Math.sign(compareKeys('B', 'a'))).toBe(-1); // case-sensitive, unlike localeCompare
    expect(Math.sign(compareKeys('cafe\u0301', 'caf\u00e9'))).toBe(-1); // NFD and NFC are different keys
  });

  it('agrees with UTF-8 byte comparison on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => Math.sign(compareKeys(a, b)) === utf8(a, b)), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => Math.sign(compareKeys(a, b)) === utf8(a, b)), { numRuns: 2000 });
  });
});

describe('CopySource', () => {
  const hostile = ['x y+z%2F&=.jpg', 'caf\u00e9.jpg', 'cafe\u0301.jpg', 'a/b/c?.png', '#hash;semi,comma.jpg', `${'\u00fc'.repeat(512)}`];

  it('escapes every character S3 would misread and keeps the slashes', () => {
    expect(copySource('corpus', 'dir/x y+z%2F&=.jpg')).toBe('corpus/dir/x%20y%2Bz%252F%26%3D.jpg');
    for (const key of hostile) {
      const encoded = copySource('b', key);
      expect(encoded).toMatch(/^[A-Za-z0-9%._~!*'()/-]+$/);
      expect(decodeURIComponent(encoded.slice(2))).toBe(key);
    }
  });

  it('round-trips any key of up to 1024 UTF-8 bytes', () => {
    const key = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300 }).filter((k) => Buffer.byteLength(k) <= 1024);
    fc.assert(fc.property(key, (k) => decodeURIComponent(copySource('bucket', k).slice('bucket/'.length)) === k), { numRuns: 1000 });
  });
});

describe('split keys of a listing', () => {
  it('finds a valid StartAfter strictly between two keys, whenever a printable one exists (property)', () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 12 });
    const pair = (arb: fc.Arbitrary<string>) => fc.tuple(arb, arb).map(([x, y]) => (compareKeys(x, y) <= 0 ? [x, y] : [y, x]) as [string, string]);
    fc.assert(
      fc.property(pair(fc.string({ unit: 'binary', maxLength: 12 })), ([a, b]) => {
        const m = keyBetween(a, b);
        const valid = m !== undefined && (/^[\x20-\x7e]+$/.test(m) || (m.startsWith(a) && /^[\x20-\x7e]$/.test(m.slice(a.length))));
        return m === undefined || (compareKeys(a, m) < 0 && compareKeys(m, b) < 0 && valid);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(pair(printable), ([a, b]) => {
        const m = keyBetween(a, b);
        return compareKeys(`${a} `, b) >= 0 || (m !== undefined && compareKeys(a, m) < 0 && compareKeys(m, b) < 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('splits near the middle, so repeated splits converge on where the keys are', () => {
    expect(keyBetween('p00/1.jpg', 'p99/9.jpg')).toBe('p4');
    expect(keyBetween('img/0000000999.jpg', 'img/~')).toBe('img/W');
    expect(keyBetween('a', 'a')).toBeUndefined();
    expect(keyBetween('', '  ')).toBe(' '); // found by the property above, once
    expect(keyBetween('a', 'a!')).toBe('a ');
    expect(keyBetween('b', 'a')).toBeUndefined();
  });
});
