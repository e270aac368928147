/**
 * Lambda's entry for the upload lane (functions/on-upload.ts). Skeleton until the handler lands.
 */
import type { SqsBatchResponse, SqsEvent } from '../on-upload';

export const handler = async (_event: SqsEvent): Promise<SqsBatchResponse> => {
  throw new Error('the upload lane is not built yet');
};
