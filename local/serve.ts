/**
 * Runs the embedded S3 server in the foreground until SIGINT/SIGTERM. The first line on stdout is
 * JSON: `{"endpoint": "http://127.0.0.1:N"}`; everything after it is for people.
 *
 *   tsx local/serve.ts [--port N] [--data-dir DIR] [--bucket NAME]... [--topic NAME]...
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../core/validation';
import { startEmbeddedS3 } from './s3-server';

async function serve(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'data-dir': { type: 'string' },
      bucket: { type: 'string', multiple: true, default: [] },
      topic: { type: 'string', multiple: true, default: [] },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535 (0: any free port), received ${JSON.stringify(values.port)}`);
  const server = await startEmbeddedS3({ port, dataDir: values['data-dir'], buckets: values.bucket, topics: values.topic });
  process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint, topics: Object.fromEntries(values.topic.map((t) => [t, server.topicArn(t)])) })}\n`);
  const shutdown = () => void server.stop().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

serve().catch((error: unknown) => {
  process.stderr.write(`embedded S3 server failed to start: ${(error as Error).message}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
