import { buildReport, checkCoverage, csvField, FAILURES_NAMED, failuresCsv, ReportFold, shouldPromoteCatalog, undoneInShard } from './report';
import { renderReportHtml } from './report-html';
import { SKIP_SAMPLE_PER_CODE, ShardTally, type ShardResult } from './results';
import { samplePlan } from '../test/support/fixtures';

const plan = samplePlan();

function result(operation: 'backup' | 'resize', shard: number, items: number, failures: ShardResult['failures'], durationMs = 1000): ShardResult {
  return {
    runId: 'r1',
    operation,
    shard,
    attempt: 1,
    dryRun: false,
    startedAt: '',
    finishedAt: '',
    durationMs,
    counts: { items, processed: items - failures.length, skipped: 0, failed: failures.length },
    bytesRead: 100 * items,
    bytesWritten: 10 * items,
    outputs: operation === 'resize' ? { 'thumb/webp': { count: items, bytes: 10 * items } } : undefined,
    skipped: [],
    failures,
  };
}

const results = [
  result('backup', 0, 3, []),
  result('backup', 1, 2, []),
  result('resize', 0, 3, [{ key: 'a,"b".jpg', code: 'decode-failed', message: 'truncated\nfile', retryable: false }], 4000),
  result('resize', 1, 2, [{ key: 'c.jpg', code: 'read-failed', message: 'SlowDown', retryable: true }]),
];

