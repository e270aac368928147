/**
 * Lambda's entry for the upload lane (functions/on-upload.ts): the pipeline configuration from
 * NIGHTSHIFT_CONFIG_S3 (functions/context.ts), the images table NIGHTSHIFT_IMAGES_TABLE names,
 * and the delivery base URL of the records' urls (DELIVERY_ENV), as the stack sets them.
 */
import { DELIVERY_ENV } from '../../core/config';
import { IMAGES_TABLE_ENV } from '../../core/records/table';
import { createDynamoClient, ImageRecordStore } from '../../adapters/dynamodb';
import { functionContext, withPipelineConfig } from '../context';
import { uploadHandler, type LaneRecord, type SqsBatchResponse, type SqsEvent } from '../on-upload';

const table = process.env[IMAGES_TABLE_ENV];
// A function deployed without its table fails at its first start, saying what is missing.
if (!table) throw new Error(`${IMAGES_TABLE_ENV} is not set: the upload lane writes the image records there (infra/upload-lane.ts sets it)`);
const records = new ImageRecordStore<LaneRecord>(createDynamoClient(), table);

export const handler = withPipelineConfig(async (event: SqsEvent): Promise<SqsBatchResponse> => {
  const ctx = functionContext();
  const deliveryBaseUrl = ctx.env[DELIVERY_ENV.baseUrl] || undefined;
  return uploadHandler({ s3: ctx.s3, records, config: ctx.config, log: ctx.log, ...(deliveryBaseUrl ? { deliveryBaseUrl } : {}) })(event);
});
