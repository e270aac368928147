/**
 * The run ledger. `state/last-run.json` names the last run that started work and, once its email
 * went out, how it ended. A run that started and never ended (a killed process, an execution that
 * was stopped or timed out: nothing ran NotifyFailure) is found by the next run's Prepare, which
 * says so in that run's email, once, with the state it had reached.
 */
import { n } from './format';

/** The work-bucket key of the ledger. */
export const LAST_RUN_KEY = 'state/last-run.json';

export type RunEnd = 'report' | 'nothing-to-do' | 'failed';

export interface LastRun {
  readonly runId: string;
  readonly executionArn: string;
  readonly startedAt: string;
  readonly dryRun: boolean;
  /** Set by Notify or NotifyFailure once the run's email went out. */
  readonly ended?: { readonly at: string; readonly outcome: RunEnd };
}

/** What a run had written under runs/<runId>/ when it stopped. */
export interface RunProgress {
  readonly plan?: { readonly work: number; readonly shardCount: number; readonly operations: readonly string[] };
  /** Shard results written, by operation. */
  readonly results: Readonly<Record<string, number>>;
  readonly report: boolean;
}

export interface InterruptedRun {
  readonly runId: string;
  readonly executionArn: string;
  readonly startedAt: string;
  readonly dryRun: boolean;
  /** The state it had reached: Plan, Work, Aggregate or Notify. */
  readonly stoppedIn: 'Plan' | 'Work' | 'Aggregate' | 'Notify';
  /** What it had written, in words: "backup 3 of 4 shards, resize 0 of 4". */
  readonly progress: string;
}

/**
 * Whether the previous run never ended: it started, it is not running now, and no email said how
 * it ended. False for this run itself (a retried Prepare) and for a run still running (Prepare
 * then skips this run anyway).
 */
export function neverEnded(last: LastRun | undefined, self: string, running: readonly string[]): last is LastRun {
  return last !== undefined && !last.ended && last.runId !== self && !running.includes(last.runId);
}

/** What the next run says about a run that never ended, from what it had written. */
export function interruptedRun(last: LastRun, progress: RunProgress): InterruptedRun {
  const { plan, results } = progress;
  const base = { runId: last.runId, executionArn: last.executionArn, startedAt: last.startedAt, dryRun: last.dryRun };
  if (!plan) return { ...base, stoppedIn: 'Plan', progress: 'no plan written' };
  if (progress.report) return { ...base, stoppedIn: 'Notify', progress: `report written for ${n(plan.work)} objects with work due` };
  const written = plan.operations.map((op) => `${op} ${n(results[op] ?? 0)} of ${n(plan.shardCount)} shards`);
  const allWritten = plan.operations.every((op) => (results[op] ?? 0) >= plan.shardCount);
  return { ...base, stoppedIn: allWritten ? 'Aggregate' : 'Work', progress: `${n(plan.work)} objects with work due; ${written.join(', ') || 'no operations'}` };
}

/** The stages in the words the email's lines and the progress display use: the Work state runs Backup and Resize. */
const STAGE_WORDS: Record<InterruptedRun['stoppedIn'], string> = { Plan: 'Plan', Work: 'Backup and Resize', Aggregate: 'Aggregate', Notify: 'Notify' };

/** The email's and the report's sentence about it. */
export function interruptedWords(run: InterruptedRun): string {
  return (
    `Run ${run.runId} (started ${run.startedAt.slice(0, 16).replace('T', ' ')} UTC${run.dryRun ? ', a dry run' : ''}) was interrupted in ${STAGE_WORDS[run.stoppedIn]} (${run.progress}) and sent no email: ` +
    'it was killed, stopped or timed out. Nothing it wrote is lost and its catalogue was not promoted, so this run planned its unfinished work again; what it had already written counts as already current.'
  );
}
