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

/** A running execution, normalised from a ListExecutions item. */
export interface ActiveExecution {
  readonly executionArn: string;
  readonly name: string;
  /** ISO 8601. */
  readonly startDate: string;
}

/**
 * One item of `Executions` as the `aws-sdk:sfn:listExecutions` integration returns it: the API's
 * member names in PascalCase (Step Functions developer guide, "AWS SDK service integrations"), with
 * `StartDate` a timestamp (ExecutionListItem, Step Functions API reference).
 */
export interface ListedExecution {
  readonly ExecutionArn: string;
  readonly Name: string;
  readonly Status?: string;
  readonly StateMachineArn?: string;
  readonly StartDate: string | number;
}

/**
 * A timestamp in any form the integration can give it: an ISO 8601 string, or a number of epoch
 * seconds (the API's JSON wire form, e.g. 1.48755E9) or milliseconds. Undefined when it is none.
 */
export function parseTimestamp(value: unknown): string | undefined {
  const numeric = typeof value === 'string' && /^\d+(\.\d+)?(e\d+)?$/i.test(value.trim()) ? Number(value) : value;
  let ms: number;
  if (typeof numeric === 'number') ms = Math.abs(numeric) < 1e11 ? numeric * 1000 : numeric;
  else if (typeof numeric === 'string') ms = Date.parse(numeric);
  else return undefined;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** The running executions of a ListExecutions answer; an item without a name or a readable start is an error, naming it. */
export function activeExecutions(listed: readonly ListedExecution[]): ActiveExecution[] {
  return listed.map((e, i) => {
    const startDate = parseTimestamp(e.StartDate);
    if (typeof e.Name !== 'string' || !startDate) {
      throw new Error(`ListExecutions item ${i}: expected {ExecutionArn, Name, StartDate} (PascalCase, as the aws-sdk:sfn:listExecutions integration returns it), received ${JSON.stringify(e).slice(0, 300)}`);
    }
    return { executionArn: e.ExecutionArn, name: e.Name, startDate };
  });
}

/**
 * The run this one must give way to: the oldest other running execution, if it started before
 * this one (ties broken by name, so of two runs started together exactly one goes ahead).
 */
export function runToYieldTo(self: { name: string; startDate: string }, running: readonly ActiveExecution[]): ActiveExecution | undefined {
  const earlier = running.filter((e) => e.name !== self.name && (Date.parse(e.startDate) < Date.parse(self.startDate) || (Date.parse(e.startDate) === Date.parse(self.startDate) && e.name < self.name)));
  return earlier.sort((a, b) => Date.parse(a.startDate) - Date.parse(b.startDate) || (a.name < b.name ? -1 : 1))[0];
}
