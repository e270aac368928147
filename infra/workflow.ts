import { ArnFormat, Duration, Names, Stack } from 'aws-cdk-lib';
import type * as batch from 'aws-cdk-lib/aws-batch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EXECUTION_TIMEOUT_HOURS } from '../core/config';
import { catalogStateTimeoutSeconds } from '../core/timing';
import type { JobName } from '../core/jobs';
import type { JobSize } from './compute';
import { acknowledge, ANY_RESOURCE, wildcardResource } from './nag';

export interface WorkflowProps {
  readonly queue: batch.IJobQueue;
  readonly jobDefinitions: Record<JobName, batch.IJobDefinition>;
  /** Job sizes, for the catalog state's timeout (job timeout × attempts, plus time in the queue); the array states read theirs from the plan. */
  readonly jobs: Record<JobName, JobSize>;
  readonly functions: { prepare: lambda.IFunction; scopeWork: lambda.IFunction; aggregate: lambda.IFunction; notify: lambda.IFunction; notifyFailure: lambda.IFunction };
  /** The work bucket, where the plan is read from. */
  readonly workBucket: s3.IBucket;
  /**
   * Retention of the execution logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The longest a run may take.
   * @default Duration.hours(EXECUTION_TIMEOUT_HOURS), 24 h: the plan assumes it (core/config.ts)
   */
  readonly timeout?: Duration;
  /**
   * The state machine's name (`nightshift run` finds it by this name).
   * @default - a name CloudFormation generates
   */
  readonly stateMachineName?: string;
}

/**
 * BatchSubmitJob spends `taskTimeout` on the Batch job's attempt timeout (overriding the job
 * definition's) and renders no state TimeoutSeconds. Here the job definitions keep their
 * per-attempt timeouts, and the state gets its own: a fixed one, or one read from the state's
 * input (TimeoutSecondsPath), which the array jobs take from the plan, sized to its shards.
 */
class BatchJobState extends tasks.BatchSubmitJob {
  constructor(
    scope: Construct,
    id: string,
    private readonly stateTimeout: Duration | { readonly path: string },
    props: tasks.BatchSubmitJobProps,
  ) {
    super(scope, id, props);
  }

  override toStateJson(queryLanguage?: sfn.QueryLanguage): object {
    const timeout = this.stateTimeout instanceof Duration ? { TimeoutSeconds: this.stateTimeout.toSeconds() } : { TimeoutSecondsPath: this.stateTimeout.path };
    return { ...super.toStateJson(queryLanguage), ...timeout };
  }
}

/** State names: the local runtime binds its handlers to them, and the failure email names them. */
export const STATE = {
  checkActiveRuns: 'CheckActiveRuns',
  prepare: 'Prepare',
  anotherRunActive: 'AnotherRunActive',
  notifySkipped: 'NotifySkipped',
  plan: 'Plan',
  readPlan: 'ReadPlan',
  hasWork: 'HasWork',
  promoteCatalogue: 'PromoteCatalogue',
  scopeWork: 'ScopeWork',
  work: 'Work',
  backupRequested: 'BackupRequested',
  backup: 'Backup',
  backupNotRequested: 'BackupNotRequested',
  resizeRequested: 'ResizeRequested',
  resize: 'Resize',
  resizeNotRequested: 'ResizeNotRequested',
  aggregate: 'Aggregate',
  notify: 'Notify',
  notifyNothingToDo: 'NotifyNothingToDo',
  notifyFailure: 'NotifyFailure',
  resumeAt: 'ResumeAt',
  done: 'Done',
  failed: 'RunFailed',
} as const;

const LAMBDA_TRANSIENT = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];
const BATCH_TRANSIENT = ['Batch.AWSBatchException', 'Batch.ServerException', 'Batch.TooManyRequestsException'];
/**
 * An AWS SDK integration names an error `<Service>.<Name>Exception`, the suffix added even where the
 * service's API reference has none (Step Functions developer guide, "AWS SDK service integrations":
 * S3's BucketAlreadyExists is caught as `S3.BucketAlreadyExistsException`). S3's 500 InternalError,
 * 503 SlowDown and ServiceUnavailable have no modelled exception in the SDK: they arrive as the
 * service's base exception, `S3.S3Exception`. `S3.InternalError` and the like never occur.
 */
