import { interruptedRun, interruptedWords, type LastRun, neverEnded } from './last-run';

const last: LastRun = { runId: 'run-a', executionArn: 'arn:aws:states:eu-west-1:1:execution:Nightshift-workflow:run-a', startedAt: '2026-11-30T02:00:00.000Z', dryRun: false };
const plan = { work: 1200, shardCount: 4, operations: ['backup', 'resize'] };

describe('the run before this one', () => {
  it('never ended only when it started, has no end, is not this run and is not running', () => {
    expect(neverEnded(last, 'run-b', [])).toBe(true);
    expect(neverEnded({ ...last, ended: { at: '2026-11-30T03:00:00Z', outcome: 'report' } }, 'run-b', [])).toBe(false);
    expect(neverEnded({ ...last, ended: { at: '2026-11-30T03:00:00Z', outcome: 'failed' } }, 'run-b', [])).toBe(false);
    expect(neverEnded(last, 'run-a', [])).toBe(false); // a retried Prepare
    expect(neverEnded(last, 'run-b', ['run-a'])).toBe(false); // still running: this run is skipped
    expect(neverEnded(undefined, 'run-b', [])).toBe(false);
  });

  it('is placed at the state its artefacts show', () => {
    expect(interruptedRun(last, { results: {}, report: false })).toMatchObject({ stoppedIn: 'Plan', progress: 'no plan written' });
    expect(interruptedRun(last, { plan, results: { backup: 4, resize: 1 }, report: false })).toMatchObject({ stoppedIn: 'Work', progress: '1,200 objects with work due; backup 4 of 4 shards, resize 1 of 4 shards' });
    expect(interruptedRun(last, { plan, results: { backup: 4, resize: 4 }, report: false })).toMatchObject({ stoppedIn: 'Aggregate' });
    expect(interruptedRun(last, { plan, results: { backup: 4, resize: 4 }, report: true })).toMatchObject({ stoppedIn: 'Notify' });
  });

  it('is said in one sentence that names the run, its start, the state and what it means', () => {
    expect(interruptedWords(interruptedRun({ ...last, dryRun: true }, { plan, results: {}, report: false }))).toBe(
      'Run run-a (started 2026-11-30 02:00 UTC, a dry run) was interrupted in Backup and Resize (1,200 objects with work due; backup 0 of 4 shards, resize 0 of 4 shards) and sent no email: it was killed, stopped or timed out. Nothing it wrote is lost and its catalogue was not promoted, so this run planned its unfinished work again; what it had already written counts as already current.',
    );
  });
});
