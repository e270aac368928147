/**
 * The local outbox: an SQS queue subscribed to the SNS topic on the embedded server, so the run's
 * emails go through a real SNS Publish; after the run each one is also written as an RFC 5322
 * .eml file under .nightshift/outbox/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { textToHtml, toEml } from '../core/eml';

export interface Outbox {
  readonly topicArn: string;
  /** Writes every email received since the last call as .eml files; returns their paths. */
  drain(runId: string, to: readonly string[]): Promise<{ path: string; subject: string; text: string }[]>;
  close(): void;
}

export async function openOutbox(endpoint: string, dir: string, region = 'us-east-1'): Promise<Outbox> {
  const credentials = { accessKeyId: 'nightshift', secretAccessKey: 'nightshift' };
  const sns = new SNSClient({ endpoint, region, credentials });
  const sqs = new SQSClient({ endpoint, region, credentials });
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'nightshift' }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'nightshift-outbox' }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn }));
  sns.destroy();
  mkdirSync(dir, { recursive: true });
  return {
    topicArn: TopicArn!,
    async drain(runId, to) {
      const out: { path: string; subject: string; text: string }[] = [];
      for (;;) {
        const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        if (!got.Messages?.length) break;
        for (const m of got.Messages) {
          const envelope = JSON.parse(m.Body!) as { Subject?: string; Message: string; MessageId: string; Timestamp?: string };
          const path = join(dir, `${runId}${out.length ? `-${out.length + 1}` : ''}.eml`);
          const subject = envelope.Subject ?? '(no subject)';
          writeFileSync(path, await toEml({ from: 'nightshift <nightshift@localhost>', to, subject, text: envelope.Message, html: textToHtml(envelope.Message, subject), date: envelope.Timestamp ? new Date(envelope.Timestamp) : new Date(), messageId: `${envelope.MessageId}@nightshift.local` }));
          out.push({ path, subject, text: envelope.Message });
          await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
        }
      }
      return out;
    },
    close: () => sqs.destroy(),
  };
}
