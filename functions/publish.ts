/**
 * Publishing a run's email once. A marker object (runs/<runId>/notified.json for the final email;
 * notified-<tag>.json for a failure report) is written after SNS accepts the message; a retried,
 * redriven or duplicated Notify finds it and sends nothing.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { Email } from '../core/email';
import { runKeys } from '../core/keys';
import { isNotFound, putJson } from '../adapters/s3';
import type { FunctionContext } from './context';

/** The marker of a run's email: `notified.json` for the final email, `notified-<tag>.json` for others. */
export const notifiedKey = (runId: string, tag?: string) => `${runKeys(runId).base}/notified${tag ? `-${tag}` : ''}.json`;

export interface Published {
  readonly sent: boolean;
  readonly messageId?: string;
  readonly subject: string;
}

/** Whether a publishOnce marker is in the work bucket. */
async function markerExists(ctx: FunctionContext, key: string): Promise<boolean> {
  try {
    await ctx.s3.send(new HeadObjectCommand({ Bucket: ctx.config.buckets.work, Key: key }));
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** Whether the run's final email (success, nothing to do, skipped) has been sent. */
export function finalEmailSent(ctx: FunctionContext, runId: string): Promise<boolean> {
  return markerExists(ctx, notifiedKey(runId));
}

export async function publishOnce(ctx: FunctionContext, runId: string, email: Email, tag?: string): Promise<Published> {
  const topic = ctx.env.NIGHTSHIFT_TOPIC_ARN;
  if (!topic) throw new Error('NIGHTSHIFT_TOPIC_ARN is not set: expected the ARN of the notification topic.');
  const marker = notifiedKey(runId, tag);
  if (await markerExists(ctx, marker)) {
    ctx.log.info('already notified for this run: sending nothing', { runId, marker });
    return { sent: false, subject: email.subject };
  }
  const out = await ctx.sns.send(new PublishCommand({ TopicArn: topic, Subject: email.subject, Message: email.text }));
  await putJson(ctx.s3, ctx.config.buckets.work, marker, { messageId: out.MessageId, subject: email.subject, at: new Date().toISOString() });
  ctx.log.info('notified', { runId, messageId: out.MessageId, subject: email.subject });
  return { sent: true, messageId: out.MessageId, subject: email.subject };
}
