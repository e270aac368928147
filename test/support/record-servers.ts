/**
 * What a job that writes image records runs against in a test: the embedded S3 server (its own
 * process, test/support/processes.ts) and the embedded DynamoDB with the images table, with a
 * record store for the test to read what the job wrote.
 */
import type { ImageRecord } from '../../core/records/record';
import { createDynamoClient, ImageRecordStore } from '../../adapters/dynamodb';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../local/dynamodb-server';
import { startTestS3, type TestS3 } from './processes';

export interface RecordServers {
  readonly s3server: TestS3;
  readonly dynamo: EmbeddedDynamo;
  readonly store: ImageRecordStore<ImageRecord>;
  /** The job's environment that points it at both servers and the table. */
  readonly jobEnv: { AWS_ENDPOINT_URL_S3: string; AWS_ENDPOINT_URL_DYNAMODB: string; NIGHTSHIFT_IMAGES_TABLE: string };
  stop(): Promise<void>;
}

export async function startRecordServers(buckets: readonly string[]): Promise<RecordServers> {
  const s3server = await startTestS3(buckets);
  const dynamo = await startEmbeddedDynamo();
  const client = createDynamoClient({ endpoint: dynamo.endpoint, maxAttempts: 3 }, {});
  return {
    s3server,
    dynamo,
    store: new ImageRecordStore<ImageRecord>(client, dynamo.table),
    jobEnv: { AWS_ENDPOINT_URL_S3: s3server.endpoint, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, NIGHTSHIFT_IMAGES_TABLE: dynamo.table },
    stop: async () => {
      client.destroy();
      await dynamo.stop();
      await s3server.stop();
    },
  };
}
