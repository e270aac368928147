/**
 * Lambda's entry for the image API (functions/images-api.ts): its store is the images table that
 * NIGHTSHIFT_IMAGES_TABLE names (infra/images-api.ts sets it), read through the DynamoDB client
 * made once per execution environment. No pipeline configuration: the API needs none.
 */
import { createDynamoClient, ImageRecordStore } from '../../adapters/dynamodb';
import type { ImageRecord } from '../../core/records/record';
import { IMAGES_TABLE_ENV } from '../../core/records/table';
import { imagesApi } from '../images-api';

const table = process.env[IMAGES_TABLE_ENV];
// A function deployed without its table fails at its first start, saying what is missing.
if (!table) throw new Error(`${IMAGES_TABLE_ENV} is not set: the image API needs the images table's name (infra/images-api.ts sets it)`);

export const handler = imagesApi(new ImageRecordStore<ImageRecord>(createDynamoClient(), table));
