/**
 * A local run keeps the image records in its own embedded DynamoDB server, on the data
 * directory's `dynamodb/`, and tells the jobs where: each job process gets the endpoint and the
 * table in the environment AWS Batch would give it (AWS_ENDPOINT_URL_DYNAMODB, NIGHTSHIFT_IMAGES_TABLE).
 * The environment is read from /proc, as the kernel gave it to the process (test/support/env-run.ts).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../adapters/dynamodb';
import { IMAGES_TABLE_ENV, IMAGES_TABLE_NAME } from '../core/records/table';
import { startEmbeddedDynamo } from '../local/dynamodb-server';
import { photoJpeg } from '../local/sample/images';
import { ROOT } from './support/processes';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'nightshift-records-env-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const onLinux = process.platform === 'linux' ? it : it.skip;

onLinux('gives every job the run\'s DynamoDB endpoint and table, and keeps the table under <data-dir>/dynamodb', async () => {
  mkdirSync(join(dir, 'images', 'photos'), { recursive: true });
  writeFileSync(join(dir, 'images', 'photos', 'one.jpg'), await photoJpeg(64, 48, 1));
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), '--disable-warning=ExperimentalWarning', join(ROOT, 'test/support/env-run.ts'), join(dir, '.nightshift'), join(dir, 'images')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  const { status, jobs: seen } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { status: string; jobs: { job: string; env: Record<string, string> }[] };
  expect(status).toBe('SUCCEEDED');
  expect(new Set(seen.map((s) => s.job))).toEqual(new Set(['catalog', 'backup', 'resize']));
  const endpoints = new Set(seen.map((s) => s.env.AWS_ENDPOINT_URL_DYNAMODB));
  expect(endpoints.size).toBe(1);
  expect([...endpoints][0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  for (const { env } of seen) expect(env[IMAGES_TABLE_ENV]).toBe(IMAGES_TABLE_NAME);
  // The run's server has stopped; its data stays, with the table, for the next run or a serve.
  const again = await startEmbeddedDynamo({ dataDir: join(dir, '.nightshift', 'dynamodb') });
  const client = createDynamoClient({ endpoint: again.endpoint, maxAttempts: 1 }, {});
  try {
    expect((await client.send(new DescribeTableCommand({ TableName: IMAGES_TABLE_NAME }))).Table?.TableName).toBe(IMAGES_TABLE_NAME);
  } finally {
    client.destroy();
    await again.stop();
  }
}, 300_000);
