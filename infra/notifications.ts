import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface NotificationsProps {
  /** Addresses that receive the run emails and alarms (each confirms its subscription once). */
  readonly emails: readonly string[];
}

/**
 * The topic every email goes through: TLS required for publishing, encrypted with a key that
 * CloudWatch alarms may use, one email subscription per configured address.
 */
export class Notifications extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    this.key = new kms.Key(this, 'TopicKey', { enableKeyRotation: true, description: 'nightshift notification topic' });
    // CloudWatch alarms publish to the topic: they need the key (the AWS-managed SNS key would refuse them).
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({ principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')], actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: ['*'] }),
    );
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'nightshift', enforceSSL: true, masterKey: this.key });
    // enforceSSL writes a topic policy, which replaces SNS's default one: a service principal that
    // publishes must then be allowed here, or its Publish is refused ("not authorized to perform
    // SNS:Publish"). CloudWatch alarms are the one service that publishes (the functions publish
    // with their own roles); limited to this account's alarms, as the CloudWatch user guide's
    // "Using Amazon CloudWatch alarms" (SNS topic policy) recommends.
    const stack = Stack.of(this);
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        },
      }),
    );
    for (const email of props.emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));
  }
}
