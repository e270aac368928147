import { join } from 'node:path';
import { Duration, Stack, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { OnUploadConfig, Preset } from '../core/config';
import type { CpuArchitecture } from '../core/cost';
import { LANE_REMOVED_PREFIX, type UploadLaneSizes, uploadLaneSizes, uploadLoopProblem } from '../core/upload-lane';
import { UsageError } from '../core/validation';
import type { ImagesTable } from './images-table';
import { acknowledge, ANY_RESOURCE, LAMBDA_BASIC_EXECUTION, wildcardResource } from './nag';
import { alarmToTopic } from './observability';
import type { PipelineConfigObject } from './pipeline-config';
import { copyIntoBundle, NATIVE_EXTERNALS, nativeModuleDirs } from './sharp-bundling';

const ROOT = join(__dirname, '..');

export interface UploadLaneProps {
  /** The bucket whose uploads are rendered: read only, and it notifies the lane. */
  readonly corpus: s3.IBucket;
  /** corpus.region: an existing corpus bucket's region, when it is not the stack's. @default the stack's */
  readonly corpusRegion?: string;
  /** The corpus's SSE-KMS key, when it has one: the function may decrypt with it, through S3. */
  readonly corpusKey?: kms.IKey;
  /** The configuration field and value that name the corpus bucket, for the loop guard's line. */
  readonly corpusField: { readonly field: string; readonly value: string };
  /** Where renditions are written: never a bucket that notifies the lane (the loop guard). */
  readonly renditions: s3.IBucket;
  /** The work bucket: the lane writes a removal marker per tombstone there (core/upload-lane.ts), which the night's jobs read and delete. */
  readonly work: s3.IBucket;
  /** The nightly jobs' role: the catalog job reads the removal markers, the resize job deletes each once its prune is done. */
  readonly nightJobRole: iam.IRole;
  readonly table: ImagesTable;
  readonly pipelineConfig: PipelineConfigObject;
  readonly onUpload: OnUploadConfig;
  /** The presets (their prefixes in the renditions bucket) and the night's excluded prefixes, for the loop guard. */
  readonly presets: readonly Pick<Preset, 'name'>[];
  readonly excludePrefixes: readonly string[];
  /** compute.architecture: the function's, and the sharp binaries bundled for it. */
  readonly architecture: CpuArchitecture;
  /** The alarm topic: the dead-letter queue's alarm publishes to it. */
  readonly topic: sns.ITopic;
  /** What the resize job gets too: the images table's name, the delivery base URL. */
  readonly environment: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
  /** Where the project's package-lock.json and node_modules are (tests point it elsewhere). @default the repository root */
  readonly projectRoot?: string;
}

/**
 * The upload lane (issue 29): the corpus bucket's ObjectCreated and ObjectRemoved notifications
 * into an SQS queue (SSE-SQS, TLS only) with a dead-letter queue and an alarm on it, consumed in
 * small batches with partial batch responses by one function (functions/entry/on-upload.ts) that
 * renders with the resize job's code and writes the record, at most onUpload.maxConcurrency at once.
 *
 * Notifications carry no key filter: the night selects extensions case-insensitively (core/keys.ts,
 * extensionOf) while S3 compares a suffix with the key as written, and S3 has no excluding
 * filter, so no rule would select exactly what the night does; the function applies the whole
 * filter (extensions, excludePrefixes, sizes) and drops the rest before reading anything.
 *
 * CDK writes the notifications with its BucketNotifications custom resource, which calls
 * PutBucketNotificationConfiguration, a call that replaces the bucket's whole configuration (S3 API
 * reference). For a corpus bucket the stack creates, the resource sends the stack's rules alone: a
 * notification added to that bucket outside the stack is removed at the next deployment. For an
 * existing bucket (corpus.bucketName) CDK runs it "unmanaged" (aws-cdk-lib
 * custom-resource-handlers/aws-s3/notifications-resource-handler, handle_unmanaged): it reads the
 * current configuration, keeps every rule it did not create and adds its own, and on deletion
 * removes only its own. S3 refuses overlapping rules: an existing rule for ObjectCreated or
 * ObjectRemoved events with a prefix or suffix that can match the same keys fails the deployment.
 */
export class UploadLane extends Construct {
  readonly sizes: UploadLaneSizes;
  readonly queue: sqs.Queue;
  readonly deadLetters: sqs.Queue;
  readonly handler: nodejs.NodejsFunction;
  readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: UploadLaneProps) {
    super(scope, id);
    guardAgainstLoop(props);
    guardRegion(this, props.corpusRegion);
    this.sizes = uploadLaneSizes(props.onUpload);
    [this.queue, this.deadLetters] = this.queues();
    // s3:ObjectCreated:* is PUT, POST, Copy and CompleteMultipartUpload; s3:ObjectRemoved:* is
    // Delete and DeleteMarkerCreated (S3 user guide, "Event notification types and destinations").
    props.corpus.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(this.queue));
    props.corpus.addEventNotification(s3.EventType.OBJECT_REMOVED, new s3n.SqsDestination(this.queue));
    this.handler = this.newHandler(props);
    this.handler.addEventSource(
      new SqsEventSource(this.queue, { batchSize: this.sizes.batchSize, reportBatchItemFailures: true, maxConcurrency: props.onUpload.maxConcurrency }),
    );
    grantRunTimeAccess(this.handler, props);
    this.deadLetterAlarm = alarmToTopic(
      this,
      'DeadLettersVisible',
      this.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      `Upload events failed ${this.sizes.maxReceiveCount} times and wait in the dead-letter queue: the nightly run renders those images; see the upload function's logs, then purge or redrive the queue.`,
      props.topic,
    );
    acknowledgeNotificationsHandler(this);
  }

  /**
   * The queue and its dead-letter queue, encrypted with SQS-managed keys (SSE-SQS): S3 can send to
   * it without a key policy, which a KMS-encrypted queue would need for S3 (S3 user guide,
   * "Amazon S3 event notifications", encrypted SQS destinations). The visibility timeout is six
   * times the function's (Lambda developer guide, "Creating and configuring an Amazon SQS event
   * source mapping"); the dead letters are kept 14 days, SQS's most.
   */
  private queues(): [sqs.Queue, sqs.Queue] {
    const hardened = { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true };
    const deadLetters = new sqs.Queue(this, 'DeadLetters', { ...hardened, retentionPeriod: Duration.days(14) });
    const queue = new sqs.Queue(this, 'Queue', {
      ...hardened,
      visibilityTimeout: Duration.seconds(this.sizes.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: this.sizes.maxReceiveCount },
    });
    return [queue, deadLetters];
  }

  /** The function, bundled as infra/functions.ts bundles the others, with sharp's binaries for its architecture beside the bundle. */
  private newHandler(props: UploadLaneProps): nodejs.NodejsFunction {
    const root = props.projectRoot ?? ROOT;
    const modules = nativeModuleDirs(props.architecture, root);
    const fn = new nodejs.NodejsFunction(this, 'Handler', {
      entry: join(ROOT, 'functions', 'entry', 'on-upload.ts'),
      projectRoot: ROOT,
      depsLockFilePath: join(ROOT, 'package-lock.json'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: props.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      memorySize: this.sizes.memoryMiB,
      timeout: Duration.seconds(this.sizes.timeoutSeconds),
      // Renders in memory, nothing in /tmp: the default 512 MB of ephemeral storage.
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: new logs.LogGroup(this, 'HandlerLogs', { retention: props.logRetention }),
      // MALLOC_ARENA_MAX=2 as in the job image (jobs/Dockerfile): glibc arenas fragment under libvips' threads.
      environment: { ...props.pipelineConfig.environment, ...props.environment, NIGHTSHIFT_LOG_FORMAT: 'json', NODE_OPTIONS: '--enable-source-maps', MALLOC_ARENA_MAX: '2' },
      bundling: {
        target: 'node24',
        minify: true,
        sourceMap: true,
        externalModules: [...NATIVE_EXTERNALS],
        forceDockerBundling: false,
        // As the other functions (infra/functions.ts): esbuild's timing lines and bundle-size warnings say nothing a deployer acts on; an error still stops synth.
        logLevel: nodejs.LogLevel.ERROR,
        commandHooks: { beforeBundling: () => [], beforeInstall: () => [], afterBundling: (_input, output) => copyIntoBundle(modules, root, output) },
      },
    });
    acknowledge(fn, {
      [LAMBDA_BASIC_EXECUTION]: 'AWSLambdaBasicExecutionRole is the AWS-managed minimum for a function to write its own logs.',
      [ANY_RESOURCE]: 'X-Ray tracing: xray:PutTraceSegments and PutTelemetryRecords have no resource-level permissions.',
    });
    props.pipelineConfig.grantRead(fn);
    return fn;
  }
}

