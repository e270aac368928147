/** `nightshift local` and `nightshift local serve`. */
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parsePipelineConfig } from '../../core/config';
import { pipelineConfigOf } from '../../infra/config';
import { LOCAL_EMAIL } from '../../local/definition';
import { claimDataDir } from '../../local/data-dir';
import { LOCAL_BUCKETS, runLocal } from '../../local/runner';
import { startEmbeddedS3 } from '../../local/s3-server';
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
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => stop.abort(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
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
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  // 128 + the signal's number, as a shell reports a process that a signal stopped.
  if (result.status === 'ABORTED') return stop.signal.reason === 'SIGINT' ? 130 : 143;
  return result.status === 'SUCCEEDED' ? 0 : 1;
}

export async function serveCommand(values: Record<string, unknown>): Promise<number> {
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a number from 0 to 65535, received "${String(values.port)}"`);
  const dataDir = resolve((values['data-dir'] as string | undefined) ?? '.nightshift');
  mkdirSync(dataDir, { recursive: true });
  // The serve owns the data while it runs; runs started meanwhile use its endpoint (local/data-dir.ts).
  const claim = claimDataDir(dataDir, 'serve');
  let server;
  try {
    server = await startEmbeddedS3({ port, dataDir: join(dataDir, 's3'), buckets: Object.values(LOCAL_BUCKETS) });
  } catch (error) {
    claim.release();
    throw error;
  }
  claim.setEndpoint(server.endpoint);
  const info = { endpoint: server.endpoint, buckets: { corpus: LOCAL_BUCKETS.corpus, renditions: LOCAL_BUCKETS.renditions, backup: LOCAL_BUCKETS.backup, work: LOCAL_BUCKETS.work } };
  if (values.json) process.stdout.write(`${JSON.stringify(info)}\n`);
  else {
    process.stdout.write(`Embedded S3 server on ${server.endpoint} (Ctrl-C to stop)\n`);
    for (const [role, bucket] of Object.entries(info.buckets)) process.stdout.write(`  ${role.padEnd(11)} s3://${bucket}\n`);
    process.stdout.write(`\nBrowse with any S3 client, e.g.:\n  aws --endpoint-url ${server.endpoint} s3 ls s3://${LOCAL_BUCKETS.renditions}/ --recursive\n  (any access key works; region us-east-1)\n`);
  }
  await new Promise<void>((done) => {
    const stop = () => void server.stop().finally(() => (claim.release(), done()));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
