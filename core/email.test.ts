import { failureEmail, nothingToDoEmail, pruneLines, runEmail, skippedEmail, SNS_MESSAGE_MAX_BYTES } from './email';
import { buildReport, type Report } from './report';
import type { ShardResult } from './results';
import { samplePlan } from '../test/support/fixtures';

const plan = samplePlan({
  runId: '2026-11-22T02-00-00Z',
  presets: ['large', 'web', 'small', 'thumb'],
  counts: { listed: 1_204_000, selected: 1_200_000, new: 12_400, changed: 8, unchanged: 1_187_592, deleted: 3, work: 12_408, skipped: { 'not-an-image': 4000 } },
  bytes: { listed: 0, selected: 0, work: 0 },
  previousCatalogRecords: 1_187_595,
});
const meta = { trigger: 'schedule' as const, startedAt: '2026-11-22T02:00:00.000Z', finishedAt: '2026-11-22T02:41:00.000Z', catalogPromoted: true };

function shard(operation: 'backup' | 'resize', failures: number, keyLength = 40): ShardResult {
  return {
    runId: plan.runId,
    operation,
    shard: 0,
    attempt: 1,
    dryRun: false,
    startedAt: '',
    finishedAt: '',
    durationMs: 1,
    counts: { items: 12_408, processed: 12_408 - failures, skipped: 0, failed: failures },
    bytesRead: 5e9,
    bytesWritten: 1e9,
    skipped: [],
    failures: Array.from({ length: failures }, (_, i) => ({ key: `photos/${String(i).padStart(keyLength, 'é')}.jpg`, code: (['decode-failed', 'too-many-pixels', 'read-failed'] as const)[i % 3]!, message: 'x'.repeat(200), retryable: i % 3 === 2 })),
  };
}

const report = (failures: number, extra: Partial<Report> = {}, keyLength?: number): Report => ({ ...buildReport(plan, [shard('backup', 0), shard('resize', failures, keyLength)], meta), ...extra });

function expectSnsRules(email: { subject: string; text: string }) {
  expect(email.subject.length).toBeLessThan(100);
  expect(email.subject).toMatch(/^[\x20-\x7e]+$/); // printable ASCII, one line
  expect(Buffer.byteLength(email.text)).toBeLessThan(SNS_MESSAGE_MAX_BYTES);
}