/** Synth stops with one line when a rendition written on upload could notify the lane again. */
function guardAgainstLoop(props: UploadLaneProps): void {
  const stack = Stack.of(props.corpus);
  const same = JSON.stringify(stack.resolve(props.corpus.bucketName)) === JSON.stringify(stack.resolve(props.renditions.bucketName));
  const problem = uploadLoopProblem(same ? props.corpusField : undefined, props.presets, props.excludePrefixes);
  if (problem) throw new UsageError(problem);
}

/**
 * S3 notifies only a destination in the bucket's own Region (S3 user guide, "Amazon S3 event
 * notifications", supported destinations): a corpus elsewhere cannot feed this stack's queue.
 */
function guardRegion(scope: Construct, corpusRegion: string | undefined): void {
  const region = Stack.of(scope).region;
  if (corpusRegion === undefined || Token.isUnresolved(region) || corpusRegion === region) return;
  throw new UsageError(`corpus.region: "${corpusRegion}": S3 sends a bucket's events only to a queue in the bucket's own Region, and this stack deploys to ${region}: deploy the stack to ${corpusRegion}, or set onUpload.enabled to false`);
}

/**
 * What the function does at run time, and nothing more (test/upload-lane.test.ts pins it). HEAD is
 * GetObject; ListBucket makes a key that is gone answer 404 rather than 403 (S3 API reference,
 * HeadObject and GetObject, "Permissions"), which is how the function tells a stale event from a
 * refusal. The SQS permissions are the event source's own (receive, delete, change visibility).
 */
