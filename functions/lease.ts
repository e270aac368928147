/**
 * The run lease in the work bucket (core/lease.ts): taken at Prepare and renewed by ScopeWork with
 * conditional writes, released by Notify and NotifyFailure with a conditional delete.
 *
 * S3 user guide, "Conditional writes" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html):
 * `If-None-Match: *` writes only a key that does not exist and `If-Match` only the version with
 * that ETag, else 412 Precondition Failed; two conditional writes racing on one key can get 409
 * ConditionalRequestConflict; an `If-Match` write on a key that is gone gets 404 NoSuchKey. Each
 * means another run came first: read the lease again and decide again.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { LEASE_KEY, leaseClaim, leaseFor, type RunLease } from '../core/lease';
import { getJsonIfExists, isConditionalConflict, isNotFound, isPreconditionFailed, putJson } from '../adapters/s3';
import type { FunctionContext } from './context';

export type LeaseOutcome = { readonly held: true; readonly lease: RunLease } | { readonly held: false; readonly holder: RunLease };

/** A conditional write or delete that lost to another writer (412, 409, or 404 on If-Match). */
function lostRace(error: unknown): boolean {
  return isPreconditionFailed(error) || isConditionalConflict(error) || isNotFound(error);
}

/** Reads, decides, writes; a lost race reads again. Three rounds: each lost round means another run wrote the lease. */
const ROUNDS = 3;

/**
 * Takes the lease for this execution for `budgetSeconds` (capped at the execution's limit), or
 * renews it if this execution holds it already (a retried Prepare, a redrive). Answers who holds
 * it when another unexpired run does.
 */
export async function takeLease(ctx: FunctionContext, self: { executionArn: string; runId: string }, budgetSeconds: number): Promise<LeaseOutcome> {
  const { work } = ctx.config.buckets;
  let last: RunLease | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    const current = await getJsonIfExists<RunLease>(ctx.s3, work, LEASE_KEY);
    const now = new Date();
    const claim = leaseClaim(current?.value, self.executionArn, now);
    if (claim.kind === 'held') return { held: false, holder: claim.lease };
    last = current?.value;
    const lease = leaseFor(self, claim, budgetSeconds, ctx.config.compute.executionTimeoutHours * 3600, now);
    try {
      await putJson(ctx.s3, work, LEASE_KEY, lease, current ? { ifMatch: current.etag } : { ifNoneMatch: '*' });
      if (claim.kind === 'expired') ctx.log.warn('took over an expired run lease', { runId: self.runId, from: claim.lease.runId, expiredAt: claim.lease.expiresAt });
      return { held: true, lease };
    } catch (error) {
      if (!lostRace(error)) throw error;
    }
  }
  // Every round lost to another writer: whoever wrote last has it.
  const holder = (await getJsonIfExists<RunLease>(ctx.s3, work, LEASE_KEY))?.value ?? last;
  if (holder && holder.executionArn !== self.executionArn) return { held: false, holder };
  throw new Error(`The run lease s3://${work}/${LEASE_KEY} changed under every one of ${ROUNDS} conditional writes: retry the state.`);
}

/** Deletes the lease if this execution holds it (If-Match on the ETag read): a lease another run took over is not ours to delete. */
export async function releaseLease(ctx: FunctionContext, executionArn: string | undefined): Promise<void> {
  const { work } = ctx.config.buckets;
  const current = await getJsonIfExists<RunLease>(ctx.s3, work, LEASE_KEY);
  if (!executionArn || current?.value.executionArn !== executionArn) return;
  try {
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: work, Key: LEASE_KEY, IfMatch: current.etag }));
  } catch (error) {
    if (!lostRace(error)) throw error; // taken over after it expired, or already gone
  }
}