describe('the run email', () => {
  it('says how many images the plan backfills, and how many records the backfill wrote, from their counts, in the right number', () => {
    const backfilling = { ...plan, counts: { ...plan.counts, backfill: 1_234 } };
    const resize = { ...shard('resize', 0), backfilled: 1_233, records: { written: 1_233, superseded: 0, requests: 50 }, changes: { added: 1_233, updated: 0, removed: 0, failed: 0 } };
    const text = runEmail(buildReport(backfilling, [shard('backup', 0), resize], meta)).text;
    expect(text).toContain('\n           1,234 images get their details recorded without re-rendering (backfill)\n');
    expect(text).toMatch(/\nRecords +1,233 records changed: 1,233 added, 0 updated, 0 removed, 0 failed \(1,233 by backfill, without re-rendering\); change feed /);
    const one = runEmail(buildReport({ ...plan, counts: { ...plan.counts, backfill: 1 } }, [shard('backup', 0), shard('resize', 0)], meta)).text;
    expect(one).toContain('1 image gets its details recorded without re-rendering (backfill)');
    expect(one).not.toContain('by backfill');
    expect(runEmail(report(0)).text).not.toContain('backfill');
  });

  it('says what happened in the subject and the first sentence', () => {
    const email = runEmail(report(3));
    expect(email.subject).toBe('nightshift: 12,405 rendered, 3 failed');
    expect(email.text.split('\n')[0]).toBe('12,408 images with work due: 12,405 rendered, 12,408 backed up, 3 failed, see below.');
    expect(email.text).toContain('Trigger    schedule');
    expect(email.text).toContain('Resize     12,405 rendered, 0 already current, 0 skipped, 3 failed (read 4.7 GiB, wrote 954 MiB)');
    expectSnsRules(email);
  });

  it('states the expected duration and cost, and warns with the fix when the run cannot fit its execution', () => {
    expect(runEmail(report(0)).text).toContain('Estimate   1 min expected; about $0.14 (compute $0.03, 99,277 S3 requests $0.10)');
    const late = { ...plan.estimate, expectedSeconds: 30 * 3600, fits: false, advice: 'expected 30.0 h on compute.maxVcpus 32, past the execution\'s 24 h limit: raise compute.maxVcpus to about 45, or backfill prefix by prefix (input "prefix") so each run fits' };
    const text = runEmail(report(0, { estimate: late })).text;
    expect(text).toContain('Estimate   30 h 00 min expected');
    expect(text).toContain('WARNING    this run may not finish inside the execution: expected 30.0 h on compute.maxVcpus 32, past the execution\'s 24 h limit: raise compute.maxVcpus to about 45');
  });

  it('claims no work that was not done: current, skipped and rendered are told apart, in the right number', () => {
    const one = buildReport({ ...plan, counts: { ...plan.counts, work: 1 } }, [], meta);
    const quiet: Report = {
      ...one,
      operations: {
        backup: { ...one.operations.backup!, ...{ shards: 1, items: 1, processed: 0, skipped: 1, failed: 0, bytesRead: 0, bytesWritten: 0, shardMs: 0, maxShardMs: 0, skippedByCode: { 'up-to-date': 1 }, failedByCode: {} } },
        resize: { shards: 1, items: 1, processed: 0, skipped: 1, failed: 0, bytesRead: 0, bytesWritten: 0, shardMs: 0, maxShardMs: 0, skippedByCode: { 'too-large': 1 }, failedByCode: {} },
      },
    };
    expect(runEmail(quiet).text.split('\n')[0]).toBe('1 image with work due: 0 rendered, 0 backed up, 1 already current, 1 skipped (too-large 1), none failed.');
  });

  it('counts a night of only deletions as pruned, never as rendered, in the subject, the lead and the Resize line', () => {
    const prunePlan = { ...plan, counts: { ...plan.counts, new: 0, changed: 0, deleted: 2, work: 2, prune: 2 } };
    const pruned = [{ key: 'a.jpg', renditions: ['web/a.jpg', 'thumb/a.jpg'] }, { key: 'b.jpg', renditions: ['web/b.jpg'] }];
    const resize: ShardResult = { ...shard('resize', 0), counts: { items: 2, processed: 2, skipped: 0, failed: 0 }, pruned };
    const backup: ShardResult = { ...shard('backup', 0), counts: { items: 2, processed: 0, skipped: 2, failed: 0 }, skippedByCode: { 'up-to-date': 2 } };
    const email = runEmail(buildReport(prunePlan, [backup, resize], meta));
    expect(email.subject).toBe('nightshift: 3 renditions of 2 deleted originals pruned');
    expect(email.text.split('\n')[0]).toBe('0 images with work due: 0 rendered, 0 backed up, 2 already current, 3 renditions of 2 deleted originals pruned, none failed.');
    expect(email.text).toContain('Resize     0 rendered, 0 already current, 0 skipped, 0 failed');
    expect(email.text).not.toMatch(/\b0 images,|\b[1-9]\d* rendered/);
  });

  it('writes a count of one with its noun in the singular: "1 image", "1 S3 request", "1 rendition of 1 deleted original"', () => {
    const one = (operation: 'backup' | 'resize'): ShardResult => ({ ...shard(operation, 0), counts: { items: 1, processed: 1, skipped: 0, failed: 0 } });
    const onePlan = {
      ...plan,
      counts: { ...plan.counts, listed: 1, selected: 1, new: 1, changed: 0, unchanged: 0, deleted: 0, work: 1, skipped: {} },
      estimate: { ...plan.estimate, cost: { ...plan.estimate.cost!, requests: { list: 0, copy: 0, put: 0, get: 0, head: 1 } } },
    };
    const single = buildReport(onePlan, [one('backup'), one('resize')], meta);
    const email = runEmail(single);
    expect(email.subject).toBe('nightshift: 1 rendered');
    expect(email.text).toContain('1 S3 request $');
    expect(email.text).toContain('Catalogue  1 object listed');
    expect(email.text).not.toMatch(/\b1 (images|S3 requests|objects)\b/);
    const pruned = pruneLines({ trigger: 'schedule', dryRun: false, prune: { originals: 1, renditions: 1, held: 1, share: 0.5, maxShare: 0.1, pruned: [{ key: 'a.jpg', renditions: ['web/a.jpg'] }] } });
    expect(pruned[0]).toContain('1 rendition of 1 deleted original deleted');
    expect(pruned.join('\n')).toContain('HELD: 1 deleted original is 50.0%');
  });

  it('tells how to confirm a held prune in the words of the runtime: the CLI flag locally, the flag or the console input on AWS', () => {
    const held = { dryRun: false, prune: { originals: 0, renditions: 0, held: 40, share: 0.4, maxShare: 0.1, pruned: [] } };
    const local = pruneLines({ ...held, trigger: 'local' }).join('\n');
    expect(local).toContain('If the deletions are intended, start a run with `nightshift local --confirm-prune`;');
    expect(local).not.toContain('confirmPrune');
    for (const trigger of ['schedule', 'console', 'cli'] as const) {
      expect(pruneLines({ ...held, trigger }).join('\n')).toContain('start a run with `nightshift run --confirm-prune`, or from the console with the input {"confirmPrune": true};');
    }
    // The nothing-to-do email of a held night (work was only the held prune) says the same.
    const heldPlan = { ...plan, shardCount: 0, nothingToDo: true, counts: { ...plan.counts, work: 0 }, prune: { enabled: true, originals: 0, held: 40, share: 0.4, maxShare: 0.1 } };
    expect(nothingToDoEmail(heldPlan, { ...meta, trigger: 'local' }).text).toContain('`nightshift local --confirm-prune`');
    expect(nothingToDoEmail(heldPlan, { ...meta, trigger: 'local' }).subject).toBe('nightshift: run HELD (prune guard)');
  });

  it('says "none failed" when nothing failed', () => {
    const email = runEmail(report(0));
    expect(email.text.split('\n')[0]).toBe('12,408 images with work due: 12,408 rendered, 12,408 backed up, none failed.');
    expect(email.text).not.toContain('Failures:');
  });

  it('stays under the SNS limit with 10,000 failures of 1 KB keys, listing the ten most frequent reasons', () => {
    const email = runEmail(report(10_000, {}, 500), { execution: 'https://console/x', report: 'https://console/r' });
    expectSnsRules(email);
    expect(email.text).toContain('Failures: 10,000 in all. Most frequent reasons:');
    expect(email.text.match(/^ {2}resize /gm)).toHaveLength(3);
    expect(email.text).toContain('3,333 of them may succeed on a rerun');
    expect(email.text.trimEnd().split('\n').at(-1)).toBe('Report     https://console/r');
  });

  it('marks a dry run', () => {
    const email = runEmail(report(0, { dryRun: true }));
    expect(email.subject).toContain('DRY RUN');
    expect(email.text.split('\n')[0]).toBe("Dry run: 12,408 images with work due would be processed; nothing was written outside the run's folder.");
  });

  it('says a run was superseded by a newer one, in the subject, under the first line and on the Catalogue line', () => {
    const email = runEmail(report(0, { catalogPromoted: false, superseded: { by: 'sched-2026-11-23' } }));
    expect(email.subject).toBe('nightshift: SUPERSEDED, 12,408 rendered');
    expect(email.text.split('\n').slice(1, 3)).toEqual(['', "This run was superseded by a newer run: its catalogue was not promoted; the newer run's catalogue stands (sched-2026-11-23). What it did is kept; what the newer run did not cover is planned again by the next run."]);
    expect(email.text).toContain("Catalogue  superseded by a newer run: its catalogue was not promoted; the newer run's catalogue stands (sched-2026-11-23); tomorrow compares against it");
    const quiet = nothingToDoEmail({ ...plan, shardCount: 0, nothingToDo: true, counts: { ...plan.counts, new: 0, changed: 0, work: 0 } }, { ...meta, superseded: {} });
    expect(quiet.subject).toBe('nightshift: SUPERSEDED, nothing to do');
    expect(quiet.text).toContain("\n\nThis run was superseded by a newer run: its catalogue was not promoted; the newer run's catalogue stands. What it did is kept;");
    expectSnsRules(email);
  });

  it('says when there is nothing to do', () => {
    const email = nothingToDoEmail({ ...plan, shardCount: 0, nothingToDo: true, counts: { ...plan.counts, new: 0, changed: 0, work: 0 } }, meta);
    expect(email.subject).toBe('nightshift: nothing to do');
    expect(email.text.split('\n')[0]).toBe('Nothing to do: no images with work due among the 1,200,000 selected.');
    expectSnsRules(email);
  });

  it('says where a workflow failed, why, and what to do', () => {
    const email = failureEmail({ runId: 'r', state: 'Resize', error: 'ResizeFailed', cause: 'Essential container in task exited', startedAt: meta.startedAt, failedAt: meta.finishedAt, rerun: 'npx nightshift run --wait' });
    expect(email.subject).toBe('nightshift 2026-11-22 02:00 UTC: FAILED in Resize (ResizeFailed)');
    expect(email.text.split('\n')[0]).toMatch(/^Run failed in Resize: ResizeFailed\. /);
    expect(email.text).toContain('  npx nightshift run --wait');
    const huge = failureEmail({ runId: 'r', state: 'Plan', error: 'X', cause: 'é'.repeat(500_000), startedAt: meta.startedAt, failedAt: meta.finishedAt, rerun: 'again' });
    expectSnsRules(huge);
  });

  it('keeps subjects ASCII even for unicode prefixes and run ids', () => {
    expectSnsRules(nothingToDoEmail({ ...plan, runId: 'ünïcode', prefix: '写真/' }, meta));
  });

  it('says a run was skipped because another was in progress', () => {
    const email = skippedEmail({ runId: 'e2', activeRun: 'cli-20261122T013000Z-ab12', activeSince: '2026-11-22T01:30:00.000Z', startedAt: meta.startedAt, trigger: 'schedule' });
    expect(email.subject).toBe('nightshift 2026-11-22 02:00 UTC: skipped, run cli-20261122T013000Z-ab12 in progress');
    expect(email.text.split('\n')[0]).toBe('Skipped: run cli-20261122T013000Z-ab12 was still in progress (since 2026-11-22 01:30 UTC), so this run did nothing rather than race it.');
    expect(email.text).toContain('If run cli-20261122T013000Z-ab12 is stuck, stop it (Step Functions console: Stop execution; or aws stepfunctions stop-execution --execution-arn <its execution ARN>)');
    expectSnsRules(email);
  });

  it('gives the advice that fits the kind of run that was skipped, with the command that starts it again', () => {
    const base = { runId: 'local-20261122T020000Z-b1', activeRun: 'local-20261122T013000Z-a1', activeSince: meta.startedAt, startedAt: meta.startedAt, trigger: 'local' as const, workBucket: 'nightshift-work' };
    const input = { prefix: '', operations: ['backup', 'resize'] as const, presets: ['thumb', 'web'], dryRun: false, full: false, force: false, confirmPrune: false };
    const next = (ask: Parameters<typeof skippedEmail>[0]['ask'], runId = base.runId) => skippedEmail({ ...base, runId, ask }).text.split('\n').find((l) => l.startsWith('  '))!.trim();
    const configuredPresets = ['thumb', 'web'];
    // A plain run: the active run does its work.
    expect(next({ input, configuredPresets })).toBe(`Nothing, usually: the active run covers the corpus. If it was a partial run (a prefix, some operations or presets, or a dry run), start this one again once it ends: nightshift local.`);
    // A dry run planned nothing: the operator wanted its plan.
    expect(next({ input: { ...input, dryRun: true, prefix: 'photos/2026/' }, configuredPresets })).toBe(`This dry run planned nothing. Once run ${base.activeRun} ends, start it again (nightshift local --prefix photos/2026/ --dry-run): its plan then counts what is left to do.`);
    // --import copied files into the corpus that the active run may have listed too early.
    expect(next({ input, configuredPresets, imported: '/home/me/Pictures' })).toBe(`The files imported from /home/me/Pictures are in the corpus, but run ${base.activeRun} may have listed it before they arrived. Once it ends, run nightshift local: it does whatever run ${base.activeRun} left undone (no need to import again).`);
    // A partial or forced run asked for something the active run may not do.
    expect(next({ input: { ...input, operations: ['resize'], presets: ['thumb'], full: true, force: true }, configuredPresets })).toBe(`This run's work (nightshift local --ops resize --presets thumb --full --force) was not done, and run ${base.activeRun} may not do it. Once it ends, start this one again: nightshift local --ops resize --presets thumb --full --force.`);
    // In AWS the command is nightshift run.
    expect(next({ input: { ...input, confirmPrune: true }, configuredPresets }, 'cli-20261122T020000Z-ab12')).toContain('start this one again: nightshift run --confirm-prune.');
  });

  it('says how to clear the marker of a local run that was killed', () => {
    const email = skippedEmail({ runId: 'local-b', activeRun: 'local-a', activeSince: meta.startedAt, startedAt: meta.startedAt, trigger: 'local', workBucket: 'nightshift-work' });
    expect(email.text).toContain('If run local-a is not running any more (its process was killed), its marker s3://nightshift-work/running/local-a.json expires 2.5 minutes after its last heartbeat, or delete it now');
  });
});

