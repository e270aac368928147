/**
 * Publishing a run's email once, even when two attempts run at once (a retried Lambda whose first
 * attempt is still running, a duplicated invocation). The email's marker (runs/<runId>/notified.json
 * for the final email; notified-<tag>.json for a failure report) is claimed before publishing,
 * with `If-None-Match: *`: S3 lets exactly one writer create it (S3 API reference, PutObject,
 * conditional writes). The winner publishes and records the message id; a loser sends nothing.
 * A claim whose publish failed is marked so, and one left by an attempt that died while sending
 * goes stale after CLAIM_STALE_MS: either may be taken over, with If-Match on the claim it read.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { Email } from '../core/email';
import { runKeys } from '../core/keys';
import { getJsonIfExists, isConditionalConflict, isNotFound, isPreconditionFailed, putJson, type WriteCondition } from '../adapters/s3';
import type { FunctionContext } from './context';

/** The marker of a run's email: `notified.json` for the final email, `notified-<tag>.json` for others. */
export const notifiedKey = (runId: string, tag?: string) => `${runKeys(runId).base}/notified${tag ? `-${tag}` : ''}.json`;

/** Longer than a notify function may run (2 minutes): a claim this old was left by an attempt that died. */
export const CLAIM_STALE_MS = 5 * 60_000;

export interface Published {
  readonly sent: boolean;
  readonly messageId?: string;
  readonly subject: string;
}

/** What a marker says. Markers written before claims existed have no status: they mean sent. */
interface Marker {
  readonly status?: 'sending' | 'sent' | 'failed';
  readonly at?: string;
  readonly messageId?: string;
  /** The attempt that claimed it ('sending'). */
  readonly claim?: string;
}

async function readMarker(ctx: FunctionContext, key: string): Promise<{ marker: Marker; etag: string } | undefined> {
  const found = await getJsonIfExists<Marker>(ctx.s3, ctx.config.buckets.work, key);
  return found && { marker: found.value, etag: found.etag };
}

/** Whether the run's final email (success, nothing to do, skipped) has been sent, or is being sent. */
export async function finalEmailSent(ctx: FunctionContext, runId: string): Promise<boolean> {
  const found = await readMarker(ctx, notifiedKey(runId));
  return found !== undefined && found.marker.status !== 'failed';
}

/** Rounds of write-then-read a claim gets before it gives up (to the Lambda's retry). */
const CLAIM_ROUNDS = 8;

/**
 * Claims the marker for this attempt; false when another attempt has sent, or is sending, this
 * email. Every refusal S3 gives a conditional write sends us back to read the marker and decide
 * again, never to publish: 412 (another claim is there), 409 ConditionalRequestConflict (another
 * claim was being written at that moment; nothing was written) and 404 (the marker we meant to
 * take over with If-Match is gone) (S3 user guide, "How to prevent object overwrites with
 * conditional writes", Conditional write behavior). The claim carries this attempt's id, so a
 * write of ours whose answer was lost (the SDK's retry then sees our own claim) is still ours.
 */
async function claim(ctx: FunctionContext, key: string, now = Date.now()): Promise<boolean> {
  const sending: Marker = { status: 'sending', at: new Date(now).toISOString(), claim: randomUUID() };
  let condition: WriteCondition | undefined = { ifNoneMatch: '*' };
  for (let round = 1; condition; round++) {
    try {
      await putJson(ctx.s3, ctx.config.buckets.work, key, sending, condition);
      return true;
    } catch (error) {
      const conflict = isConditionalConflict(error);
      if (!(isPreconditionFailed(error) || conflict || isNotFound(error)) || round >= CLAIM_ROUNDS) throw error;
      if (conflict) await delay(20 * round);
    }
    const found = await readMarker(ctx, key);
    if (found?.marker.claim === sending.claim) return true;
    condition = takeOver(found, now);
  }
  return false;
}

/** How to claim the marker as found: create it, replace a failed or stale claim, or (undefined) leave it to its holder. */
function takeOver(found: { marker: Marker; etag: string } | undefined, now: number): WriteCondition | undefined {
  if (!found) return { ifNoneMatch: '*' };
  const { status, at } = found.marker;
  const stale = status === 'sending' && now - Date.parse(at ?? '') > CLAIM_STALE_MS;
  return status === 'failed' || stale ? { ifMatch: found.etag } : undefined;
}

export async function publishOnce(ctx: FunctionContext, runId: string, email: Email, tag?: string): Promise<Published> {
  const topic = ctx.env.NIGHTSHIFT_TOPIC_ARN;
  if (!topic) throw new Error('NIGHTSHIFT_TOPIC_ARN is not set: expected the ARN of the notification topic.');
  const marker = notifiedKey(runId, tag);
  if (!(await claim(ctx, marker))) {
    ctx.log.info('already notified (or being notified) for this run: sending nothing', { runId, marker });
    return { sent: false, subject: email.subject };
  }
  let messageId: string | undefined;
  try {
    messageId = (await ctx.sns.send(new PublishCommand({ TopicArn: topic, Subject: email.subject, Message: email.text }))).MessageId;
  } catch (error) {
    // Let the retry claim it again.
    await putJson(ctx.s3, ctx.config.buckets.work, marker, { status: 'failed', at: new Date().toISOString() } satisfies Marker).catch(() => undefined);
    throw error;
  }
  await putJson(ctx.s3, ctx.config.buckets.work, marker, { status: 'sent', messageId, subject: email.subject, at: new Date().toISOString() });
  ctx.log.info('notified', { runId, messageId, subject: email.subject });
  return { sent: true, messageId, subject: email.subject };
}
