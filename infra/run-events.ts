import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { RUN_COMPLETED_EVENT } from '../core/run-event';

export interface RunEventsProps {
  /** The functions that end a run (Notify, NotifyFailure): each may put the Run Completed event, and only it. */
  readonly emitters: readonly iam.IGrantable[];
}

/**
 * The Run Completed event on the account's default bus (issue 28, "Change feed"), shaped by
 * core/run-event.ts. Applications subscribe with a rule of their own on that bus.
 */
export class RunEvents extends Construct {
  readonly bus: events.IEventBus;

  constructor(scope: Construct, id: string, props: RunEventsProps) {
    super(scope, id);
    this.bus = events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    for (const emitter of props.emitters) this.grantPutRunCompleted(emitter);
  }

  /**
   * events:PutEvents on the default bus, for entries whose source is `nightshift` and detail-type
   * `Run Completed` only: PutEvents is authorised per entry on those condition keys (EventBridge
   * user guide, "Using IAM policy conditions in Amazon EventBridge"), so the role cannot pass its
   * events off as another source's.
   */
  grantPutRunCompleted(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['events:PutEvents'],
      resourceArns: [this.bus.eventBusArn],
      conditions: { StringEquals: { 'events:source': RUN_COMPLETED_EVENT.source, 'events:detail-type': RUN_COMPLETED_EVENT.detailType } },
    });
  }
}