/** A dry run as the jobs report it: every object skipped with code dry-run, nothing promoted. */
function dryRunReport(): Report {
  const dry = (operation: 'backup' | 'resize'): ShardResult => ({
    ...shard(operation, 0),
    dryRun: true,
    counts: { items: 12_408, processed: 0, skipped: 12_408, failed: 0 },
    bytesRead: 0,
    bytesWritten: 0,
    skipped: Array.from({ length: 12_408 }, (_, i) => ({ key: `photos/${i}.jpg`, code: 'dry-run', message: operation === 'backup' ? 'would copy 400000 bytes' : 'would write 8 rendition(s)' })),
  });
  return buildReport({ ...plan, dryRun: true }, [dry('backup'), dry('resize')], { ...meta, catalogPromoted: false });
}

/**
 * The text of each kind of email, as a person reads it. A change to any of them shows in review
 * as a snapshot diff (update with `npx jest -u core/email` when the change is meant).
 */
describe('email snapshots', () => {
  const links = { execution: 'https://console/execution', report: 'https://console/report' };
  const cases: [string, () => { subject: string; text: string }][] = [
    ['success', () => runEmail(report(0), links)],
    ['partial failure with 10,000 failures', () => runEmail(report(10_000), links)],
    ['nothing to do', () => nothingToDoEmail({ ...plan, shardCount: 0, nothingToDo: true, counts: { ...plan.counts, new: 0, changed: 0, work: 0 } }, meta)],
    ['dry run', () => runEmail(dryRunReport(), links)],
    [
      'workflow failure',
      () => failureEmail({ runId: plan.runId, state: 'Resize', error: 'ResizeFailed', cause: 'Essential container in task exited (exit code 137)', startedAt: meta.startedAt, failedAt: meta.finishedAt, rerun: 'npx nightshift run --wait' }),
    ],
    ['skipped: another run active', () => skippedEmail({ runId: 'e2', activeRun: 'cli-20261122T013000Z-ab12', activeSince: '2026-11-22T01:30:00.000Z', startedAt: meta.startedAt, trigger: 'schedule' })],
  ];
  it.each(cases)('%s', (_, make) => {
    const email = make();
    expectSnsRules(email);
    expect(`Subject: ${email.subject}\n\n${email.text}`).toMatchSnapshot();
  });
});
