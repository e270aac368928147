import { join } from 'node:path';
import { Duration, Size, Stack } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { CpuArchitecture, JobNetwork } from '../core/cost';
import type { StackConfig } from './config';
import { acknowledge, ANY_RESOURCE, wildcardResource } from './nag';
import type { JobName } from '../core/jobs';
import type { PipelineConfigObject } from './pipeline-config';
import type { Storage } from './storage';

export type JobSize = StackConfig['compute']['resize'];

export interface ComputeProps {
  /** The buckets the jobs read and write; the job role gets exactly the access each needs. */
  readonly storage: Storage;
  /** vCPU, memory, timeout, attempts and ephemeral storage of each job. */
  readonly jobs: Record<JobName, JobSize>;
  /**
   * The pipeline configuration, an object in the work bucket: every job gets its address
   * (NIGHTSHIFT_CONFIG_S3) and may read it, and no job definition is registered before it is written.
   */
  readonly pipelineConfig: PipelineConfigObject;
  /**
   * The resize job deletes the renditions of deleted originals (renditions.pruneDeleted) and of
   * removed presets (renditions.removePresets): the job role may delete objects of the renditions
   * bucket, and of no other bucket.
   * @default true
   */
  readonly pruneRenditions?: boolean;
  /** The corpus's S3 Inventory deliveries, when the catalog reads them instead of listing: read-only access to that prefix. */
  readonly inventory?: { readonly bucketName: string; readonly prefix: string };
  /**
   * Run on Fargate Spot first, with on-demand Fargate as the queue's second compute environment.
   * @default true
   */
  readonly spot?: boolean;
  /**
   * Most vCPUs running at once, per compute environment.
   * @default 32
   */
  readonly maxVcpus?: number;
  /**
   * The CPU architecture the image is built for and the jobs run on. Pinned, so that an image
   * built on an arm64 laptop or runner never lands on x86 Fargate (every job would fail with
   * "exec format error").
   * @default 'x86_64'
   */
  readonly architecture?: CpuArchitecture;
  /**
   * How the tasks reach ECR, CloudWatch Logs and the AWS APIs. "public": public subnets and a
   * public IP per task, through the VPC's internet gateway (free; Amazon ECS developer guide,
   * "Amazon ECS task networking options for Fargate": a task in a public subnet pulls its image
   * through its public IP; AWS Batch API reference, NetworkConfiguration, assignPublicIp).
   * "private-nat": private subnets behind one NAT gateway, billed every hour (core/cost.ts).
   * @default 'public'
   */
  readonly network?: JobNetwork;
  /**
   * The VPC to run in: its public subnets, or its private subnets with egress (network "private-nat").
   * @default - a new VPC: two AZs, the free S3 and DynamoDB gateway endpoints, flow logs on; a NAT gateway only with "private-nat"
   */
  readonly vpc?: ec2.IVpc;
  /**
   * The job image.
   * @default - built from jobs/Dockerfile with the repository root as context
   */
  readonly image?: ecs.ContainerImage;
  /**
   * Retention of job logs and VPC flow logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /** More environment for every job (the images table, the delivery base URL). @default - none */
  readonly environment?: Record<string, string>;
}

/**
 * Where the Batch jobs run: a VPC, a Fargate Spot compute environment with an on-demand one behind
 * it in the job queue, and one job definition per job, all from the same image.
 */
