import { Annotations, TimeZone } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { dstSurprises, dstWarning, parseCron } from '../core/cron';

export interface NightlyScheduleProps {
  readonly stateMachine: sfn.IStateMachine;
  /** An EventBridge cron expression, e.g. `cron(0 2 * * ? *)`. */
  readonly cron: string;
  /**
   * An IANA time zone for the cron.
   * @default - UTC, with an EventBridge (CloudWatch Events) rule; a time zone uses EventBridge Scheduler instead
   */
  readonly timeZone?: string;
}

/** Starts the workflow with `{}` on the configured cron. */
export class NightlySchedule extends Construct {
  constructor(scope: Construct, id: string, props: NightlyScheduleProps) {
    super(scope, id);
    if (props.timeZone) {
      const surprises = dstSurprises(parseCron(props.cron), props.timeZone, new Date());
      if (surprises.length > 0) Annotations.of(this).addWarningV2('nightshift:dst', dstWarning(props.cron, props.timeZone, surprises));
      new scheduler.Schedule(this, 'Schedule', {
        description: `nightshift nightly run (${props.cron}, ${props.timeZone})`,
        schedule: scheduler.ScheduleExpression.expression(props.cron, TimeZone.of(props.timeZone)),
        target: new schedulerTargets.StepFunctionsStartExecution(props.stateMachine, { input: scheduler.ScheduleTargetInput.fromObject({}) }),
      });
    } else {
      new events.Rule(this, 'Rule', {
        description: `nightshift nightly run (${props.cron}, UTC)`,
        schedule: events.Schedule.expression(props.cron),
        targets: [new targets.SfnStateMachine(props.stateMachine, { input: events.RuleTargetInput.fromObject({}) })],
      });
    }
  }
}
