import { join } from 'node:path';
import { Duration, Size } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { STATE_CATALOG_KEY, STATE_PRESETS_KEY } from '../core/keys';
import { LEASE_KEY } from '../core/lease';
import { acknowledge, ANY_RESOURCE, LAMBDA_BASIC_EXECUTION, wildcardResource } from './nag';
import type { PipelineConfigObject } from './pipeline-config';
import type { Storage } from './storage';

export interface FunctionsProps {
  readonly storage: Storage;
  readonly topic: sns.ITopic;
  /** The pipeline configuration, in the work bucket: each function gets its pointer and may read it. */
  readonly pipelineConfig: PipelineConfigObject;
  /**
   * The schedule, so that prepare can tell scheduled runs from console runs.
   * @default - no schedule: runs are attributed to the console or the CLI
   */
  readonly schedule?: { readonly cron: string; readonly timeZone?: string };
  /**
   * Retention of the functions' logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The workflow's Lambda functions, bundled from functions/*.ts with the local esbuild (no Docker),
 * on Node.js 24 with JSON logs and X-Ray tracing: prepare, scope-work, aggregate, notify, notify-failure.
 */
interface FunctionOptions {
  readonly memoryMiB?: number;
  readonly timeout?: Duration;
  readonly tmpGiB?: number;
  readonly env?: Record<string, string>;
}

export class Functions extends Construct {
  readonly prepare: nodejs.NodejsFunction;
  readonly scopeWork: nodejs.NodejsFunction;
  readonly aggregate: nodejs.NodejsFunction;
  readonly notify: nodejs.NodejsFunction;
  readonly notifyFailure: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const fn = (name: string, options: FunctionOptions = {}) => this.handlerFunction(name, props, options);
    this.prepare = fn('prepare', { env: props.schedule ? { NIGHTSHIFT_SCHEDULE_CRON: props.schedule.cron, NIGHTSHIFT_SCHEDULE_TIME_ZONE: props.schedule.timeZone ?? '' } : {} });
    this.scopeWork = fn('scope-work');
    // Promotion streams the catalogue from S3 to S3 (no /tmp copy), so the default 512 MB /tmp does.
    this.aggregate = fn('aggregate', { memoryMiB: 1536, timeout: Duration.minutes(15) });
    this.notify = fn('notify', { env: { NIGHTSHIFT_TOPIC_ARN: props.topic.topicArn } });
    this.notifyFailure = fn('notify-failure', { env: { NIGHTSHIFT_TOPIC_ARN: props.topic.topicArn } });
    this.grantRunTimeAccess(props);
  }

