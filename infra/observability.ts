import { Duration, Stack } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../core/metrics';
import { acknowledge, ANY_RESOURCE, LAMBDA_BASIC_EXECUTION } from './nag';

export interface ObservabilityProps {
  readonly stateMachine: sfn.StateMachine;
  readonly queue: batch.IJobQueue;
  /** Alarms publish here. */
  readonly topic: sns.ITopic;
  /**
   * Retention of the Batch job-state events kept for the failed-jobs metric.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /** Alarms made elsewhere (the upload lane's dead letters) that the dashboard shows with these. @default - none */
  readonly moreAlarms?: readonly cloudwatch.Alarm[];
}

/** An alarm on the first occurrence, to the topic: every alarm of the stack is made so. */
export function alarmToTopic(scope: Construct, alarmId: string, metric: cloudwatch.IMetric, description: string, topic: sns.ITopic): cloudwatch.Alarm {
  const a = new cloudwatch.Alarm(scope, alarmId, {
    metric,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription: description,
  });
  a.addAlarmAction(new actions.SnsAction(topic));
  return a;
}

/**
 * Alarms (to the topic) when an execution fails, times out or is aborted, and when a Batch job of
 * the queue ends FAILED; a dashboard of the last 30 runs from the metrics the functions publish.
 */
export class Observability extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const sm = props.stateMachine;
    const period = Duration.minutes(5);
    this.alarm('ExecutionsFailed', sm.metricFailed({ period, statistic: 'Sum' }), 'A nightshift run failed: see the failure email and the execution history.', props.topic);
    this.alarm('ExecutionsTimedOut', sm.metricTimedOut({ period, statistic: 'Sum' }), 'A nightshift run hit the state machine timeout.', props.topic);
    this.alarm('ExecutionsAborted', sm.metricAborted({ period, statistic: 'Sum' }), 'A nightshift run was aborted (by hand, or by a deployment).', props.topic);
    const failedJobs = this.failedJobsMetric(props);
    this.alarm('BatchJobsFailed', failedJobs.metric({ period, statistic: 'Sum' }), 'A nightshift Batch job failed after all its attempts: see its CloudWatch logs.', props.topic);
    this.alarms.push(...(props.moreAlarms ?? []));
    this.dashboard = this.dashboardOf(sm, failedJobs);
  }

  private alarm(alarmId: string, metric: cloudwatch.IMetric, description: string, topic: ObservabilityProps['topic']): cloudwatch.Alarm {
    const a = alarmToTopic(this, alarmId, metric, description, topic);
    this.alarms.push(a);
    return a;
  }

  /** AWS Batch publishes no metric for failed jobs: its job-state events are logged and counted. */
  private failedJobsMetric(props: ObservabilityProps): logs.MetricFilter {
    const jobEvents = new logs.LogGroup(this, 'FailedJobEvents', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
    new events.Rule(this, 'FailedJobs', {
      description: 'nightshift Batch jobs that ended FAILED (after their retries)',
      eventPattern: { source: ['aws.batch'], detailType: ['Batch Job State Change'], detail: { status: ['FAILED'], jobQueue: [props.queue.jobQueueArn] } },
      targets: [new targets.CloudWatchLogGroup(jobEvents)],
    });
    // The Logs target adds a custom resource (a CDK singleton) that sets the log group's resource policy.
    for (const child of Stack.of(this).node.children) {
      if (child.node.id === 'AWS679f53fac002430cb0da5b7982bd2287') acknowledge(child, { [LAMBDA_BASIC_EXECUTION]: 'CDK\'s AwsCustomResource function writes its own logs with the AWS-managed minimum policy.' });
      if (child.node.id.startsWith('EventsLogGroupPolicy')) acknowledge(child, { [ANY_RESOURCE]: 'logs:PutResourcePolicy and DeleteResourcePolicy have no resource-level permissions.' });
    }
    return new logs.MetricFilter(this, 'FailedJobsMetric', {
      logGroup: jobEvents,
      filterPattern: logs.FilterPattern.stringValue('$.detail.status', '=', 'FAILED'),
      metricNamespace: METRICS_NAMESPACE,
      metricName: 'BatchJobsFailed',
      metricValue: '1',
      defaultValue: 0,
    });
  }

  /** A month of runs: duration, images, bytes, outcomes, shard times, and the alarms' state. */
  private dashboardOf(sm: ObservabilityProps['stateMachine'], failedJobs: logs.MetricFilter): cloudwatch.Dashboard {
    const day = Duration.days(1);
    const m = (name: string, label: string, statistic = 'Sum') => new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: name, period: day, statistic, label });
    const byOperation = (name: string, statistic: string) =>
      (['resize', 'backup'] as const).map((op) => new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: { Operation: op }, period: day, statistic, label: op }));
    return new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(30),
      widgets: [
        [
          new cloudwatch.GraphWidget({ title: 'Run duration (s)', left: [m('RunDuration', 'duration', 'Maximum')], width: 12 }),
          new cloudwatch.GraphWidget({ title: 'Images processed / failed', left: [m('ImagesProcessed', 'processed'), m('ImagesFailed', 'failed')], width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Bytes written (renditions + backups)', left: [m('BytesWritten', 'bytes')], width: 12 }),
          new cloudwatch.GraphWidget({
            title: 'Runs',
            left: [sm.metricSucceeded({ period: day, statistic: 'Sum' }), sm.metricFailed({ period: day, statistic: 'Sum' }), failedJobs.metric({ period: day, statistic: 'Sum', label: 'Batch jobs failed' })],
            width: 12,
          }),
        ],
        [
          // Published by every Batch child when its shard is done: a straggler shows as max far above average.
          new cloudwatch.GraphWidget({ title: 'Slowest shard (s), by operation', left: byOperation('ShardSeconds', 'Maximum'), width: 12 }),
          new cloudwatch.GraphWidget({ title: 'Average shard (s), by operation', left: byOperation('ShardSeconds', 'Average'), width: 12 }),
        ],
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 })],
      ],
    });
  }
}
