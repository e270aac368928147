/**
 * The Run Completed event (core/run-event.ts) put by the functions that end a run (Notify,
 * NotifyFailure) before the run's email. A failed PutEvents never fails the run: it is logged,
 * and the email says so in a warning line. A retried Notify puts it again: subscribers key on the
 * run id (EventBridge delivers at least once anyway).
 */
import { type Email, withWarning } from '../core/email';
import type { RecordsReport } from '../core/records/feed';
import { runCompletedDetail, runCompletedEntry, type RunCompletedDetail } from '../core/run-event';
import { errorText } from '../adapters/s3';
import { eventsApi, putEvents } from '../adapters/run-events';
import type { FunctionContext } from './context';

export interface RunEnd {
  readonly runId: string;
  readonly status: RunCompletedDetail['status'];
  /** The report's records: counts and the change feed (none when the run wrote no feed). */
  readonly records?: Pick<RecordsReport, 'changes' | 'feed'>;
}

/** Puts the event; returns the email as it is, or with a warning when the event could not be put. */
export async function announceRun(ctx: FunctionContext, email: Email, end: RunEnd): Promise<Email> {
  const detail = runCompletedDetail(end.runId, end.status, end.records, ctx.config.buckets.work);
  try {
    const [eventId] = await putEvents(eventsApi(ctx.env), [runCompletedEntry(detail)]);
    ctx.log.info('Run Completed event put', { runId: end.runId, status: end.status, eventId });
    return email;
  } catch (error) {
    ctx.log.warn('Run Completed event not put: the run goes on', { runId: end.runId, status: end.status, error });
    return withWarning(email, `the Run Completed event was not put on EventBridge (${errorText(error)}); applications subscribed to it did not hear of this run.`);
  }
}