  /**
   * One handler of functions/, bundled by esbuild from its entry (functions/entry/, which reads the
   * configuration first), on Node.js 24 / ARM64, with JSON logs and tracing.
   */
  private handlerFunction(name: string, props: FunctionsProps, options: FunctionOptions): nodejs.NodejsFunction {
    const fn = new nodejs.NodejsFunction(this, name, {
      entry: join(__dirname, '..', 'functions', 'entry', `${name}.ts`),
      // Named, not searched for from the working directory: synth works from any folder.
      projectRoot: join(__dirname, '..'),
      depsLockFilePath: join(__dirname, '..', 'package-lock.json'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: options.memoryMiB ?? 256,
      timeout: options.timeout ?? Duration.seconds(60),
      ephemeralStorageSize: options.tmpGiB ? Size.gibibytes(options.tmpGiB) : undefined,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: new logs.LogGroup(this, `${name}Logs`, { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH }),
      environment: { ...props.pipelineConfig.environment, NIGHTSHIFT_LOG_FORMAT: 'json', NODE_OPTIONS: '--enable-source-maps', ...options.env },
      // logLevel ERROR: esbuild's timing lines and bundle-size warnings say nothing a deployer acts on; an error still stops synth.
      bundling: { target: 'node24', minify: true, sourceMap: true, externalModules: [], forceDockerBundling: false, logLevel: nodejs.LogLevel.ERROR },
    });
    acknowledge(fn, {
      [LAMBDA_BASIC_EXECUTION]: 'AWSLambdaBasicExecutionRole is the AWS-managed minimum for a function to write its own logs.',
      [ANY_RESOURCE]: 'X-Ray tracing: xray:PutTraceSegments and PutTelemetryRecords have no resource-level permissions.',
    });
    props.pipelineConfig.grantRead(fn);
    return fn;
  }

  /** What each function reads and writes at run time, and nothing more (infra/stack.test.ts pins it). */
  private grantRunTimeAccess(props: FunctionsProps): void {
    const work = props.storage.work;
    const list = new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [work.bucketArn] });
    this.aggregate.addToRolePolicy(list);
    // Aggregate is the one function that writes with uploadStream (lib-storage: a multipart upload
    // past 8 MiB): failures.csv, report.json and planned.jsonl under runs/<runId>/, and the promoted
    // catalogue, state/catalog.jsonl, its only key in state/. lib-storage aborts an upload that
    // fails (a refused If-Match among them), which needs s3:AbortMultipartUpload on the key, or S3
    // answers 403 and the parts stay billed until the lifecycle rule (S3 API reference, AbortMultipartUpload).
    this.aggregate.addToRolePolicy(new iam.PolicyStatement({ sid: 'RunArtefactsAndPromotion', actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], resources: [work.arnForObjects('runs/*'), work.arnForObjects(STATE_CATALOG_KEY)] }));
    // The presets the promoted catalogue was rendered with (core/explain.ts PresetsState): read and written with it, a small PUT.
    this.aggregate.addToRolePolicy(new iam.PolicyStatement({ sid: 'PromotedPresets', actions: ['s3:GetObject', 's3:PutObject'], resources: [work.arnForObjects(STATE_PRESETS_KEY)] }));
    // The report's gallery reads a sample of renditions (read only). ListBucket makes a missing
    // rendition a 404 rather than a 403.
    this.aggregate.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.storage.renditions.arnForObjects('*')] }));
    this.aggregate.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.storage.renditions.bucketArn] }));
    // The run ledger (functions/ledger.ts): Prepare records the run and reads what the one before
    // it wrote (its plan, results and report: GetObject, ListBucket); the notify functions record
    // the end. ListBucket also makes a missing object a 404 rather than a 403.
    const ledger = new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [work.arnForObjects('state/last-run.json')] });
    this.prepare.addToRolePolicy(list);
    this.prepare.addToRolePolicy(ledger);
    this.prepare.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [work.arnForObjects('runs/*')] }));
    acknowledge(this.prepare, {
      [wildcardResource(this.prepare, work.bucketArn, '/runs/*')]: 'Writes the run\'s start record under runs/<runId>/ and reads the previous run\'s plan, results and report: a new prefix every run.',
    });
    // The run lease (functions/lease.ts): Prepare takes it and ScopeWork renews it with conditional
    // writes (PutObject covers If-None-Match and If-Match); Notify and NotifyFailure release it with
    // a conditional delete. GetObject reads the holder; ListBucket makes "no lease" a 404, not a 403.
    const lease = (actions: string[]) => new iam.PolicyStatement({ sid: 'RunLease', actions: ['s3:GetObject', ...actions], resources: [work.arnForObjects(LEASE_KEY)] });
    this.prepare.addToRolePolicy(lease(['s3:PutObject']));
    this.scopeWork.addToRolePolicy(lease(['s3:PutObject']));
    this.notify.addToRolePolicy(lease(['s3:DeleteObject']));
    this.notifyFailure.addToRolePolicy(lease(['s3:DeleteObject']));
    // ScopeWork reads the plan, lists the shard results (ListBucket) and writes a redrive's shard lists.
    this.scopeWork.addToRolePolicy(list);
    this.scopeWork.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [work.arnForObjects('runs/*/plan.json')] }));
    this.scopeWork.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [work.arnForObjects('runs/*/scope/*')] }));
    acknowledge(this.scopeWork, {
      [wildcardResource(this.scopeWork, work.bucketArn, '/runs/*/plan.json')]: 'Reads the run\'s plan, runs/<runId>/plan.json: a new prefix every run.',
      [wildcardResource(this.scopeWork, work.bucketArn, '/runs/*/scope/*')]: 'Writes a redrive\'s shard lists under runs/<runId>/scope/: a new prefix every run.',
    });
    for (const fn of [this.notify, this.notifyFailure]) {
      fn.addToRolePolicy(list);
      fn.addToRolePolicy(ledger);
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [work.arnForObjects('runs/*')] }));
      props.topic.grantPublish(fn);
      acknowledge(fn, {
        [wildcardResource(fn, work.bucketArn, '/runs/*')]: 'Reads a run\'s report or plan and writes its notified marker under runs/<runId>/, a new prefix every run.',
        'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]': 'Publishing to the KMS-encrypted topic needs a data key; the grant is limited to the topic\'s key.',
      });
    }
    acknowledge(this.aggregate, {
      [wildcardResource(this.aggregate, work.bucketArn, '/runs/*')]: 'Reads shard results and writes the report under runs/<runId>/, a new prefix every run.',
      [wildcardResource(this.aggregate, props.storage.renditions.bucketArn, '/*')]: 'Reads a sample of the run\'s renditions for the report\'s gallery; rendition keys follow the corpus, unknown in advance.',
    });
  }
}
