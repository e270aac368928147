/**
 * The run lease: `state/lease.json` in the work bucket, which the run that works holds and no
 * other run can take while it is unexpired. CheckActiveRuns (ListExecutions) is eventually
 * consistent and EventBridge delivers a schedule at least once, so two runs can start seconds
 * apart and both see nobody; a conditional write lets exactly one of them take the lease.
 *
 * Its expiry follows the run's time budget: at Prepare, the catalog job's state timeout and the
 * states after it; once the plan is known (ScopeWork), the array jobs' timeouts from the plan and
 * the states after them. Never past the execution's own limit. A run that ends releases it; one
 * that never reaches an end (stopped, timed out) stops blocking when its budget has run out.
 */
import type { ShardOperation } from './input';

export const LEASE_KEY = 'state/lease.json';

export interface RunLease {
  /** The execution holding it: a retried Prepare or a redrive of the same execution still holds it. */
  readonly executionArn: string;
  readonly runId: string;
  /** When this execution first took it (named in a skipped run's email as "in progress since"). */
  readonly takenAt: string;
  readonly expiresAt: string;
}

/**
 * The states after the array jobs (Aggregate 16 min, Notify 2 min; or PromoteCatalogue and
 * NotifyNothingToDo), with their retries' backoff, and ScopeWork and ReadPlan before them.
 * test/lease.test.ts checks it covers the synthesized definition's task timeouts.
 */
export const LEASE_TAIL_SECONDS = 3600;

/** How a run stands towards the lease it read. */
export type LeaseClaim =
  | { readonly kind: 'free' }
  | { readonly kind: 'own'; readonly lease: RunLease }
  | { readonly kind: 'expired'; readonly lease: RunLease }
  | { readonly kind: 'held'; readonly lease: RunLease };

export function leaseClaim(current: RunLease | undefined, executionArn: string, now: Date): LeaseClaim {
  if (!current) return { kind: 'free' };
  if (current.executionArn === executionArn) return { kind: 'own', lease: current };
  return Date.parse(current.expiresAt) <= now.getTime() ? { kind: 'expired', lease: current } : { kind: 'held', lease: current };
}

/** The lease this run writes: its first take's time kept, the expiry `budgetSeconds` from now, capped at the execution's limit. */
export function leaseFor(self: { executionArn: string; runId: string }, claim: LeaseClaim, budgetSeconds: number, executionTimeoutSeconds: number, now: Date): RunLease {
  const takenAt = claim.kind === 'own' ? claim.lease.takenAt : now.toISOString();
  const expiresAt = new Date(now.getTime() + Math.min(budgetSeconds, executionTimeoutSeconds) * 1000).toISOString();
  return { executionArn: self.executionArn, runId: self.runId, takenAt, expiresAt };
}

/** Prepare's budget: the Plan state's timeout (the catalog job's every attempt, and time in the queue), then the tail. */
export function planningBudgetSeconds(catalogStateSeconds: number): number {
  return catalogStateSeconds + LEASE_TAIL_SECONDS;
}

/** ScopeWork's budget: the longest array job the plan runs (they run side by side, each bounded by its state timeout), then the tail. */
export function workBudgetSeconds(plan: { readonly timeouts: Readonly<Record<ShardOperation, number>>; readonly arrayJobs: Readonly<Record<ShardOperation, boolean>> }): number {
  const running = (Object.keys(plan.timeouts) as ShardOperation[]).filter((op) => plan.arrayJobs[op]);
  return Math.max(0, ...running.map((op) => plan.timeouts[op])) + LEASE_TAIL_SECONDS;
}