const S3_TRANSIENT = ['S3.SdkClientException', 'S3.S3Exception'];
const SFN_TRANSIENT = ['Sfn.SdkClientException', 'Sfn.ThrottlingException', 'Sfn.SfnException'];

/**
 * The nightly workflow, in JSONPath (so the local interpreter runs the same definition):
 *
 *   CheckActiveRuns → Prepare → another run active? ─ yes → NotifySkipped → Done
 *   → Plan (Batch catalog) → ReadPlan (S3) → HasWork? ─ no → PromoteCatalogue → NotifyNothingToDo → Done
 *                                                      └ yes → ScopeWork → Work ∥ (Backup array job, Resize array job)
 *                                                              → Aggregate → Notify → Done
 *   any state's error → "Failed in <state>" → NotifyFailure (email, then fails: the run is redrivable)
 *   on redrive: NotifyFailure → ResumeAt → the state that failed (Work through ScopeWork: only the shards without a result)
 *
 * Big data never travels through the states: they pass the run id, counts and S3 keys.
 */
/** A state's error handling: retries of its transient errors, then a Catch that names it to NotifyFailure. */
type Guard = <T extends sfn.TaskStateBase | sfn.Parallel>(state: T, transient: string[]) => T;

/** A Lambda task whose payload is given and whose result goes to `resultPath` (or is discarded). */
type Invoke = (stateId: string, fn: lambda.IFunction, payload: Record<string, unknown>, timeout: Duration, resultPath: string | undefined) => tasks.LambdaInvoke;

/** The path of `$.run.<field>`, which Prepare fixes for the whole run. */
const run = (field: string) => sfn.JsonPath.stringAt(`$.run.${field}`);

