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
