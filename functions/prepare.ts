/**
 * The workflow's first state: validates the run input against the configuration (so a bad console
 * input fails in seconds, with the validation message in the failure email), fixes the run's
 * id, trigger and start time, takes the run lease (functions/lease.ts) or gives way to the run
 * that holds it, and records the run in the ledger (functions/ledger.ts).
 */
import { parseCron } from '../core/cron';
import { parseRunInput, type RunInput } from '../core/input';
import { assertRunId } from '../core/keys';
import type { Trigger } from '../core/report';
import { planningBudgetSeconds } from '../core/lease';
import { catalogStateTimeoutSeconds } from '../core/timing';
import { type ActiveExecution, activeExecutions, detectTrigger, type ListedExecution, runToYieldTo } from '../core/trigger';
import { ValidationError } from '../core/validation';
import { type FunctionContext, functionContext } from './context';
import { takeLease } from './lease';
import { recordStart } from './ledger';

export interface PrepareEvent {
  /** The execution input, as given. */
  readonly input: unknown;
  /** Executions of this state machine running now (CheckActiveRuns: ListExecutions' `Executions`, PascalCase), this one included. */
  readonly running?: readonly ListedExecution[];
  /** The context object's `$$.Execution`. */
  readonly execution: { readonly Id: string; readonly Name: string; readonly StartTime: string };
}

export interface Prepared {
  readonly runId: string;
  readonly input: RunInput;
  readonly trigger: Trigger;
  readonly startedAt: string;
  readonly executionArn: string;
  /** Set when another run is in progress: this run does nothing and says so. */
  readonly skip?: { readonly activeRun: string; readonly activeArn?: string; readonly activeSince: string; readonly leaseUntil?: string; readonly input?: RunInput };
}

/** Step Functions names the error after `name`: the workflow's Catch reports it as the error. */
export class InvalidInput extends Error {
  override readonly name = 'InvalidInput';
}

export async function handler(event: PrepareEvent): Promise<Prepared> {
  const ctx = functionContext();
  const runId = event.execution.Name;
  try {
    assertRunId(runId);
  } catch (error) {
    throw new InvalidInput(`The execution name is used as the run id: ${(error as Error).message}`);
  }
  let input: RunInput;
  try {
    input = parseRunInput(event.input, ctx.config);
  } catch (error) {
    if (error instanceof ValidationError) throw new InvalidInput(error.message);
    throw error;
  }
  const cron = ctx.env.NIGHTSHIFT_SCHEDULE_CRON;
  const trigger = detectTrigger(runId, new Date(event.execution.StartTime), cron ? { cron: parseCron(cron), timeZone: ctx.env.NIGHTSHIFT_SCHEDULE_TIME_ZONE || undefined } : undefined);
  const running = activeExecutions(event.running ?? []);
  const skip = await yieldTo(ctx, event.execution, running);
  // A run that goes ahead takes the ledger, and finds the run before it if that one never ended.
  const start = skip ? undefined : await recordStart(ctx, { runId, executionArn: event.execution.Id, startedAt: event.execution.StartTime, dryRun: input.dryRun }, running.map((e) => e.name));
  if (start?.interrupted) ctx.log.info('the previous run never ended', { runId, interrupted: start.interrupted });
  ctx.log.info('run prepared', { runId, trigger, input, ...(skip ? { skippedFor: skip.activeRun } : {}) });
  // The skip carries this run's input: the skipped email's advice depends on what the run was asked.
  return { runId, input, trigger, startedAt: event.execution.StartTime, executionArn: event.execution.Id, ...(skip ? { skip: { ...skip, input } } : {}) };
}

/**
 * The run this one gives way to, if any. ListExecutions first (cheap, and it sees a run that has
 * not reached its Prepare yet), but it is eventually consistent (Step Functions API reference,
 * ListExecutions: "This operation is eventually consistent. The results are best effort and may
 * not reflect very recent updates and changes."), so two runs started together can both see
 * nobody: the run lease decides between them (functions/lease.ts).
 */
async function yieldTo(ctx: FunctionContext, execution: PrepareEvent['execution'], running: readonly ActiveExecution[]): Promise<Prepared['skip']> {
  const other = runToYieldTo({ name: execution.Name, startDate: execution.StartTime }, running);
  if (other) return { activeRun: other.name, activeArn: other.executionArn, activeSince: other.startDate };
  const lease = await takeLease(ctx, { executionArn: execution.Id, runId: execution.Name }, planningBudgetSeconds(catalogStateTimeoutSeconds(ctx.config.compute.catalog)));
  return lease.held ? undefined : { activeRun: lease.holder.runId, activeArn: lease.holder.executionArn, activeSince: lease.holder.takenAt, leaseUntil: lease.holder.expiresAt };
}
