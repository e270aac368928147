/**
 * The upload lane's handler (issue 29): SQS messages carrying S3 event notifications, answered
 * with a partial batch response. Skeleton: the contract the stack (infra) builds against; the
 * handler itself lands with the upload lane.
 */

/** The SQS event a Lambda event source delivers (only the fields used). */
export interface SqsEvent {
  readonly Records: readonly { readonly messageId: string; readonly body: string }[];
}

/** Lambda's partial batch response (ReportBatchItemFailures): the messages to retry. */
export interface SqsBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

export type UploadHandler = (event: SqsEvent) => Promise<SqsBatchResponse>;
