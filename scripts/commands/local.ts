/** `nightshift local` and `nightshift local serve`. */
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parsePipelineConfig, type PipelineConfig } from '../../core/config';
import type { S3EventMessage } from '../../core/s3-event';
import { createS3Client } from '../../adapters/s3';
import { createLogger } from '../../adapters/log';
import { uploadHandler, type LaneRecord } from '../../functions/on-upload';
import { LocalUploadQueue } from '../../local/upload-queue';
import { pipelineConfigOf } from '../../infra/config';
import { LOCAL_EMAIL } from '../../local/definition';
import { claimDataDir } from '../../local/data-dir';
import { LOCAL_BUCKETS, runLocal } from '../../local/runner';
import { startEmbeddedS3 } from '../../local/s3-server';
import { dynamoDataDir, type EmbeddedDynamo, startEmbeddedDynamo } from '../../local/dynamodb-server';
import { startApiServer } from '../../local/api-server';
import { createDynamoClient, ImageRecordStore } from '../../adapters/dynamodb';
import type { ImageRecord } from '../../core/records/record';
import { UsageError } from '../../core/validation';
import { checkFlags } from '../lib/flags';
import { projectConfig } from '../lib/project-config';

export async function localCommand(values: Record<string, unknown>, input: Record<string, unknown>): Promise<number> {
  // The deployed configuration (cdk.json, --config, -c), with the local buckets; emails go to the outbox.
  const { buckets: _deployed, ...config } = pipelineConfigOf(
    projectConfig({ file: values.config as string | undefined, overrides: values.context as string[] | undefined, defaults: { notificationEmails: [LOCAL_EMAIL] } }),
    LOCAL_BUCKETS,
  );
  // Validate the input before starting anything: a bad flag fails in a second, with the flag named.
  checkFlags(input, parsePipelineConfig({ ...config, buckets: LOCAL_BUCKETS }));
  const importDir = values.import as string | undefined;
  if (importDir !== undefined && !statSync(importDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`--import: ${JSON.stringify(importDir)} is not a folder: give a folder of images (their keys are the paths relative to it)`);
  }
  const endpoint = (values.endpoint as string | undefined) ?? process.env.AWS_ENDPOINT_URL_S3;
  if (endpoint && !/^https?:\/\/[^/]+/.test(endpoint)) throw new UsageError(`--endpoint must be an http(s) URL such as http://127.0.0.1:9000, received "${endpoint}"`);
  const json = Boolean(values.json);
  // Ctrl-C or kill stops the run as StopExecution does in AWS: its job processes too, no email.
  // `on`, not `once`: Ctrl-C reaches the whole process group and npx/npm pass it on as well, so
  // one press arrives several times; a repeat changes nothing (the first one is being handled),
  // where without a handler it would end the process on the spot, the run left RUNNING.
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) stop.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const result = await runLocal({
    signal: stop.signal,
    dataDir: values['data-dir'] as string | undefined,
    input,
    importDir,
    endpoint,
    config,
    // With --json, stdout carries only the summary's last line for scripts; people read stderr.
    out: json ? (t) => process.stderr.write(t) : undefined,
  });
  if (json) process.stdout.write(`${JSON.stringify({ runId: result.runId, status: result.status, report: result.report ? resolve(result.report) : null, email: result.email ? resolve(result.email) : null, counts: result.counts ?? null, history: result.history })}\n`);
  // The handlers stay until the process exits: a signal that comes while it closes is a repeat too.
  // 128 + the signal's number, as a shell reports a process that a signal stopped; also when the
  // signal came after the run had ended (its summary printed): the user did press Ctrl-C.
  if (stop.signal.aborted) return stop.signal.reason === 'SIGINT' ? 130 : 143;
  return result.status === 'SUCCEEDED' ? 0 : 1;
}

