/**
 * The embedded DynamoDB-compatible server: dynalite (LevelDB on disk) on loopback, behind a layer
 * of ours (local/dynamodb-layer.ts) for the TransactWriteItems dynalite lacks, with the image
 * records' table (core/records/table.ts) created if missing. Used through the same client code as
 * DynamoDB itself (adapters/dynamodb.ts), by endpoint alone.
 *
 * One process opens a data directory at a time (LevelDB locks it): the directory is the local
 * runtime's `.nightshift/dynamodb`, covered by the same claim as the S3 data (local/data-dir.ts).
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { createDynamoClient, isNotFound } from '../adapters/dynamodb';
import { FOLDER_ATTR, FOLDER_INDEX, IMAGES_TABLE_NAME, TABLE_ATTRIBUTES, TABLE_KEY } from '../core/records/table';
import { startDynamoLayer } from './dynamodb-layer';

/** Where a local runtime's data directory (`.nightshift`) keeps the tables. */
export const dynamoDataDir = (dataDir: string): string => join(dataDir, 'dynamodb');

export interface EmbeddedDynamoOptions {
  /** Where the tables persist (LevelDB). Default: in memory only. */
  readonly dataDir?: string;
  /** Port on 127.0.0.1. Default: 0 (any free port). */
  readonly port?: number;
  /** The image records' table name (default: core/records/table.ts's). */
  readonly table?: string;
  readonly region?: string;
}

export interface EmbeddedDynamo {
  /** `http://127.0.0.1:<port>`: AWS_ENDPOINT_URL_DYNAMODB for the clients. */
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  readonly table: string;
  /** Requests received so far, by operation: a snapshot. */
  requests(): Record<string, number>;
  stop(): Promise<void>;
}

export async function startEmbeddedDynamo(options: EmbeddedDynamoOptions = {}): Promise<EmbeddedDynamo> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  // Tables become ACTIVE at once: nothing here waits for provisioning.
  const server: Server = dynalite({ path: options.dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const layer = await startDynamoLayer({ upstreamPort: (server.address() as AddressInfo).port, port: options.port });
  const endpoint = `http://127.0.0.1:${layer.port}`;
  const region = options.region ?? 'us-east-1';
  const table = options.table ?? IMAGES_TABLE_NAME;
  const stop = async () => {
    await layer.close();
    await new Promise<void>((resolve, reject) => server.close((error?: Error) => (error ? reject(error) : resolve())));
  };
  const client = createDynamoClient({ endpoint, region, maxAttempts: 3 });
  try {
    await ensureImageTable(client, table);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
  return { endpoint, port: layer.port, region, table, requests: () => layer.requests(), stop };
}

/** Creates the image records' table as core/records/table.ts describes it, unless it exists (a run on a serve's server too). */
export async function ensureImageTable(client: DynamoDBClient, table: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: table }));
    return;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: TABLE_ATTRIBUTES.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [{ AttributeName: TABLE_KEY, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: FOLDER_INDEX,
          KeySchema: [
            { AttributeName: FOLDER_ATTR, KeyType: 'HASH' },
            { AttributeName: TABLE_KEY, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
}
