import { Aspects, CfnOutput, CfnResource, Lazy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { DELIVERY_ENV } from '../core/config';
import { standingCost, standingCostLine } from '../core/cost';
import { IMAGES_TABLE_ENV } from '../core/records/table';
import { Compute } from './compute';
import { pipelineConfigOf, type StackConfig } from './config';
import { Delivery } from './delivery';
import { Functions } from './functions';
import { ImagesApi } from './images-api';
import { ImagesTable } from './images-table';
import { AwsLimits } from './limits';
import { acknowledge } from './nag';
import { Notifications } from './notifications';
import { Observability } from './observability';
import { PipelineConfigObject } from './pipeline-config';
import { RunEvents } from './run-events';
import { NightlySchedule } from './schedule';
import { Storage } from './storage';
import { UploadLane } from './upload-lane';
import { Workflow } from './workflow';

export interface NightshiftStackProps extends StackProps {
  /** The validated configuration (infra/config.ts). */
  readonly config: StackConfig;
  /**
   * The job image.
   * @default - built from jobs/Dockerfile
   */
  readonly jobImage?: ecs.ContainerImage;
}

/** The state machine's name for a stack: how `nightshift run` finds the deployed workflow. */
export const stateMachineNameOf = (stackName: string) => `${stackName}-workflow`;

/** The whole pipeline: EventBridge schedule → Step Functions → AWS Batch → Lambda → SNS. */
export class NightshiftStack extends Stack {
  readonly storage: Storage;
  readonly compute: Compute;
  readonly functions: Functions;
  readonly notifications: Notifications;
  readonly workflow: Workflow;
  readonly observability: Observability;
  readonly imagesTable: ImagesTable;
  readonly imagesApi: ImagesApi;
  readonly runEvents: RunEvents;
  /** The CloudFront distribution over the renditions, with delivery.cdn. */
  readonly delivery?: Delivery;
  /** Render on upload (issue 29), with onUpload.enabled. */
  readonly uploadLane?: UploadLane;

  constructor(scope: Construct, id: string, props: NightshiftStackProps) {
    super(scope, id, props);
    const { config } = props;
    const logRetention = config.retention.logDays as logs.RetentionDays;
    this.storage = new Storage(this, 'Storage', {
      corpusBucketName: config.corpus.bucketName,
      corpusRegion: config.corpus.region,
      corpusKmsKeyArn: config.corpus.kmsKeyArn,
      runRetentionDays: config.retention.runDays,
      noncurrentBackupDays: config.retention.noncurrentBackupDays,
      backupObjectLock: config.backupObjectLock,
    });
    const pipelineConfig = pipelineConfigOf(config, { corpus: this.storage.corpus.bucketName, renditions: this.storage.renditions.bucketName, backup: this.storage.backup.bucketName, work: this.storage.work.bucketName });
    // The functions and the jobs read it from the work bucket: Lambda's environment holds 4 KB, a Batch job definition 24 KiB.
    const pipelineConfigObject = new PipelineConfigObject(this, 'PipelineConfig', { bucket: this.storage.work, config: pipelineConfig, logRetention });
    this.notifications = new Notifications(this, 'Notifications', { emails: config.notificationEmails });
    // Image records (issue 28): the table and the optional CDN come first, as the jobs are told
    // their names (the wiring that needs the jobs and functions follows them).
    this.imagesTable = new ImagesTable(this, 'ImagesTable');
    this.delivery = config.delivery.cdn ? new Delivery(this, 'Delivery', { renditions: this.storage.renditions, accessLogs: this.storage.accessLogs }) : undefined;
    const deliveryBaseUrl = this.delivery?.baseUrl ?? config.delivery.baseUrl;
    const recordsEnvironment = { [IMAGES_TABLE_ENV]: this.imagesTable.table.tableName, ...(deliveryBaseUrl ? { [DELIVERY_ENV.baseUrl]: deliveryBaseUrl } : {}) };
    const jobs = { catalog: config.compute.catalog, backup: config.compute.backup, resize: config.compute.resize };
    this.compute = new Compute(this, 'Compute', {
      storage: this.storage,
      jobs,
      pipelineConfig: pipelineConfigObject,
      // A confirmed preset removal (renditions.removePresets) deletes renditions too.
      pruneRenditions: config.renditions.pruneDeleted || config.renditions.removePresets.length > 0,
      inventory: config.corpus.inventory,
      spot: config.compute.spot,
      maxVcpus: config.compute.maxVcpus,
      architecture: config.compute.architecture,
      network: config.compute.network,
      vpc: config.compute.vpcId ? ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: config.compute.vpcId }) : undefined,
      image: props.jobImage,
      logRetention,
      environment: recordsEnvironment,
    });
    this.functions = new Functions(this, 'Functions', {
      storage: this.storage,
      topic: this.notifications.topic,
      pipelineConfig: pipelineConfigObject,
      schedule: config.schedule.enabled ? { cron: config.schedule.cron, timeZone: config.schedule.timeZone } : undefined,
      logRetention,
    });
    // Image records (issue 28): the jobs write them, the API reads them, the run's end is announced
    // on the default bus, and with the CDN Aggregate invalidates replaced renditions.
    this.imagesTable.grantRecordWrites(this.compute.jobRole, { deletes: config.renditions.pruneDeleted });
    this.imagesApi = new ImagesApi(this, 'ImagesApi', { table: this.imagesTable, auth: config.api.auth, corsOrigins: config.api.corsOrigins, throttle: config.api.throttle, logRetention });
    this.runEvents = new RunEvents(this, 'RunEvents', { emitters: [this.functions.notify, this.functions.notifyFailure] });
    // Its name only (no access): a dry run's cost estimate counts the records' writes when there is a table.
    this.functions.aggregate.addEnvironment(IMAGES_TABLE_ENV, this.imagesTable.table.tableName);
    if (this.delivery) {
      this.delivery.grantInvalidation(this.functions.aggregate);
      this.functions.aggregate.addEnvironment(DELIVERY_ENV.distributionId, this.delivery.distribution.distributionId);
      this.functions.aggregate.addEnvironment(DELIVERY_ENV.maxInvalidationPaths, String(config.delivery.maxInvalidationPaths));
      new CfnOutput(this, 'DistributionDomainName', { value: this.delivery.distribution.distributionDomainName, description: 'Records\' rendition urls use it' });
    }
    new CfnOutput(this, 'ImagesApiUrl', { value: this.imagesApi.url, description: 'GET {url}images/{key} answers an image\'s record; GET {url}images?prefix=<folder>/ a folder\'s' });
    new CfnOutput(this, 'ImagesTableName', { value: this.imagesTable.table.tableName });
    this.workflow = new Workflow(this, 'Workflow', {
      queue: this.compute.queue,
      jobDefinitions: this.compute.jobDefinitions,
      jobs,
      functions: this.functions,
      workBucket: this.storage.work,
      logRetention,
      stateMachineName: stateMachineNameOf(this.stackName),
    });
    if (config.schedule.enabled) new NightlySchedule(this, 'Schedule', { stateMachine: this.workflow.stateMachine, cron: config.schedule.cron, timeZone: config.schedule.timeZone });
    this.uploadLane = config.onUpload.enabled
      ? new UploadLane(this, 'UploadLane', {
          corpus: this.storage.corpus,
          corpusKey: this.storage.corpusKey,
          corpusRegion: config.corpus.region,
          corpusField: { field: 'corpus.bucketName', value: config.corpus.bucketName ?? '(the corpus bucket the stack creates)' },
          renditions: this.storage.renditions,
          work: this.storage.work,
          nightJobRole: this.compute.jobRole,
          table: this.imagesTable,
          pipelineConfig: pipelineConfigObject,
          onUpload: config.onUpload,
          presets: config.presets,
          excludePrefixes: config.filter.excludePrefixes,
          architecture: config.compute.architecture,
          topic: this.notifications.topic,
          environment: recordsEnvironment,
          logRetention,
        })
      : undefined;
    this.observability = new Observability(this, 'Observability', {
      stateMachine: this.workflow.stateMachine,
      queue: this.compute.queue,
      topic: this.notifications.topic,
      logRetention,
      moreAlarms: this.uploadLane ? [this.uploadLane.deadLetterAlarm] : [],
    });

    // What CloudFormation would refuse at deploy time (Lambda's environment size, Batch's job definition size) stops synth.
    Aspects.of(this).add(new AwsLimits());

    acknowledge(this, {
      'AwsSolutions-L1': 'Functions are pinned to Node.js 24, the runtime the project builds and tests on (the jobs run on node:24 too); they move with the project.',
    });

    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn, description: 'nightshift run uses it; Start execution with {} in the console for an ad-hoc run' });
    new CfnOutput(this, 'CorpusBucket', { value: this.storage.corpus.bucketName });
    new CfnOutput(this, 'RenditionsBucket', { value: this.storage.renditions.bucketName });
    new CfnOutput(this, 'BackupBucket', { value: this.storage.backup.bucketName });
    new CfnOutput(this, 'WorkBucket', { value: this.storage.work.bucketName });
    new CfnOutput(this, 'TopicArn', { value: this.notifications.topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: this.observability.dashboard.dashboardName });
    // Counted from the resources the template has, once every construct is added (core/cost.ts, STANDING_PRICES).
    new CfnOutput(this, 'StandingCost', { value: Lazy.string({ produce: () => standingCostLine(standingCost(this.resourceCounts())) }), description: 'What the stack costs a month with no run running' });
  }

  /** Resource type → how many the stack synthesizes. */
  resourceCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const c of this.node.findAll()) if (CfnResource.isCfnResource(c)) counts[c.cfnResourceType] = (counts[c.cfnResourceType] ?? 0) + 1;
    return counts;
  }
}