describe('report', () => {
  const report = buildReport(plan, results, { trigger: 'schedule', startedAt: '2026-11-22T02:00:00.000Z', finishedAt: '2026-11-22T02:41:00.000Z', catalogPromoted: true });

  it('adds up every shard per operation and keeps every failure', () => {
    expect(report.status).toBe('COMPLETED_WITH_FAILURES');
    expect(report.operations.resize).toMatchObject({ shards: 2, items: 5, processed: 3, failed: 2, bytesRead: 500, bytesWritten: 50, maxShardMs: 4000, failedByCode: { 'decode-failed': 1, 'read-failed': 1 } });
    expect(report.operations.backup).toMatchObject({ items: 5, processed: 5, failed: 0 });
    expect(report.failures.map((f) => [f.operation, f.key])).toEqual([
      ['resize', 'a,"b".jpg'],
      ['resize', 'c.jpg'],
    ]);
    expect(report.renditions).toEqual({ 'thumb/webp': { count: 5, bytes: 50 } });
    expect(report.durationMs).toBe(41 * 60_000);
    expect(report.objects.listed).toBe(7);
  });

  it('finds results that do not cover the plan', () => {
    expect(checkCoverage(plan, results)).toEqual([]);
    expect(checkCoverage(plan, results.slice(1))).toEqual(['backup: no result for shard 0']);
    expect(checkCoverage({ ...plan, counts: { ...plan.counts, work: 6 } }, results)).toEqual(['backup: results account for 5 objects, the plan has 6', 'resize: results account for 5 objects, the plan has 6']);
  });

  it('writes failures.csv like an S3 Batch Operations report, quoting what needs quoting', () => {
    expect(failuresCsv(report, 'corpus')).toBe('Bucket,Key,Operation,ErrorCode,Message\r\ncorpus,"a,""b"".jpg",resize,decode-failed,"truncated\nfile"\r\ncorpus,c.jpg,resize,read-failed,SlowDown\r\n');
    expect(csvField('plain')).toBe('plain');
  });

  it('promotes the catalogue after every run but a dry run: each record says what was done (core/state.ts)', () => {
    expect(shouldPromoteCatalog(plan)).toBe(true);
    expect(shouldPromoteCatalog({ ...plan, dryRun: true })).toBe(false);
  });

  it('counts every skip by reason but keeps only a sample of their keys, except the ones a later run must redo', () => {
    const tally = new ShardTally();
    for (let i = 0; i < 1000; i++) tally.skip(`dry/${i}.jpg`, 'dry-run');
    for (let i = 0; i < 30; i++) tally.skip(`cold/${i}.jpg`, 'archived');
    expect(tally.skippedByCode).toEqual({ 'dry-run': 1000, archived: 30 });
    expect(tally.skipped.filter((s) => s.code === 'dry-run')).toHaveLength(SKIP_SAMPLE_PER_CODE);
    expect(tally.skipped.filter((s) => s.code === 'archived')).toHaveLength(30);
    const r: ShardResult = { ...result('backup', 0, 1030, []), counts: { ...tally.counts }, skippedByCode: tally.skippedByCode, skipped: tally.skipped };
    const totals = buildReport({ ...plan, shardOperations: ['backup'], counts: { ...plan.counts, work: 1030 } }, [r], { trigger: 'cli', startedAt: '', finishedAt: '', catalogPromoted: false }).operations.backup!;
    expect(totals.skippedByCode).toEqual({ 'dry-run': 1000, archived: 30 });
    expect(undoneInShard([r]).map(([k]) => k)).toHaveLength(30);
  });

  it('takes back, per key and operation, the work that a retry could still do', () => {
    const undone = [0, 1].flatMap((shard) => undoneInShard(results.filter((r) => r.shard === shard)));
    expect(undone.map(([k, ops]) => [k, [...ops]])).toEqual([['c.jpg', ['resize']]]);
  });

  it('takes back the record of an image whose backfill failed, and nothing else of it; sums the backfilled records for the texts', () => {
    const shard0 = results.filter((r) => r.shard === 0);
    const withBackfill = shard0.map((r) => (r.operation === 'resize' ? { ...r, backfilled: 2, unrecorded: ['a0.jpg', 'b.jpg'], records: { written: 2, superseded: 0, requests: 1 }, changes: { added: 2, updated: 0, removed: 0, failed: 0 } } : r));
    const undone = undoneInShard(withBackfill).map(([k, ops]) => [k, [...ops].sort()]);
    expect(undone).toEqual(expect.arrayContaining([['a0.jpg', ['record']], ['b.jpg', ['record']]]));
    expect(buildReport(plan, [...withBackfill, ...results.filter((r) => r.shard === 1)], { trigger: 'cli', startedAt: '', finishedAt: '', catalogPromoted: false }).records).toMatchObject({ backfilled: 2 });
  });

  it('ranks failure reasons by frequency with example keys', () => {
    const many = Array.from({ length: 30 }, (_, i) => ({ key: `k${String(i).padStart(2, '0')}`, code: i % 3 ? ('decode-failed' as const) : ('too-many-pixels' as const), message: i % 3 ? 'VipsJpeg: premature end of JPEG image' : '', retryable: i < 5 }));
    const r = result('resize', 0, 30, many);
    const folded = buildReport({ ...plan, shardCount: 1, shardOperations: ['resize'], counts: { ...plan.counts, work: 30 } }, [r], { trigger: 'cli', startedAt: '', finishedAt: '', catalogPromoted: false });
    expect(folded.failed).toEqual({
      total: 30,
      objects: 30,
      retryable: 5,
      reasons: [
        // Explained by their cause (core/failures.ts), the raw message kept on each failure.
        { operation: 'resize', code: 'decode-failed', cause: 'jpeg-truncated', advice: expect.stringMatching(/^the JPEG is truncated: /), count: 20, examples: ['k01', 'k02', 'k04'] },
        { operation: 'resize', code: 'too-many-pixels', cause: 'too-many-pixels', advice: 'width × height exceeds filter.maxPixels', count: 10, examples: ['k00', 'k03', 'k06'] },
      ],
    });
  });

  it('folds shard by shard in bounded memory: counts every failure, names the first FAILURES_NAMED in key order, and returns each shard\'s rows', () => {
    const shards = 3;
    const per = FAILURES_NAMED; // every shard fails every object, in both operations
    const big = { ...plan, shardCount: shards, counts: { ...plan.counts, work: shards * per } };
    const fold = new ReportFold(big);
    const key = (shard: number, i: number) => `s${shard}/${String(per - i).padStart(6, '0')}.jpg`; // each shard's failures arrive in reverse key order
    const rows: string[] = [];
    for (let shard = 0; shard < shards; shard++) {
      const failures = (op: 'backup' | 'resize') => Array.from({ length: per }, (_, i) => ({ key: key(shard, i), code: op === 'backup' ? ('copy-failed' as const) : ('decode-failed' as const), message: 'x', retryable: op === 'backup' }));
      rows.push(...fold.add(shard, [result('backup', shard, per, failures('backup')), result('resize', shard, per, failures('resize'))]).map((f) => `${f.operation} ${f.key}`));
    }
    expect(fold.gaps()).toEqual([]);
    const report = fold.report({ trigger: 'cli', startedAt: '', finishedAt: '', catalogPromoted: false });
    expect(report.failed).toMatchObject({ total: 2 * shards * per, objects: shards * per, retryable: shards * per });
    expect(report.failures).toHaveLength(FAILURES_NAMED);
    // Key order across shards, and on one key backup before resize, as the plan lists the operations.
    expect(rows.slice(0, 3)).toEqual([`backup ${key(0, per - 1)}`, `resize ${key(0, per - 1)}`, `backup ${key(0, per - 2)}`]);
    expect(rows).toHaveLength(2 * shards * per);
    expect(report.failures.map((f) => `${f.operation} ${f.key}`)).toEqual(rows.slice(0, FAILURES_NAMED));
    expect(() => fold.add(5, [])).toThrow('shard results folded out of order: shard 5, expected 3');
  });

  it('names missing results and unread shards as gaps', () => {
    const fold = new ReportFold(plan);
    fold.add(0, [undefined, results[2]]);
    expect(fold.gaps()).toEqual(['backup: no result for shard 0', '1 of 2 shards read']);
  });
});

describe('the report page lists the rendering notes in one order, whatever order the shards finished in', () => {
  const noted = (shard: number, notedByCode: Record<string, number>): ShardResult => ({ ...result('resize', shard, 3, []), notedByCode });
  const notes = (shards: ShardResult[]) => {
    const html = renderReportHtml(buildReport(plan, shards, { trigger: 'schedule', startedAt: '2026-11-22T02:00:00.000Z', finishedAt: '2026-11-22T02:41:00.000Z', catalogPromoted: true }));
    return /<h2 id="rendering-notes">[^<]*<\/h2><p class="meta">(.*?): each image/.exec(html)?.[1];
  };

  it('the most frequent first, then by name', () => {
    const focal = noted(0, { 'focal-point-invalid': 1 });
    const animation = noted(1, { 'animation-over-budget': 1 });
    const byName = '<code>animation-over-budget</code> 1 · <code>focal-point-invalid</code> 1';
    expect(notes([focal, animation])).toBe(byName);
    expect(notes([animation, focal])).toBe(byName);
    expect(notes([noted(1, { 'animation-over-budget': 1, 'focal-point-invalid': 1 }), noted(0, { 'focal-point-invalid': 2 })])).toBe('<code>focal-point-invalid</code> 3 · <code>animation-over-budget</code> 1');
  });
});
