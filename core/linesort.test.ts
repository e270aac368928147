import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { CatalogRecord } from './catalog';
import { diffCatalogs } from './diff';
import { compareKeys } from './keys';
import { catalogLineFromText, lineKey, lineRecord } from './catalog-line';
import { CatalogLineReader, CatalogLineWriter } from './line-files';
import { sortLines } from './line-radix';
import { CatalogLineSorter } from './linesort';
import { diffLines } from './line-diff';

const record = (key: string, etag = 'e1', size = 10): CatalogRecord => ({ key, size, etag: `"${etag}"`, lastModified: '2026-11-01T00:00:00.000Z', storageClass: 'STANDARD' });
const line = (r: CatalogRecord) => catalogLineFromText(JSON.stringify(r), 'test');

/** Keys that stress the order: escapes JSON must write, non-ASCII, astral characters, prefixes of each other. */
const HARD_KEYS = ['a', 'a/b', 'a!', 'a"quote', 'a\\back', 'a\u0001ctl', 'Ä', 'ä', '\uffff', '😀', '\ud7ff', '\ue000', 'z', 'photos/2026/b.jpg', 'photos/2026/a.jpg', 'photos/2026'];

describe('catalogue line sort (bytes, S3 order)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'linesort-test-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('orders keys exactly as S3 does (UTF-8 bytes), escaped keys included', () => {
    const sorted = sortLines(HARD_KEYS.map((k) => line(record(k)))).map(lineKey);
    expect(sorted).toEqual([...HARD_KEYS].sort(compareKeys));
  });

  it('orders any keys as compareKeys does, through spills and a multi-pass merge (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 12 }), { maxLength: 300 }), (keys) => {
        const sorter = new CatalogLineSorter({ memoryBytes: 2_000, fanIn: 3, tmpDir: dir });
        keys.forEach((k, i) => sorter.add(JSON.stringify(record(k, String(i)))));
        const out = [...sorter.sorted()].map(lineRecord);
        // Stable: equal keys keep the order they were added in.
        const expected = keys.map((k, i) => ({ k, i })).sort((a, b) => compareKeys(a.k, b.k) || a.i - b.i);
        expect(out.map((r) => [r.key, r.etag])).toEqual(expected.map(({ k, i }) => [k, `"${i}"`]));
      }),
      { numRuns: 60 },
    );
  });

  it('radix-sorts large runs of keys that share long prefixes and end mid-pass, stably (property)', () => {
    // Past the insertion-sort cutoff, from a small alphabet: many ties, prefixes of each other and
    // keys ending inside the several bytes one radix pass takes.
    const alphabet = fc.constantFrom('a', 'b', '/', '\u0001', 'é', '😀', '\uffff');
    fc.assert(
      fc.property(fc.array(fc.array(alphabet, { maxLength: 14 }).map((cs) => cs.join('')), { minLength: 30, maxLength: 1_500 }), (keys) => {
        const sorted = sortLines(keys.map((k, i) => line(record(`photos/${k}`, String(i)))));
        const expected = keys.map((k, i) => ({ k: `photos/${k}`, i })).sort((a, b) => compareKeys(a.k, b.k) || a.i - b.i);
        expect(sorted.map((l) => [lineKey(l), lineRecord(l).etag])).toEqual(expected.map(({ k, i }) => [k, `"${i}"`]));
      }),
      { numRuns: 40 },
    );
  });

  it('spills past its budget, merges from disk and memory, and leaves no files behind', () => {
    const sorter = new CatalogLineSorter({ memoryBytes: 64 * 1024, fanIn: 4, tmpDir: dir });
    const keys = Array.from({ length: 5_000 }, (_, i) => `photos/${((i * 7919) % 5_000).toString(36)}-${i % 3 === 0 ? 'Ä' : 'a'}.jpg`);
    for (const k of keys) sorter.add(JSON.stringify(record(k)));
    const out = [...sorter.sorted()].map(lineKey);
    expect(sorter.stats.spilledRuns).toBeGreaterThan(4);
    expect(sorter.stats.mergePasses).toBeGreaterThan(1);
    expect(out).toEqual([...keys].sort(compareKeys));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reads lines across chunk boundaries, with or without a final newline, and keeps them byte for byte', () => {
    const records = Array.from({ length: 200 }, (_, i) => record(`k/${'x'.repeat(i % 37)}-${i}-ü`));
    const path = join(dir, 'c.jsonl');
    writeFileSync(path, `${records.map((r) => JSON.stringify(r)).join('\n')}\n\n`);
    const reader = new CatalogLineReader(path, 64); // chunks far smaller than a line
    expect([...reader].map(lineRecord)).toEqual(records);
    writeFileSync(path, records.map((r) => JSON.stringify(r)).join('\n'));
    const copy = join(dir, 'copy.jsonl');
    const writer = new CatalogLineWriter(copy);
    for (const l of new CatalogLineReader(path, 100)) writer.write(l);
    writer.close();
    expect([...new CatalogLineReader(copy)].map(lineRecord)).toEqual(records);
  });

  it('rejects a line that is not a catalogue record, naming the file and line', () => {
    const path = join(dir, 'bad.jsonl');
    writeFileSync(path, `${JSON.stringify(record('a'))}\n{"size":1,"key":"b"}\n`);
    expect(() => [...new CatalogLineReader(path)]).toThrow(/bad\.jsonl line 2: a catalogue line must start with \{"key":"/);
  });
});

