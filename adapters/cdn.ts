/**
 * CloudFront invalidations after a run (delivery.cdn): the paths core/records/invalidation.ts
 * decided, in one CreateInvalidation request whose CallerReference is the run id, so a retried
 * Aggregate creates no second invalidation (CloudFront API reference, InvalidationBatch:
 * "If you make a second invalidation request with the same value for CallerReference, and if the
 * rest of the request is the same, CloudFront doesn't create a new invalidation request").
 *
 * The AWS side goes through a CreateInvalidationApi, so tests can drive it without an account.
 */
import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { DELIVERY_ENV } from '../core/config';
import { DEFAULT_MAX_INVALIDATION_PATHS } from '../core/records/invalidation';

/** CreateInvalidation's request and the part of its response used, as the CloudFront API reference names them. */
export interface CreateInvalidationRequest {
  readonly DistributionId: string;
  readonly InvalidationBatch: { readonly CallerReference: string; readonly Paths: { readonly Quantity: number; readonly Items: readonly string[] } };
}

export interface CreateInvalidationResponse {
  readonly Invalidation?: { readonly Id?: string; readonly Status?: string };
}

export interface CreateInvalidationApi {
  createInvalidation(request: CreateInvalidationRequest): Promise<CreateInvalidationResponse>;
}

export function invalidationRequest(distributionId: string, runId: string, paths: readonly string[]): CreateInvalidationRequest {
  return { DistributionId: distributionId, InvalidationBatch: { CallerReference: runId, Paths: { Quantity: paths.length, Items: paths } } };
}

/** The CDN to invalidate, when the stack set one (NIGHTSHIFT_DISTRIBUTION_ID), with its cap. */
export interface CdnTarget {
  readonly distributionId: string;
  readonly maxPaths: number;
  readonly api: CreateInvalidationApi;
}

/** The distribution and cap from the environment the stack gives Aggregate; undefined without delivery.cdn. */
export function cdnTarget(env: NodeJS.ProcessEnv, api: CreateInvalidationApi = cloudFrontApi()): CdnTarget | undefined {
  const distributionId = env[DELIVERY_ENV.distributionId];
  if (!distributionId) return undefined;
  const raw = env[DELIVERY_ENV.maxInvalidationPaths];
  const maxPaths = raw === undefined || raw === '' ? DEFAULT_MAX_INVALIDATION_PATHS : Number(raw);
  if (!Number.isInteger(maxPaths) || maxPaths < 1) throw new Error(`${DELIVERY_ENV.maxInvalidationPaths}=${JSON.stringify(raw)}: expected a whole number >= 1 (delivery.maxInvalidationPaths); deploy the stack again.`);
  return { distributionId, maxPaths, api };
}

function cloudFrontApi(): CreateInvalidationApi {
  const client = new CloudFrontClient({});
  return { createInvalidation: ({ DistributionId, InvalidationBatch: { CallerReference, Paths } }) => client.send(new CreateInvalidationCommand({ DistributionId, InvalidationBatch: { CallerReference, Paths: { Quantity: Paths.Quantity, Items: [...Paths.Items] } } })) };
}
