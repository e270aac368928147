import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct, type IConstruct } from 'constructs';
import type { PipelineConfig } from '../core/config';
import { pipelineConfigKey } from '../core/keys';
import { acknowledge, LAMBDA_BASIC_EXECUTION, wildcardResource } from './nag';

export interface PipelineConfigObjectProps {
  /** The work bucket: the configuration is written to it, under config/. */
  readonly bucket: s3.IBucket;
  /** The configuration; its bucket names may be deploy-time values. */
  readonly config: PipelineConfig;
  readonly logRetention: logs.RetentionDays;
}

/**
 * The pipeline configuration as an object in the work bucket, written by the deployment
 * (BucketDeployment, a Lambda-backed custom resource that runs when the configuration changes),
 * so that its size is not bounded by Lambda's 4 KB of environment variables (Lambda developer
 * guide, "Lambda quotas") or a Batch job definition's 24 KiB (AWS Batch user guide, "AWS Batch
 * service quotas"). The functions and the jobs get a pointer to it, NIGHTSHIFT_CONFIG_S3: a function
 * reads it once per container (functions/context.ts), a job once at start (jobs/src/main.ts), both
 * with adapters/pipeline-config.ts.
 *
 * The key carries a digest of the configuration, so a change is a new object and a new pointer:
 * Lambda starts new containers for a changed environment, and a warm container's cache is never
 * stale. Old objects are kept (prune: false), a few KB each: a container of the previous version
 * that starts while the deployment is under way still finds its own.
 */
export class PipelineConfigObject extends Construct {
  readonly bucket: s3.IBucket;
  readonly key: string;
  /** What a function or a job needs to find the configuration. */
  readonly environment: { readonly NIGHTSHIFT_CONFIG_S3: string };
  readonly deployment: s3deploy.BucketDeployment;

  constructor(scope: Construct, id: string, props: PipelineConfigObjectProps) {
    super(scope, id);
    this.bucket = props.bucket;
    // The digest of the configuration as the template holds it (bucket names as references):
    // the same for every synth of the same configuration.
    this.key = pipelineConfigKey(JSON.stringify(Stack.of(this).resolve(props.config)));
    const [prefix, name] = [this.key.slice(0, this.key.lastIndexOf('/') + 1), this.key.slice(this.key.lastIndexOf('/') + 1)];
    this.deployment = new s3deploy.BucketDeployment(this, 'Deployment', {
      destinationBucket: props.bucket,
      destinationKeyPrefix: prefix,
      sources: [s3deploy.Source.jsonData(name, props.config)],
      prune: false,
      retainOnDelete: true,
      contentType: 'application/json',
      logGroup: new logs.LogGroup(this, 'DeploymentLogs', { retention: props.logRetention }),
    });
    this.environment = { NIGHTSHIFT_CONFIG_S3: `s3://${props.bucket.bucketName}/${this.key}` };
    acknowledgeDeploymentHandler(this.deployment);
  }

  /** Read access to this configuration object only; `consumer` is deployed after it is written. */
  grantRead(grantee: iam.IGrantable & IConstruct): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects(this.key)] }));
    grantee.node.addDependency(this.deployment);
  }
}

/**
 * The BucketDeployment's handler (one per stack, CDK's own code) runs at deploy time only, never
 * at run time: what cdk-nag finds there is CDK's choice, acknowledged with the reason.
 */
function acknowledgeDeploymentHandler(deployment: s3deploy.BucketDeployment): void {
  const handler = deployment.handlerRole.node.scope!;
  const wildcard = 'CDK\'s BucketDeployment handler copies the configuration from the CDK asset bucket to the work bucket at deploy time; CDK grants it these wildcards on those two buckets.';
  acknowledge(handler, {
    [LAMBDA_BASIC_EXECUTION]: 'CDK\'s BucketDeployment handler: AWSLambdaBasicExecutionRole lets it write its own logs.',
    'AwsSolutions-L1': 'CDK\'s BucketDeployment handler runs the Python runtime CDK pins for it (with the AWS CLI layer), at deploy time only.',
    ...Object.fromEntries(wildcardFindings(deployment.handlerRole).map((id) => [id, wildcard])),
  });
}

/** cdk-nag's IAM5 finding ids for the wildcards in a role's default policy, as CDK wrote it. */
function wildcardFindings(role: iam.IRole): string[] {
  const policy = role.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
  if (!policy) return [];
  const document = Stack.of(role).resolve(policy.document) as { Statement: { Action: string | string[]; Resource: unknown }[] };
  const list = <T>(v: T | T[]) => (Array.isArray(v) ? v : [v]);
  return [
    ...new Set(
      document.Statement.flatMap((st) => [
        ...list(st.Action).filter((a) => a.includes('*')).map((a) => `AwsSolutions-IAM5[Action::${a}]`),
        ...list(st.Resource).filter((r) => JSON.stringify(r).includes('*')).map((r) => wildcardResource(role, r as string)),
      ]),
    ),
  ];
}
