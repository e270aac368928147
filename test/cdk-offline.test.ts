/**
 * `cdk synth` and `cdk deploy` talk to AWS and nothing else. The CDK CLI fetches its notices from
 * the CDK team's web site before every command unless told not to; the project tells it twice: the
 * npm scripts pass `--no-notices`, and cdk.json's `"notices": false` (a CLI setting read from the
 * project configuration, aws-cdk README "cdk notices": "disable all notices indefinitely through
 * context in cdk.json") covers a bare `npx cdk deploy`. On a terminal it also asks
 * registry.npmjs.org, once a day, for its latest version; only an environment variable turns that
 * off (CDK_DISABLE_VERSION_CHECK, aws-cdk README "Environment variables"), which the npm scripts
 * load from cdk.env. The terminal test runs the CLI under script(1) with a recording proxy on
 * loopback as its HTTPS_PROXY: every request the CLI would send out reaches 127.0.0.1 and ends there.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/processes';

const read = (file: string) => JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Record<string, unknown>;

const scripts = read('package.json').scripts as Record<string, string>;
/** The npm scripts that run the CDK CLI, by name (`cdk` on the PATH, or its bin by path). */
const cdkScripts = Object.entries(scripts).filter(([, command]) => /(^|[\s;&|/])cdk(\s|$)/.test(command));

it('every npm script that runs the CDK CLI passes --no-notices, and loads cdk.env', () => {
  expect(cdkScripts.map(([name]) => name)).toEqual(expect.arrayContaining(['cdk', 'synth', 'deploy']));
  expect(cdkScripts.filter(([name, command]) => name !== 'cdk' && !/\s--no-notices(\s|$)/.test(command))).toEqual([]);
  expect(cdkScripts.filter(([, command]) => !command.startsWith('node --env-file=cdk.env '))).toEqual([]);
  expect(readFileSync(join(ROOT, 'cdk.env'), 'utf8')).toMatch(/^CDK_DISABLE_VERSION_CHECK=1$/m);
});

it('cdk.json turns notices off for any cdk command', () => {
  // A top-level key: the CLI merges cdk.json's top level into its settings (aws-cdk
  // lib/cli/user-configuration.js, loadConfigFiles) and reads settings.get(['notices']) (lib/cli/cli.js).
  expect(read('cdk.json').notices).toBe(false);
});

/**
 * Runs a command on a terminal (script(1) gives it one) with HTTPS_PROXY and HTTP_PROXY set to a
 * proxy on 127.0.0.1 that answers 403 to everything, and returns what reached the proxy.
 * HOME is a fresh folder: no cached version check. Telemetry (sent to AWS) is off here, so that
 * nothing but this proxy is even tried.
 */
async function requestsOnTerminal(command: string): Promise<{ code: number | null; output: string; requests: string[] }> {
  const requests: string[] = [];
  const proxy = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(403).end();
  });
  proxy.on('connect', (req, socket) => {
    requests.push(`CONNECT ${req.url}`);
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const home = mkdtempSync(join(tmpdir(), 'nightshift-cdk-home-'));
  try {
    const env = { PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH}`, HOME: home, TERM: 'xterm', HTTPS_PROXY: url, HTTP_PROXY: url, CDK_DISABLE_CLI_TELEMETRY: 'true' };
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, output, requests };
  } finally {
    proxy.close();
    rmSync(home, { recursive: true, force: true });
  }
}

const onLinux = process.platform === 'linux' && existsSync('/usr/bin/script') ? describe : describe.skip;
onLinux('on a terminal', () => {
  it('the CLI as the npm scripts run it sends nothing anywhere', async () => {
    const run = await requestsOnTerminal(`${scripts.cdk} version`);
    expect({ code: run.code, output: run.output.replace(/\x1b\[[0-9;]*m/g, '').trim(), requests: run.requests }).toEqual({ code: 0, output: expect.stringMatching(/^2\.\d+\.\d+ \(build \w+\)$/), requests: [] });
  });

  it('the bare CLI asks registry.npmjs.org (why cdk.env exists; if this fails, the CLI no longer does, and cdk.env can go)', async () => {
    const run = await requestsOnTerminal('node_modules/aws-cdk/bin/cdk version');
    expect(run.code).toBe(0);
    expect(run.requests).toContain('CONNECT registry.npmjs.org:443');
  });
});
