/**
 * An email inbox on the embedded server: an SNS topic (the one the functions publish to) with an
 * SQS queue subscribed, as the local runner delivers emails. Tests read the queue their own way.
 */
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';

export interface EmailInbox {
  readonly topicArn: string;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
}

export async function startEmailInbox(endpoint: string): Promise<EmailInbox> {
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  const sns = new SNSClient({ endpoint, region: 'us-east-1', credentials });
  const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials });
  try {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'nightshift' }));
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'inbox' }))).QueueUrl!;
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn }));
    return { topicArn: TopicArn!, sqs, queueUrl };
  } finally {
    sns.destroy();
  }
}
