/**
 * NotifyFailure: the email when a state of the workflow failed after its retries. Says which state,
 * the error and its cause, and what to do next. Shares the once-per-run marker with Notify.
 */
import { failureEmail } from '../core/email';
import { emailLinks, functionContext } from './context';
import { type Published, publishOnce } from './publish';

export interface NotifyFailureEvent {
  readonly runId: string;
  /** The state whose Catch led here. */
  readonly state: string;
  /** The Catch's error output: `{Error, Cause}`. */
  readonly error: { readonly Error?: string; readonly Cause?: string };
  readonly startedAt: string;
  readonly executionArn?: string;
}

export async function handler(event: NotifyFailureEvent): Promise<Published> {
  const ctx = functionContext();
  const error = event.error.Error ?? 'UnknownError';
  const cause = readableCause(event.error.Cause ?? '(no cause given)');
  const rerun =
    error === 'InvalidInput'
      ? 'Start a new execution with a corrected input (see the cause above).'
      : 'Fix the cause, then start a new run (npx nightshift run --wait, or Start execution with {} in the console). A new run redoes only what is missing: current backups and renditions are skipped.';
  const email = failureEmail({ runId: event.runId, state: event.state, error, cause, startedAt: event.startedAt, failedAt: new Date().toISOString(), rerun }, emailLinks(ctx, event.runId, event.executionArn, false));
  return publishOnce(ctx, event.runId, email);
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
