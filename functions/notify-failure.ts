/**
 * NotifyFailure: the email when a state of the workflow failed after its retries. Says which state,
 * the error and its cause, and what to do next. Shares the once-per-run marker with Notify.
 */
import { failureEmail } from '../core/email';
import { runKeys } from '../core/keys';
import type { Report } from '../core/report';
import { getJsonIfExists } from '../adapters/s3';
import { emailLinks, type FunctionContext, functionContext } from './context';
import { releaseLease } from './lease';
import { recordEnd } from './ledger';
import { finalEmailSent, publishOnce } from './publish';
import { announceRun } from './run-event';

/** NotifyFailure fails on purpose after the email, so the execution ends at a redrivable Task. */
export class RunFailed extends Error {
  override readonly name = 'RunFailed';
}

export interface NotifyFailureEvent {
  readonly runId: string;
  /** The state whose Catch led here. */
  readonly state: string;
  /** The Catch's error output: `{Error, Cause}`. */
  readonly error: { readonly Error?: string; readonly Cause?: string };
  readonly startedAt: string;
  readonly executionArn?: string;
  /** `$$.Execution.RedriveCount` when the state failed, and now. */
  readonly failedAtRedrive?: number;
  readonly redriveCount?: number;
}

export async function handler(event: NotifyFailureEvent): Promise<{ resumeAt: string }> {
  const ctx = functionContext();
  // Rerun by a redrive: the failure was reported; resume at the state that failed.
  if ((event.redriveCount ?? 0) > (event.failedAtRedrive ?? 0)) {
    ctx.log.info('redriven: resuming', { runId: event.runId, resumeAt: event.state, redriveCount: event.redriveCount });
    return { resumeAt: event.state };
  }
  const error = event.error.Error ?? 'UnknownError';
  const cause = readableCause(event.error.Cause ?? '(no cause given)');
  // A local run (the embedded runtime) has no console to redrive from: its user runs the command again.
  const local = event.runId.startsWith('local-');
  const rerun =
    error === 'InvalidInput'
      ? local
        ? 'Run nightshift local again with corrected flags (see the cause above).'
        : 'Start a new execution with a corrected input (see the cause above).'
      : local
        ? `Fix the cause, then run nightshift local again: it redoes only what is missing. The jobs' logs are in logs/${event.runId}/ of the data directory (.nightshift unless --data-dir).`
        : `Fix the cause, then redrive this execution (console: Redrive; or aws stepfunctions redrive-execution --execution-arn ${event.executionArn ?? '<arn>'}): it resumes at ${event.state}. Or start a new run; either redoes only what is missing.`;
  const email = failureEmail({ runId: event.runId, state: event.state, error, cause, startedAt: event.startedAt, failedAt: new Date().toISOString(), rerun }, emailLinks(ctx, event.runId, event.executionArn, false));
  // One failure email per failure: a redriven run that fails again says so again. But once the
  // run's final email went out (Notify published, then failed), the operator has the outcome.
  // The final email's run was announced with it: no failure email, and no FAILED event after its Run Completed.
  if (await finalEmailSent(ctx, event.runId)) ctx.log.warn('the final email was already sent: no failure email', { runId: event.runId, state: event.state });
  else await publishOnce(ctx, event.runId, await announceRun(ctx, email, { runId: event.runId, status: 'FAILED', records: await reportRecords(ctx, event.runId) }), `failure-${event.redriveCount ?? 0}`);
  await recordEnd(ctx, event.runId, 'failed');
  await releaseLease(ctx, event.executionArn);
  throw new RunFailed(`Failed in ${event.state}: ${error}: ${cause.split('\n')[0]}`);
}

/** The records of a run that failed after Aggregate wrote its report (in Notify): its counts and feed stand. */
async function reportRecords(ctx: FunctionContext, runId: string): Promise<Report['records']> {
  return (await getJsonIfExists<Report>(ctx.s3, ctx.config.buckets.work, runKeys(runId).report))?.value.records;
}

/** Causes from Lambda and Batch are JSON; pull out the message a person needs. */
function readableCause(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string; StatusReason?: string; Container?: { Reason?: string; ExitCode?: number }; Attempts?: unknown[] };
    if (parsed.errorMessage) return parsed.errorMessage;
    if (parsed.StatusReason) {
      const exit = parsed.Container?.ExitCode;
      return `${parsed.StatusReason}${parsed.Container?.Reason ? `: ${parsed.Container.Reason}` : ''}${exit !== undefined ? ` (exit code ${exit})` : ''}`;
    }
  } catch {
    // not JSON: already readable
  }
  return cause;
}
