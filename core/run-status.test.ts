import type { RunCounts } from './report';
import { historyLine, type RunLine, statusLines } from './run-status';

const counts: RunCounts = { listed: 41, due: 37, rendered: 0, backedUp: 0, current: 0, skipped: {}, failed: 0, pruned: 0, prunedRenditions: 0, held: 0 };
const line = (over: Partial<RunLine>): RunLine => ({
  runId: 'local-1',
  where: 'local',
  status: 'SUCCEEDED',
  outcome: 'SUCCEEDED',
  startedAt: '2026-12-04T18:46:00Z',
  finishedAt: '2026-12-04T18:46:01Z',
  durationMs: 1000,
  counts,
  subject: null,
  report: null,
  reason: null,
  ...over,
});

describe('history and status say what a run did, in its subject\'s words', () => {
  it('a dry run: what a run would do, never "checked, all current" (it checked nothing)', () => {
    const dry = line({ outcome: 'DRY RUN', subject: 'nightshift: DRY RUN, would back up 0 and render 37 images' });
    expect(historyLine(dry)).toContain('would back up 0 and render 37 images');
    expect(historyLine(dry)).not.toContain('all current');
    expect(statusLines(dry)[1]).toBe('  would back up 0 and render 37 images');
  });

  it('a run: the counts in the subject\'s words', () => {
    const run = line({ counts: { ...counts, rendered: 28, failed: 9 }, outcome: 'SUCCEEDED with 9 failed', subject: 'nightshift: 28 rendered, 9 failed' });
    expect(historyLine(run)).toMatch(/SUCCEEDED with 9 failed\s+28 rendered, 9 failed\s+1 s\s+local-1$/);
  });
});