export async function serveCommand(values: Record<string, unknown>): Promise<number> {
  const config = parsePipelineConfig({ ...pipelineConfigOf(projectConfig({ file: values.config as string | undefined, overrides: values.context as string[] | undefined, defaults: { notificationEmails: [LOCAL_EMAIL] } }), LOCAL_BUCKETS), buckets: LOCAL_BUCKETS });
  const onUpload = Boolean(values['on-upload']) || config.onUpload.enabled;
  const port = portOption('--port', values.port);
  const apiPort = portOption('--api-port', values['api-port']);
  const dataDir = resolve((values['data-dir'] as string | undefined) ?? '.nightshift');
  mkdirSync(dataDir, { recursive: true });
  // The serve owns the data while it runs; runs started meanwhile use its servers (local/data-dir.ts).
  const claim = claimDataDir(dataDir, 'serve');
  let servers;
  try {
    servers = await startServers(dataDir, port, apiPort, onUpload ? config : undefined);
  } catch (error) {
    claim.release();
    throw error;
  }
  const { s3, dynamo, api } = servers;
  claim.setEndpoints({ endpoint: s3.endpoint, dynamodb: dynamo.endpoint });
  const info = { endpoint: s3.endpoint, api: api.api, dynamodb: dynamo.endpoint, ...(onUpload ? { uploadLane: uploadLaneJournal(dataDir) } : {}), buckets: { corpus: LOCAL_BUCKETS.corpus, renditions: LOCAL_BUCKETS.renditions, backup: LOCAL_BUCKETS.backup, work: LOCAL_BUCKETS.work } };
  if (values.json) process.stdout.write(`${JSON.stringify(info)}\n`);
  else printServing(info, dynamo.table, api.gallery);
  await new Promise<void>((done) => {
    // As for a run: a repeated or forwarded signal changes nothing while the servers stop (with
    // `once` it would end the process there, the data directory's claim left behind).
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void Promise.allSettled([api.stop(), dynamo.stop(), s3.stop()]).finally(() => (servers.lane?.stop(), claim.release(), done()));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}

function portOption(flag: string, value: unknown): number {
  const port = value === undefined ? 0 : Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`${flag} must be a number from 0 to 65535, received "${String(value)}"`);
  return port;
}

/** Where `serve --on-upload` journals the lane's messages (local/upload-queue.ts). */
export const uploadLaneJournal = (dataDir: string): string => join(dataDir, 'upload-lane.jsonl');

/**
 * The embedded S3 and DynamoDB servers over the data directory, and the image API over the
 * records; all or none. With `lane` (the configuration), the corpus bucket's writes and deletes
 * notify the upload lane's queue, which runs the lane's handler (functions/on-upload.ts).
 */
async function startServers(dataDir: string, port: number, apiPort: number, lane?: PipelineConfig) {
  const queue = lane ? new LocalUploadQueue({ maxConcurrency: lane.onUpload.maxConcurrency, journal: uploadLaneJournal(dataDir) }) : undefined;
  const notify = queue ? { notify: { buckets: [LOCAL_BUCKETS.corpus], send: (m: S3EventMessage) => queue.send(m) } } : {};
  const s3 = await startEmbeddedS3({ port, dataDir: join(dataDir, 's3'), buckets: Object.values(LOCAL_BUCKETS), ...notify });
  let dynamo: EmbeddedDynamo | undefined;
  try {
    dynamo = await startEmbeddedDynamo({ dataDir: dynamoDataDir(dataDir) });
    const client = createDynamoClient({ endpoint: dynamo.endpoint }, {});
    const store = new ImageRecordStore<ImageRecord>(client, dynamo.table);
    const api = await startApiServer({ store, port: apiPort, renditionsBase: `${s3.endpoint}/${LOCAL_BUCKETS.renditions}` }).catch((error: unknown) => {
      client.destroy();
      throw error;
    });
    const laneS3 = lane && createS3Client({ endpoint: s3.endpoint }, {});
    if (queue && lane && laneS3) queue.start(uploadHandler({ s3: laneS3, records: new ImageRecordStore<LaneRecord>(client, dynamo.table), config: lane, log: createLogger({ function: 'on-upload' }, { write: (line) => process.stderr.write(line) }) }));
    return { s3, dynamo, api: { ...api, stop: () => api.stop().finally(() => client.destroy()) }, ...(laneS3 ? { lane: { stop: () => laneS3.destroy() } } : {}) };
  } catch (error) {
    await dynamo?.stop();
    await s3.stop();
    throw error;
  }
}

function printServing(info: { endpoint: string; api: string; dynamodb: string; buckets: Record<string, string> }, table: string, gallery: string): void {
  const out = (text: string) => process.stdout.write(text);
  out(`Embedded S3 server on ${info.endpoint} (Ctrl-C to stop)\n`);
  for (const [role, bucket] of Object.entries(info.buckets)) out(`  ${role.padEnd(11)} s3://${bucket}\n`);
  out(`Image API on ${info.api} (the records of table ${table}, DynamoDB on ${info.dynamodb})\n`);
  out(`Gallery on ${gallery}\n`);
  out(`\nBrowse with any S3 client, e.g.:\n  aws --endpoint-url ${info.endpoint} s3 ls s3://${LOCAL_BUCKETS.renditions}/ --recursive\n  (any access key works; region us-east-1)\n`);
  out(`Read the records, e.g.:\n  curl '${info.api}images?prefix=photos/&limit=10'\n`);
}
