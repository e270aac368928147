/**
 * AWS limits that CloudFormation would only enforce at deploy time, checked at synth: a stack that
 * would fail to deploy stops `cdk synth` with one line naming the resource, its size and the limit.
 *
 * - Lambda: 4 KB of environment variables per function, all of them together (Lambda developer
 *   guide, "Lambda quotas": "Function environment variables: 4 KB, for all environment variables
 *   associated with the function, in aggregate").
 * - AWS Batch: a job definition of at most 24 KiB (AWS Batch user guide, "AWS Batch service
 *   quotas": "Maximum job definition size (for RegisterJobDefinition API operations): 24 KiB").
 */
import { type IAspect, Stack, Token } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';

export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4 * 1024;
export const BATCH_JOB_DEFINITION_LIMIT_BYTES = 24 * 1024;
/**
 * A deploy-time value (a bucket name, a topic ARN) counts as this many bytes: more than any name
 * or ARN this stack puts in an environment (bucket names are at most 63 characters).
 */
export const DEPLOY_TIME_VALUE_BYTES = 256;

export class LimitsError extends Error {}

/**
 * `value` as it will be deployed, for measuring: each deploy-time value (Ref, Fn::GetAtt, …) a
 * string of DEPLOY_TIME_VALUE_BYTES characters, each Fn::Join its joined parts.
 */
function materialize(scope: IConstruct, value: unknown): unknown {
  if (typeof value === 'string') return Token.isUnresolved(value) ? materialize(scope, Stack.of(scope).resolve(value)) : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => materialize(scope, v));
  const entries = Object.entries(value as Record<string, unknown>);
  const [first] = entries;
  if (entries.length === 1 && first![0] === 'Fn::Join') {
    const [separator, parts] = first![1] as [string, unknown[]];
    return parts.map((p) => String(materialize(scope, p))).join(separator);
  }
  if (entries.length === 1 && (first![0] === 'Ref' || first![0].startsWith('Fn::'))) return 'x'.repeat(DEPLOY_TIME_VALUE_BYTES);
  return Object.fromEntries(entries.map(([k, v]) => [k, materialize(scope, v)]));
}

/** Bytes of `value` as JSON once deployed (what the API call carries). */
function deployedBytes(scope: IConstruct, value: unknown): number {
  return Buffer.byteLength(JSON.stringify(materialize(scope, value)));
}

/** The size Lambda counts, approximately: the variables (names and values) as JSON. */
export function lambdaEnvironmentBytes(fn: lambda.CfnFunction): number {
  const resolved = Stack.of(fn).resolve(fn.environment) as { variables?: Record<string, unknown> } | undefined;
  return deployedBytes(fn, resolved?.variables ?? {});
}

/** The job definition as RegisterJobDefinition receives it, approximately: its properties as JSON. */
export function batchJobDefinitionBytes(definition: batch.CfnJobDefinition): number {
  // _toCloudFormation: the resource as the template will hold it (CDK's own rendering).
  const rendered = (definition as unknown as { _toCloudFormation(): { Resources: Record<string, { Properties?: unknown }> } })._toCloudFormation();
  const resource = Object.values(Stack.of(definition).resolve(rendered.Resources) as Record<string, { Properties?: unknown }>)[0];
  return deployedBytes(definition, resource?.Properties ?? {});
}

/** Stops synth at the first resource over its limit. */
export class AwsLimits implements IAspect {
  visit(node: IConstruct): void {
    if (node instanceof lambda.CfnFunction) {
      const size = lambdaEnvironmentBytes(node);
      if (size > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
        throw new LimitsError(`Lambda function ${node.node.path}: its environment variables take ${size} bytes, over Lambda's 4 KB (${LAMBDA_ENVIRONMENT_LIMIT_BYTES} bytes) for all of them together: move the large value out of the environment (the pipeline configuration travels in the work bucket, NIGHTSHIFT_CONFIG_S3).`);
      }
    }
    if (node instanceof batch.CfnJobDefinition) {
      const size = batchJobDefinitionBytes(node);
      if (size > BATCH_JOB_DEFINITION_LIMIT_BYTES) {
        throw new LimitsError(`Batch job definition ${node.node.path}: ${size} bytes, over AWS Batch's 24 KiB (${BATCH_JOB_DEFINITION_LIMIT_BYTES} bytes) per job definition: move the large value out of its environment (the pipeline configuration travels in the work bucket, NIGHTSHIFT_CONFIG_S3).`);
      }
    }
  }
}