function grantRunTimeAccess(fn: nodejs.NodejsFunction, props: UploadLaneProps): void {
  fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadCorpus', actions: ['s3:GetObject'], resources: [props.corpus.arnForObjects('*')] }));
  // Renditions: written with PutObject (conditional writes included); HEADed to see which are current.
  fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'WriteRenditions', actions: ['s3:GetObject', 's3:PutObject'], resources: [props.renditions.arnForObjects('*')] }));
  // ListBucket: a deleted key answers 404 rather than 403, and the lane lists an upload's stem for another image sharing its rendition keys.
  fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ListForNotFound', actions: ['s3:ListBucket'], resources: [props.corpus.bucketArn, props.renditions.bucketArn] }));
  props.table.grantRecordUpdates(fn);
  // Removal markers: the lane writes one per tombstone; the night lists them (ListBucket on the
  // work bucket is the job role's already), reads them, and deletes each once its prune is done.
  const markers = props.work.arnForObjects(`${LANE_REMOVED_PREFIX}*`);
  fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'WriteRemovalMarkers', actions: ['s3:PutObject'], resources: [markers] }));
  props.nightJobRole.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'UploadLaneRemovalMarkers', actions: ['s3:GetObject', 's3:DeleteObject'], resources: [markers] }));
  acknowledge(props.nightJobRole, { [wildcardResource(props.nightJobRole, props.work.bucketArn, `/${LANE_REMOVED_PREFIX}*`)]: 'The upload lane\'s removal markers, one per removed original, named by its key: read, then deleted once pruned.' });
  if (props.corpusKey) {
    // An SSE-KMS corpus: GetObject needs kms:Decrypt on its key (S3 user guide, "Using SSE-KMS", permissions), through S3 only.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DecryptCorpus',
        actions: ['kms:Decrypt'],
        resources: [props.corpusKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${props.corpus.env.region}.amazonaws.com` } },
      }),
    );
  }
  const byKey = 'the upload function addresses objects by the key an event names, not known in advance';
  acknowledge(fn, {
    [wildcardResource(fn, props.corpus.bucketArn, '/*')]: `Read-only on the corpus objects: ${byKey}.`,
    [wildcardResource(fn, props.renditions.bucketArn, '/*')]: `Writes (and HEADs) renditions under keys derived from the source key: ${byKey}; no delete.`,
    [wildcardResource(fn, props.work.bucketArn, `/${LANE_REMOVED_PREFIX}*`)]: 'Writes a removal marker per removed original, named by its key, for the night\'s prune.',
  });
}

/**
 * CDK's BucketNotifications handler (one per stack, CDK's own code) runs at deploy time only: it
 * writes the corpus's notification configuration. What cdk-nag finds there is CDK's choice.
 */
function acknowledgeNotificationsHandler(scope: Construct): void {
  for (const child of Stack.of(scope).node.children) {
    if (!child.node.id.startsWith('BucketNotificationsHandler')) continue;
    acknowledge(child, {
      [LAMBDA_BASIC_EXECUTION]: 'CDK\'s BucketNotifications handler writes its own logs with the AWS-managed minimum policy, at deploy time only.',
      'AwsSolutions-L1': 'CDK\'s BucketNotifications handler runs the Python runtime CDK pins for it, at deploy time only.',
    });
  }
}
