/**
 * Publishing the run's one email. A marker object (runs/<runId>/notified.json) is written after
 * SNS accepts the message; a retried, redriven or duplicated Notify finds it and sends nothing.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { Email } from '../core/email';
import { runKeys } from '../core/keys';
import { isNotFound, putJson } from '../adapters/s3';
import type { FunctionContext } from './context';

export const notifiedKey = (runId: string) => `${runKeys(runId).base}/notified.json`;

export interface Published {
  readonly sent: boolean;
  readonly messageId?: string;
  readonly subject: string;
}

export async function publishOnce(ctx: FunctionContext, runId: string, email: Email): Promise<Published> {
  const topic = ctx.env.NIGHTSHIFT_TOPIC_ARN;
  if (!topic) throw new Error('NIGHTSHIFT_TOPIC_ARN is not set: expected the ARN of the notification topic.');
  const marker = notifiedKey(runId);
  try {
    await ctx.s3.send(new HeadObjectCommand({ Bucket: ctx.config.buckets.work, Key: marker }));
    ctx.log.info('already notified for this run: sending nothing', { runId, marker });
    return { sent: false, subject: email.subject };
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const out = await ctx.sns.send(new PublishCommand({ TopicArn: topic, Subject: email.subject, Message: email.text }));
  await putJson(ctx.s3, ctx.config.buckets.work, marker, { messageId: out.MessageId, subject: email.subject, at: new Date().toISOString() });
  ctx.log.info('notified', { runId, messageId: out.MessageId, subject: email.subject });
  return { sent: true, messageId: out.MessageId, subject: email.subject };
}