describe('catalogue line diff', () => {
  const diff = (current: CatalogRecord[], previous: CatalogRecord[]) =>
    [...diffLines(current.map(line), previous.map(line))].map((e) => `${e.kind}:${lineKey(e.kind === 'deleted' ? e.previous : e.line)}`);

  it('agrees with the record diff on any pair of catalogues (property)', async () => {
    const catalogue = fc.uniqueArray(fc.record({ key: fc.string({ unit: 'binary', maxLength: 6 }), etag: fc.constantFrom('e1', 'e2'), size: fc.constantFrom(1, 2) }), { selector: (r) => r.key, maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(catalogue, catalogue, async (a, b) => {
        const current = a.map((r) => record(r.key, r.etag, r.size)).sort((x, y) => compareKeys(x.key, y.key));
        const previous = b.map((r) => ({ ...record(r.key, r.etag, r.size), lastModified: '2026-10-01T00:00:00.000Z' })).sort((x, y) => compareKeys(x.key, y.key));
        const expected: string[] = [];
        for await (const e of diffCatalogs(current, previous)) expected.push(`${e.kind}:${e.kind === 'deleted' ? e.previous.key : e.record.key}`);
        expect(diff(current, previous)).toEqual(expected);
      }),
      { numRuns: 80 },
    );
  });

  it('calls a record unchanged when only its date or storage class differ, changed when its ETag or size does', () => {
    expect(diff([record('a'), { ...record('b'), storageClass: 'GLACIER' }, record('c', 'e2'), record('d', 'e1', 11)], [record('a'), record('b'), record('c'), record('d')])).toEqual([
      'unchanged:a',
      'unchanged:b',
      'changed:c',
      'changed:d',
    ]);
  });

  it('reads a state line (the listing record and then what was done) as unchanged against the same listing', () => {
    const state = (r: ReturnType<typeof record>) => ({ ...r, done: { backup: true, renditions: { thumb: '1f0c9a2b' } } });
    expect(diff([record('a'), record('b', 'e2'), record('c', 'e1', 11)], [state(record('a')), state(record('b')), state(record('c'))])).toEqual(['unchanged:a', 'changed:b', 'changed:c']);
  });

  it('refuses unsorted input instead of producing a wrong diff', () => {
    expect(() => diff([record('b'), record('a')], [])).toThrow(/current catalogue is not sorted by key: "a" follows "b"/);
    expect(() => diff([], [record('a'), record('a')])).toThrow(/previous catalogue is not sorted/);
  });

  it('drops a key the listing repeated, and says so, when asked to', () => {
    const repeated: string[] = [];
    const out = [...diffLines([record('a'), record('a', 'e2'), record('b')].map(line), [record('a')].map(line), (k) => repeated.push(k))];
    expect(out.map((e) => [e.kind, e.kind === 'deleted' ? '' : lineRecord(e.line).etag])).toEqual([
      ['unchanged', '"e1"'],
      ['new', '"e1"'],
    ]);
    expect(repeated).toEqual(['a']);
    expect(() => [...diffLines([record('a'), record('a')].map(line), [])]).toThrow(/current catalogue is not sorted by key: "a" follows "a"/);
  });
});