export class Workflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly definition: sfn.IChainable;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const fns = props.functions;
    const { guard, resumeAt, resumable } = this.failurePath(fns.notifyFailure);
    const invoke: Invoke = (stateId, fn, payload, timeout, resultPath) =>
      guard(
        new tasks.LambdaInvoke(this, stateId, {
          lambdaFunction: fn,
          payload: sfn.TaskInput.fromObject(payload),
          retryOnServiceExceptions: false,
          resultSelector: resultPath ? { 'value.$': '$.Payload' } : undefined,
          resultPath: resultPath ?? sfn.JsonPath.DISCARD,
          taskTimeout: sfn.Timeout.duration(timeout),
        }),
        LAMBDA_TRANSIENT,
      );

    const { checkActiveRuns, prepare, plan, readPlan } = this.planStates(props, guard);
    const { scopeWork, work } = this.workStates(props, guard, invoke);
    const common = { runId: run('runId'), trigger: run('trigger'), startedAt: run('startedAt'), executionArn: run('executionArn') };
    const aggregate = invoke(STATE.aggregate, fns.aggregate, { runId: run('runId'), trigger: run('trigger'), startedAt: run('startedAt') }, Duration.minutes(16), '$.aggregate');
    const notify = invoke(STATE.notify, fns.notify, { ...common, kind: 'report' }, Duration.minutes(2), undefined);
    // A night without work still moves the catalogue on (its deletions, its skips), or it would
    // report the same deletions every night until something new arrived.
    const promoteCatalogue = invoke(STATE.promoteCatalogue, fns.aggregate, { runId: run('runId'), trigger: run('trigger'), startedAt: run('startedAt'), promoteOnly: true }, Duration.minutes(16), undefined);
    const notifyNothing = invoke(STATE.notifyNothingToDo, fns.notify, { ...common, kind: 'nothing-to-do' }, Duration.minutes(2), undefined);
    const notifySkipped = invoke(STATE.notifySkipped, fns.notify, { ...common, kind: 'skipped', skip: sfn.JsonPath.objectAt('$.run.skip') }, Duration.minutes(2), undefined);
    const done = new sfn.Succeed(this, STATE.done);

    this.definition = checkActiveRuns
      .next(prepare)
      .next(new sfn.Choice(this, STATE.anotherRunActive).when(sfn.Condition.isPresent('$.run.skip'), notifySkipped.next(done)).otherwise(plan));
    plan
      .next(readPlan)
      .next(
        new sfn.Choice(this, STATE.hasWork)
          .when(sfn.Condition.numberEquals('$.plan.value.shardCount', 0), promoteCatalogue.next(notifyNothing).next(done))
          .otherwise(scopeWork.next(work).next(aggregate).next(notify).next(done)),
      );

    // A redrive that resumes at Work scopes it again first: it reruns only the shards without a result.
    for (const state of resumable) resumeAt.when(sfn.Condition.stringEquals('$.resume.resumeAt', state.id), state === work ? scopeWork : state);
    resumeAt.otherwise(this.failed);

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      comment: 'nightshift: plan, back up and resize new images, report, notify',
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: props.timeout ?? Duration.hours(EXECUTION_TIMEOUT_HOURS),
      tracingEnabled: true,
      logs: { destination: this.executionLogs(props), level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    this.grantRunTimeAccess(props);
  }

  /** RunFailed: where the execution ends when even the failure email could not be sent. */
  private failed!: sfn.Fail;

  /**
   * The failure path and the redrive gate. A failed state's Catch records which state failed and
   * the execution's redrive count; NotifyFailure sends the failure email and then fails itself
   * (RunFailed), so the execution ends FAILED at NotifyFailure. Redriving the execution reruns
   * NotifyFailure: the redrive count has grown, so it sends nothing and answers where to resume,
   * and ResumeAt routes back to the failed state. Every step is idempotent, so resuming is safe.
   * Returns the guard every state is wrapped in, the ResumeAt choice, and the states it may resume.
   */
  private failurePath(fn: lambda.IFunction): { guard: Guard; resumeAt: sfn.Choice; resumable: sfn.State[] } {
    const notifyFailure = new tasks.LambdaInvoke(this, STATE.notifyFailure, {
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject({
        runId: sfn.JsonPath.stringAt('$$.Execution.Name'),
        state: sfn.JsonPath.stringAt('$.failedIn.state'),
        error: sfn.JsonPath.objectAt('$.error'),
        startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
        executionArn: sfn.JsonPath.stringAt('$$.Execution.Id'),
        failedAtRedrive: sfn.JsonPath.numberAt('$.failedIn.redriveCount'),
        redriveCount: sfn.JsonPath.numberAt('$$.Execution.RedriveCount'),
      }),
      retryOnServiceExceptions: false,
      resultSelector: { 'resumeAt.$': '$.Payload.resumeAt' },
      resultPath: '$.resume',
      taskTimeout: sfn.Timeout.duration(Duration.minutes(2)),
    });
    // A plain path, not an intrinsic: the local interpreter evaluates CausePath as JSONPath only.
    this.failed = new sfn.Fail(this, STATE.failed, { error: 'RunFailed', causePath: '$.error.Cause' });
    notifyFailure.addRetry({ errors: LAMBDA_TRANSIENT, interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, jitterStrategy: sfn.JitterType.FULL });
    // Its own RunFailed is deliberately not caught (that is what makes the execution redrivable);
    // if the email itself cannot be sent, the execution fails in RunFailed (and the alarm fires).
    notifyFailure.addCatch(this.failed, { errors: [...LAMBDA_TRANSIENT, 'Lambda.Unknown', 'States.Timeout'], resultPath: '$.notifyError' });
    const resumeAt = new sfn.Choice(this, STATE.resumeAt);
    notifyFailure.next(resumeAt);
    const resumable: sfn.State[] = [];
    const guard: Guard = (state, transient) => {
      if (transient.length > 0) state.addRetry({ errors: transient, interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, jitterStrategy: sfn.JitterType.FULL });
      const label = new sfn.Pass(this, `Failed in ${state.id}`, { parameters: { state: state.id, 'redriveCount.$': '$$.Execution.RedriveCount' }, resultPath: '$.failedIn' });
      label.next(notifyFailure);
      state.addCatch(label, { resultPath: '$.error' });
      resumable.push(state);
      return state;
    };
    return { guard, resumeAt, resumable };
  }

  /** CheckActiveRuns, Prepare, Plan (the catalog job) and ReadPlan: up to the plan in the state. */
  private planStates(props: WorkflowProps, guard: Guard) {
    // Runs of this state machine in progress, so that a second run gives way instead of racing: a
    // first, cheap check (ListExecutions is eventually consistent); Prepare's run lease decides.
    // SDK errors here are Sfn.<Name>Exception (see S3_TRANSIENT).
    const checkActiveRuns = guard(
      new tasks.CallAwsService(this, STATE.checkActiveRuns, {
        service: 'sfn',
        action: 'listExecutions',
        iamAction: 'states:ListExecutions',
        parameters: { StateMachineArn: sfn.JsonPath.stringAt('$$.StateMachine.Id'), StatusFilter: 'RUNNING', MaxResults: 100 },
        iamResources: [Stack.of(this).formatArn({ service: 'states', resource: 'stateMachine', resourceName: props.stateMachineName ?? '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
        resultSelector: { 'executions.$': '$.Executions' },
        resultPath: '$.active',
        taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
      }),
      SFN_TRANSIENT,
    );
    const prepare = guard(
      new tasks.LambdaInvoke(this, STATE.prepare, {
        lambdaFunction: props.functions.prepare,
        payload: sfn.TaskInput.fromObject({ input: sfn.JsonPath.objectAt('$$.Execution.Input'), execution: sfn.JsonPath.objectAt('$$.Execution'), running: sfn.JsonPath.objectAt('$.active.executions') }),
        retryOnServiceExceptions: false,
        resultSelector: { 'run.$': '$.Payload' },
        taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
      }),
      LAMBDA_TRANSIENT,
    );
    const catalog = props.jobs.catalog;
    const plan = guard(
      new BatchJobState(this, STATE.plan, Duration.seconds(catalogStateTimeoutSeconds(catalog)), {
        jobName: 'nightshift-catalog',
        jobQueueArn: props.queue.jobQueueArn,
        jobDefinitionArn: props.jobDefinitions.catalog.jobDefinitionArn,
        containerOverrides: { environment: { NIGHTSHIFT_RUN_ID: run('runId'), NIGHTSHIFT_INPUT: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.run.input')) } },
        resultPath: sfn.JsonPath.DISCARD,
      }),
      BATCH_TRANSIENT,
    );
    const readPlan = guard(
      new tasks.CallAwsService(this, STATE.readPlan, {
        service: 's3',
        action: 'getObject',
        parameters: { Bucket: props.workBucket.bucketName, Key: sfn.JsonPath.format('runs/{}/plan.json', run('runId')) },
        iamResources: [props.workBucket.arnForObjects('runs/*')],
        resultSelector: { 'value.$': 'States.StringToJson($.Body)' },
        resultPath: '$.plan',
        taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
      }),
      S3_TRANSIENT,
    );
    return { checkActiveRuns, prepare, plan, readPlan };
  }

  /**
   * ScopeWork, then Work: the backup and resize array jobs in parallel, each run or passed over as
   * the scope says. Inside a branch a Catch can only lead to the branch's own states: it ends the
   * branch with a named error, which the Parallel's Catch then reports (e.g. "Failed in Work: ResizeFailed").
   */
  private workStates(props: WorkflowProps, guard: Guard, invoke: Invoke) {
    const scopeWork = invoke(STATE.scopeWork, props.functions.scopeWork, { runId: run('runId'), executionArn: run('executionArn'), redriveCount: sfn.JsonPath.numberAt('$$.Execution.RedriveCount') }, Duration.minutes(2), '$.scope');
    const arrayJob = (job: 'backup' | 'resize', stateId: string) => {
      // Timed by the plan to the work: its shards, how many run at once on the configured vCPUs,
      // and the measured throughput (core/timing.ts); never less than every attempt of one child.
      // Sized by ScopeWork: every shard the first time, after a redrive only those without a result.
      const task = new BatchJobState(this, stateId, { path: `$.plan.value.timeouts.${job}` }, {
        jobName: `nightshift-${job}`,
        jobQueueArn: props.queue.jobQueueArn,
        jobDefinitionArn: props.jobDefinitions[job].jobDefinitionArn,
        arraySize: sfn.JsonPath.numberAt(`$.scope.value.${job}.arraySize`),
        containerOverrides: { environment: { NIGHTSHIFT_RUN_ID: run('runId'), NIGHTSHIFT_SHARDS: sfn.JsonPath.stringAt(`$.scope.value.${job}.shards`) } },
        resultPath: sfn.JsonPath.DISCARD,
      });
      task.addRetry({ errors: BATCH_TRANSIENT, interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, jitterStrategy: sfn.JitterType.FULL });
      task.addCatch(new sfn.Fail(this, `${stateId}Failed`, { error: `${stateId}Failed`, causePath: '$.error.Cause' }), { resultPath: '$.error' });
      return task;
    };
    const branch = (job: 'backup' | 'resize', choiceId: string, jobId: string, skipId: string) =>
      new sfn.Choice(this, choiceId).when(sfn.Condition.booleanEquals(`$.scope.value.${job}.run`, true), arrayJob(job, jobId)).otherwise(new sfn.Pass(this, skipId));
    const work = guard(
      new sfn.Parallel(this, STATE.work, { resultPath: sfn.JsonPath.DISCARD })
        .branch(branch('backup', STATE.backupRequested, STATE.backup, STATE.backupNotRequested))
        .branch(branch('resize', STATE.resizeRequested, STATE.resize, STATE.resizeNotRequested)),
      [],
    );
    return { scopeWork, work };
  }

  /**
   * What the state machine's role needs at run time beyond what CDK grants. submitJob.sync waits
   * on the job (DescribeJobs) and cancels it when the state times out or the execution is stopped
   * (TerminateJob): without these the Batch children keep running and billing, and a redrive
   * submits duplicates. Step Functions developer guide, "IAM policies for AWS Batch" (Run a Job
   * .sync); CDK's BatchSubmitJob grants neither.
   */
  private grantRunTimeAccess(props: WorkflowProps): void {
    const role = this.stateMachine.role;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'CancelBatchJobs', actions: ['batch:TerminateJob'], resources: [Stack.of(this).formatArn({ service: 'batch', resource: 'job', resourceName: '*' })] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WatchBatchJobs', actions: ['batch:DescribeJobs'], resources: ['*'] }));
    acknowledge(role, {
      ...Object.fromEntries(
        Object.values(props.functions).map((fn) => [wildcardResource(role, fn.functionArn, ':*'), 'CDK\'s LambdaInvoke grants the function and its versions and aliases (<function ARN>:*).']),
      ),
      [wildcardResource(role, Stack.of(this).formatArn({ service: 'batch', resource: 'job-definition', resourceName: '*' }))]:
        'batch:SubmitJob on job-definition/*: a job definition ARN names one revision, and every deployment registers a new revision.',
      [wildcardResource(role, props.workBucket.bucketArn, '/runs/*')]: 'ReadPlan reads runs/<runId>/plan.json, a new prefix every run.',
      [wildcardResource(role, Stack.of(this).formatArn({ service: 'batch', resource: 'job', resourceName: '*' }))]: 'batch:TerminateJob on job/*: job ids are generated at run time, when submitJob.sync cancels the jobs of a timed-out or stopped state.',
      [ANY_RESOURCE]: 'Execution logging (logs:*LogDelivery, DescribeLogGroups, PutResourcePolicy), X-Ray tracing and batch:DescribeJobs have no resource-level permissions.',
    });
  }

  /**
   * Under /aws/vendedlogs/states/: CloudWatch Logs' resource policy for vended logs is limited in
   * size, and a log group outside that prefix makes Step Functions add a statement per log group,
   * so CreateStateMachine can fail in an account whose policy is full (Step Functions developer
   * guide, "Logging using CloudWatch Logs").
   */
  private executionLogs(props: WorkflowProps): logs.LogGroup {
    return new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `/aws/vendedlogs/states/${props.stateMachineName ?? Names.uniqueResourceName(this, { maxLength: 200 })}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
  }
}
