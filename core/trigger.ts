/**
 * Who started a run, for the report and the email. The CLI and the local runner name their
 * executions (`cli-…`, `local-…`); the schedule's rule starts executions with `{}` and a generated
 * name, as the console does, so a run that starts within a few minutes of a scheduled time is
 * taken to be the schedule's, and any other to be an operator's from the console.
 */
import { type Cron, nextRuns } from './cron';
import type { Trigger } from './report';

export const SCHEDULE_SLACK_MS = 5 * 60_000;

export function detectTrigger(executionName: string, startedAt: Date, schedule?: { cron: Cron; timeZone?: string }): Trigger {
  if (executionName.startsWith('cli-')) return 'cli';
  if (executionName.startsWith('local-')) return 'local';
  if (schedule) {
    const [fire] = nextRuns(schedule.cron, new Date(startedAt.getTime() - SCHEDULE_SLACK_MS - 1), 1, schedule.timeZone);
    if (fire && fire.getTime() <= startedAt.getTime()) return 'schedule';
  }
  return 'console';
}

/** A running execution, as ListExecutions describes it. */
export interface ActiveExecution {
  readonly executionArn: string;
  readonly name: string;
  readonly startDate: string;
}

/**
 * The run this one must give way to: the oldest other running execution, if it started before
 * this one (ties broken by name, so of two runs started together exactly one goes ahead).
 */
export function runToYieldTo(self: { name: string; startDate: string }, running: readonly ActiveExecution[]): ActiveExecution | undefined {
  const earlier = running.filter((e) => e.name !== self.name && (Date.parse(e.startDate) < Date.parse(self.startDate) || (Date.parse(e.startDate) === Date.parse(self.startDate) && e.name < self.name)));
  return earlier.sort((a, b) => Date.parse(a.startDate) - Date.parse(b.startDate) || (a.name < b.name ? -1 : 1))[0];
}
