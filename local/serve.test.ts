/**
 * `npm run s3` (local/serve.ts) on a port that is taken: one line naming the port and `--port`,
 * exit 2 (a usage error: a retry fails the same way), not an unhandled 'error' event's stack.
 * (`nightshift local serve --port N` gets the same line from startEmbeddedS3.)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

async function serve(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), join(ROOT, 'local/serve.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}

it('on a port in use: one line naming the port and --port, exit 2', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const { port } = taken.address() as AddressInfo;
  try {
    const run = await serve(['--port', String(port)]);
    expect({ code: run.code, stdout: run.stdout, stderr: run.stderr }).toEqual({
      code: 2,
      stdout: '',
      stderr: `embedded S3 server failed to start: --port ${port}: 127.0.0.1:${port} is already in use (another server listens there): pass another port with --port N, or --port 0 for any free one.\n`,
    });
  } finally {
    taken.close();
  }
});

it('on a port that is no port: one line naming --port, exit 2', async () => {
  const run = await serve(['--port', 'http']);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 2, stderr: 'embedded S3 server failed to start: --port must be a whole number from 0 to 65535 (0: any free port), received "http"\n' });
});