export class Compute extends Construct {
  readonly vpc: ec2.IVpc;
  readonly queue: batch.JobQueue;
  readonly jobRole: iam.Role;
  readonly jobDefinitions: Record<JobName, batch.EcsJobDefinition>;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ComputeProps) {
    super(scope, id);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const network = props.network ?? 'public';
    this.vpc = props.vpc ?? this.newVpc(retention, network);
    // No inbound rule: a public IP receives nothing the group does not allow (replies to the tasks' own requests only).
    const securityGroup = new ec2.SecurityGroup(this, 'JobSecurityGroup', { vpc: this.vpc, description: 'nightshift Batch jobs: no inbound, outbound HTTPS to AWS APIs', allowAllOutbound: true });
    const subnets = { subnetType: network === 'public' ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_WITH_EGRESS };
    const environments: batch.OrderedComputeEnvironment[] = [];
    if (props.spot ?? true) {
      environments.push({
        order: 1,
        computeEnvironment: new batch.FargateComputeEnvironment(this, 'FargateSpot', { vpc: this.vpc, vpcSubnets: subnets, securityGroups: [securityGroup], spot: true, maxvCpus: props.maxVcpus ?? 32 }),
      });
    }
    environments.push({
      order: environments.length + 1,
      computeEnvironment: new batch.FargateComputeEnvironment(this, 'FargateOnDemand', { vpc: this.vpc, vpcSubnets: subnets, securityGroups: [securityGroup], spot: false, maxvCpus: props.maxVcpus ?? 32 }),
    });
    this.queue = new batch.JobQueue(this, 'Queue', { computeEnvironments: environments, priority: 1 });

    this.jobRole = new iam.Role(this, 'JobRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'), description: 'nightshift jobs: read the corpus, write renditions, backups and run artefacts; delete only renditions of deleted originals' });
    grantJobAccess(this.jobRole, props.storage, props.pruneRenditions ?? true);
    // s3:GetObject on exactly the configuration's key; the role, and so every job definition, after the deployment wrote it.
    props.pipelineConfig.grantRead(this.jobRole);
    if (props.inventory) grantInventoryRead(this.jobRole, props.inventory);
    this.logGroup = new logs.LogGroup(this, 'JobLogs', { retention });
    const arm = props.architecture === 'arm64';
    const image =
      props.image ??
      // The context is the repository root, narrowed to the image's inputs by .dockerignore (an
      // allowlist, which the asset's hash follows too).
      ecs.ContainerImage.fromAsset(join(__dirname, '..'), {
        file: 'jobs/Dockerfile',
        platform: arm ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
      });
    const make = (job: JobName) => this.jobDefinition(job, props, image, arm, network === 'public');
    this.jobDefinitions = { catalog: make('catalog'), backup: make('backup'), resize: make('resize') };
    for (const definition of Object.values(this.jobDefinitions)) {
      // A job may start as soon as its definition exists: not before the configuration it reads does.
      definition.node.addDependency(props.pipelineConfig.deployment);
      acknowledge((definition.container as batch.EcsFargateContainerDefinition).executionRole, {
        [ANY_RESOURCE]: 'ecr:GetAuthorizationToken has no resource-level permissions: ECR requires "*" to pull the job image.',
      });
    }
  }

  /** One job's definition: its size, the image's command for it, and the environment every job gets. */
  private jobDefinition(job: JobName, props: ComputeProps, image: ecs.ContainerImage, arm: boolean, publicIp: boolean): batch.EcsJobDefinition {
    const size = props.jobs[job];
    return new batch.EcsJobDefinition(this, `${job[0]!.toUpperCase()}${job.slice(1)}Job`, {
      container: new batch.EcsFargateContainerDefinition(this, `${job}Container`, {
        image,
        command: [job],
        cpu: size.vcpu,
        memory: Size.mebibytes(size.memoryMiB),
        jobRole: this.jobRole,
        // The attempt timeout, so the job stops itself before Batch kills it (jobs/src/context.ts, selfDeadlineMs);
        // the memory, which the resize job budgets images from (core/memory-budget.ts).
        // The configuration's address, not the configuration: a job definition is at most 24 KiB (infra/limits.ts).
        environment: { ...props.pipelineConfig.environment, NIGHTSHIFT_LOG_FORMAT: 'json', NIGHTSHIFT_TMPDIR: '/tmp', NIGHTSHIFT_ATTEMPT_TIMEOUT_SECONDS: String(size.timeoutMinutes * 60), NIGHTSHIFT_JOB_MEMORY_MIB: String(size.memoryMiB), ...props.environment },
        logging: ecs.LogDriver.awsLogs({ streamPrefix: job, logGroup: this.logGroup }),
        // An init as PID 1 that forwards SIGTERM and reaps (docker run --init; AWS Batch API
        // reference, LinuxParameters, initProcessEnabled): the kernel drops a signal to a PID 1
        // that has no handler yet, so a stop during start-up would end in SIGKILL (137), not 143.
        linuxParameters: new batch.LinuxParameters(this, `${job}Linux`, { initProcessEnabled: true }),
        fargatePlatformVersion: ecs.FargatePlatformVersion.LATEST,
        // In a public subnet a task without a public IP reaches nothing outside the VPC: not ECR, so its image never pulls.
        assignPublicIp: publicIp,
        fargateCpuArchitecture: arm ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
        fargateOperatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
        // The catalog's external sort spills to /tmp (compute.catalog.storageGiB, 100 GiB unless set); Fargate gives 20 GiB when unset.
        ephemeralStorageSize: size.storageGiB > 20 ? Size.gibibytes(size.storageGiB) : undefined,
      }),
      timeout: Duration.minutes(size.timeoutMinutes),
      retryAttempts: size.attempts,
      retryStrategies: RETRY_STRATEGIES,
      propagateTags: true,
    });
  }

  private newVpc(retention: logs.RetentionDays, network: JobNetwork): ec2.Vpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: network === 'private-nat' ? 1 : 0,
      subnetConfiguration:
        network === 'private-nat'
          ? [
              { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
              { name: 'jobs', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
            ]
          : [{ name: 'jobs', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20 }],
      // Image bytes to and from S3 and the image records go through the free gateway endpoints, never a NAT gateway.
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 }, DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB } },
      flowLogs: { all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogs', { retention })), trafficType: ec2.FlowLogTrafficType.ALL } },
    });
    return vpc;
  }
}

/**
 * Batch retries what a retry can fix and nothing else. At most five rules, first match wins, and
 * a failure no rule matches is retried, hence the final catch-all EXIT.
 */
