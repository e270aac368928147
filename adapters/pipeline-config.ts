/**
 * The pipeline configuration as an object in the work bucket, which the deployment writes
 * (infra/pipeline-config.ts) and the functions and the jobs read through NIGHTSHIFT_CONFIG_S3,
 * `s3://<work bucket>/config/pipeline-<digest>.json`. An environment cannot carry it: Lambda allows
 * 4 KB of environment variables per function (Lambda developer guide, "Lambda quotas") and AWS
 * Batch 24 KiB per job definition (AWS Batch user guide, "AWS Batch service quotas").
 */
import { parsePipelineConfig, type PipelineConfig } from '../core/config';
import { UsageError } from '../core/validation';
import { createS3Client, errorText, getText, isNotFound, type S3Options } from './s3';

export const CONFIG_POINTER_ENV = 'NIGHTSHIFT_CONFIG_S3';

/** Why the object could not be read: `notFound` when S3 answered that it is not there (a retry would not find it either). */
export class ConfigObjectError extends Error {
  constructor(
    message: string,
    readonly notFound: boolean,
  ) {
    super(message);
  }
}

/** `s3://bucket/key` as its parts, or a one-line error naming the variable. */
export function configLocation(pointer: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(pointer);
  if (!match) throw new UsageError(`${CONFIG_POINTER_ENV}=${JSON.stringify(pointer)}: expected s3://<bucket>/<key> (the stack sets it).`);
  return { bucket: match[1]!, key: match[2]! };
}

/**
 * Reads and validates the configuration `pointer` names, with a client made from `env` (its
 * endpoint and region). Fields are named from the pointer in a validation error.
 */
export async function readPipelineConfigObject(pointer: string, env: NodeJS.ProcessEnv, options: S3Options = {}): Promise<PipelineConfig> {
  const { bucket, key } = configLocation(pointer);
  const s3 = createS3Client(options, env);
  let text: string;
  try {
    text = await getText(s3, bucket, key);
  } catch (error) {
    throw new ConfigObjectError(`${CONFIG_POINTER_ENV}=${pointer}: cannot read the configuration (${errorText(error)}); the deployment writes it: deploy the stack again.`, isNotFound(error));
  } finally {
    s3.destroy();
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${CONFIG_POINTER_ENV}=${pointer}: the object is not JSON (${(error as Error).message}); the deployment writes it: deploy the stack again.`);
  }
  return parsePipelineConfig(raw, pointer);
}
