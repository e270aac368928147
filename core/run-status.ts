/**
 * One run as `nightshift status` and `nightshift history` show it, local or deployed: when, the
 * outcome the counts give, the counts, and the execution's duration (the one the email and
 * report.json say). The JSON shape of `status --json` and of each `history --json` entry.
 */
import { countWords, DRY_RUN_SUBJECT } from './email';
import { duration, utcMinute } from './format';
import type { RunCounts } from './report';

export interface RunLine {
  readonly runId: string;
  /** local: a `nightshift local` run (its record in the data directory); aws: a Step Functions execution. */
  readonly where: 'local' | 'aws';
  /** How the execution ended: RUNNING, SUCCEEDED, FAILED, ABORTED, TIMED_OUT, INTERRUPTED (a local run whose process is gone). */
  readonly status: string;
  /** The outcome the counts give ("SUCCEEDED with 9 failed", "NOTHING TO DO"), or the status when the run has no report. */
  readonly outcome: string;
  /** The execution's start (ISO 8601): after a local run's start-up. */
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** The run's duration as its report and email say it (else the execution's), in milliseconds. */
  readonly durationMs: number | null;
  /** Local runs: the CLI's start-up before the execution (servers, synth, bundle). */
  readonly startupMs?: number;
  /** From the run's report (core/report.ts RunCounts); null when it wrote none. */
  readonly counts: RunCounts | null;
  readonly subject: string | null;
  /** report.html: a path for local runs, an s3:// URI for deployed ones. */
  readonly report: string | null;
  /** Why it stopped, for FAILED, ABORTED and INTERRUPTED runs. */
  readonly reason: string | null;
}

/** `2026-11-22 02:00 UTC  SUCCEEDED with 3 failed  1,204 rendered, 3 failed  41 min  <runId>` */
export function historyLine(r: RunLine): string {
  const took = r.durationMs === null ? (r.status === 'RUNNING' ? 'running' : '-') : duration(r.durationMs);
  return [utcMinute(r.startedAt), r.outcome.padEnd(26), (didWords(r) ?? '-').padEnd(44), took.padStart(8), r.runId].join('  ');
}

/**
 * What the run did, in the subject's words: a dry run did nothing, so its words are what a run
 * would do, as its subject says them (from the plan's counts: "would back up 0 and render 37 images").
 */
function didWords(r: RunLine): string | undefined {
  if (r.outcome === 'DRY RUN' && r.subject?.startsWith(DRY_RUN_SUBJECT)) return r.subject.slice(DRY_RUN_SUBJECT.length);
  return r.counts ? countWords(r.counts) : undefined;
}

/** `status` in words: the run, its outcome and duration, then what it did. */
export function statusLines(r: RunLine): string[] {
  const took = r.durationMs === null ? '' : `, ${duration(r.durationMs)}${r.startupMs !== undefined ? ` (after ${duration(r.startupMs)} of start-up)` : ''}`;
  return [
    `${r.runId}  ${r.outcome}  started ${utcMinute(r.startedAt)}${took}`,
    ...(didWords(r) !== undefined ? [`  ${didWords(r)}`] : []),
    ...(r.reason ? [`  ${r.status === 'ABORTED' ? 'Stopped by' : 'Reason'}: ${r.reason}`] : []),
    ...(r.subject ? [`  Email: ${r.subject}`] : []),
    ...(r.report ? [`  Report: ${r.report}`] : []),
  ];
}