export const RETRY_STRATEGIES: batch.RetryStrategy[] = [
  // Spot capacity reclaimed (EC2 wording, and Fargate's).
  batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
  batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onStatusReason: 'Your Spot Task was interrupted*' })),
  // Exit 1 (could not do its work: S3 unreachable, a manifest unreadable), 137 (SIGKILL: a worker
  // killed mid-shard) and 143 (SIGTERM before finishing): the next attempt redoes the shard,
  // skipping what is done. One glob, as Batch allows five rules: '1*' matches 1, 137 and 143 (and
  // no exit code the jobs use for errors a retry cannot fix: that is 2).
  batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onExitCode: '1*' })),
  // A container stopped without an exit code by Batch itself (e.g. the host went away).
  batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onStatusReason: 'Task failed to start*' })),
  // Everything else (exit 2: bad configuration; image pull errors) fails at once.
  batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: '*' })),
];

/** The catalog lists the inventory's dated folders and reads one manifest and its data files: that prefix, read-only. */
function grantInventoryRead(role: iam.Role, inventory: { bucketName: string; prefix: string }): void {
  const bucketArn = Stack.of(role).formatArn({ service: 's3', region: '', account: '', resource: inventory.bucketName });
  role.addToPolicy(new iam.PolicyStatement({ sid: 'ListInventory', actions: ['s3:ListBucket'], resources: [bucketArn], conditions: { StringLike: { 's3:prefix': [`${inventory.prefix}*`] } } }));
  role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadInventory', actions: ['s3:GetObject'], resources: [`${bucketArn}/${inventory.prefix}*`] }));
  acknowledge(role, { [wildcardResource(role, bucketArn, `/${inventory.prefix}*`)]: 'Read-only on the inventory deliveries: their data file names are chosen by S3 Inventory.' });
}

/** Exactly what the jobs do with each bucket. The corpus is read-only; the only delete is of renditions (pruning). */
function grantJobAccess(role: iam.Role, storage: Storage, prune: boolean): void {
  const objects = (bucket: { bucketArn: string }, prefix = '') => `${bucket.bucketArn}/${prefix}*`;
  // ListBucket on the buckets the jobs HEAD or GET keys that may not exist yet: without it S3
  // answers 403 instead of 404, and "not there yet" could not be told from "not allowed".
  role.addToPolicy(new iam.PolicyStatement({ sid: 'ListBuckets', actions: ['s3:ListBucket'], resources: [storage.corpus.bucketArn, storage.renditions.bucketArn, storage.backup.bucketArn, storage.work.bucketArn] }));
  // A backup keeps the original's tags: CopyObject copies them (TaggingDirective COPY), which S3
  // allows only with GetObjectTagging on the source and PutObjectTagging on the destination (S3
  // API reference, CopyObject, "Permissions"); the multipart path reads them and sets them itself.
  role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadCorpus', actions: ['s3:GetObject', 's3:GetObjectTagging'], resources: [objects(storage.corpus)] }));
  // Pruning deletes a deleted original's renditions with DeleteObject If-Match, which S3 allows
  // with s3:DeleteObject and s3:GetObject (S3 user guide, "How to perform conditional deletes").
  role.addToPolicy(new iam.PolicyStatement({ sid: 'WriteRenditions', actions: ['s3:GetObject', 's3:PutObject', ...(prune ? ['s3:DeleteObject'] : [])], resources: [objects(storage.renditions)] }));
  role.addToPolicy(new iam.PolicyStatement({ sid: 'WriteBackups', actions: ['s3:GetObject', 's3:PutObject', 's3:PutObjectTagging', 's3:AbortMultipartUpload'], resources: [objects(storage.backup)] }));
  // AbortMultipartUpload: the catalog uploads a large catalogue in parts (lib-storage), and aborts
  // the upload when it fails instead of leaving its parts billed until the lifecycle rule.
  role.addToPolicy(new iam.PolicyStatement({ sid: 'RunArtefacts', actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], resources: [objects(storage.work, 'runs/')] }));
  role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadLastCatalogue', actions: ['s3:GetObject'], resources: [objects(storage.work, 'state/')] }));
  // An SSE-KMS corpus: reading it (GetObject, and the copy source of CopyObject/UploadPartCopy)
  // needs kms:Decrypt on its key (S3 user guide, "Using SSE-KMS": permissions), through S3 only.
  if (storage.corpusKey) {
    const region = storage.corpus.env.region;
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DecryptCorpus',
        actions: ['kms:Decrypt'],
        resources: [storage.corpusKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } },
      }),
    );
  }
  const byKey = 'the jobs address objects by key, which is not known in advance';
  acknowledge(role, {
    [wildcardResource(role, storage.corpus.bucketArn, '/*')]: `Read-only on the corpus objects: ${byKey}; no delete.`,
    [wildcardResource(role, storage.renditions.bucketArn, '/*')]: `Renditions are written (and, with renditions.pruneDeleted, deleted when their original is) under keys derived from the source keys: ${byKey}.`,
    [wildcardResource(role, storage.backup.bucketArn, '/*')]: `Backups keep the source keys: ${byKey}; no delete.`,
    [wildcardResource(role, storage.work.bucketArn, '/runs/*')]: 'Run artefacts live under runs/<runId>/, a new prefix every run.',
    [wildcardResource(role, storage.work.bucketArn, '/state/*')]: 'Read-only on state/, where the last good catalogue is kept.',
  });
}
