/** Runs the nightshift CLI as a process, the way a user does. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './processes';
import type { RunCounts } from '../../core/report';

const TSX = require.resolve('tsx/cli');

export interface LocalJson {
  runId: string;
  status: string;
  report: string | null;
  email: string | null;
  counts: RunCounts | null;
  history: string[];
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last stdout line, parsed, when it is JSON (`--json`). */
  json: LocalJson;
}

/**
 * The configuration every test runs with unless it gives its own `--config`: the defaults the
 * tests expect, never the project's cdk.json, which is the operator's to edit.
 */
export const TEST_CONFIG = { notificationEmails: ['ops@example.com'], schedule: { cron: 'cron(0 2 * * ? *)' } };
const CONFIGURED = new Set(['local', 'schedule', 'synth']);
let testConfigFile: string | undefined;

/** The arguments with `--config <the test configuration>` added where the command reads one and the test gave none. */
export function withTestConfig(args: readonly string[]): string[] {
  if (!CONFIGURED.has(args[0] ?? '') || args[1] === 'serve' || args.includes('--config')) return [...args];
  if (!testConfigFile) {
    testConfigFile = join(mkdtempSync(join(tmpdir(), 'nightshift-test-config-')), 'cdk.json');
    writeFileSync(testConfigFile, JSON.stringify({ context: { nightshift: TEST_CONFIG } }));
  }
  return [...args, '--config', testConfigFile];
}

/**
 * `closedStdout`: the reader of stdout is gone before the first line (`nightshift … | true`).
 * `root`: another copy of the project to run the CLI of.
 */
export async function runCli(args: readonly string[], options: { cwd: string; env?: Record<string, string>; closedStdout?: boolean; root?: string }): Promise<CliRun> {
  const child = spawn(process.execPath, [TSX, '--disable-warning=ExperimentalWarning', join(options.root ?? ROOT, 'scripts/nightshift.ts'), ...withTestConfig(args)], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (options.closedStdout) child.stdout!.destroy();
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return { code, stdout, stderr, json: (last.startsWith('{') ? JSON.parse(last) : undefined) as LocalJson };
}

export interface ServeInfo {
  endpoint: string;
  api: string;
  dynamodb: string;
  buckets: Record<string, string>;
}

/**
 * `nightshift local serve --json` over a data directory, up: its first line read. Its stderr is
 * kept (never the test runner's terminal), for the error when it exits before that line.
 */
export async function startServe(dataDir: string, cwd: string, extra: readonly string[] = []): Promise<{ child: ChildProcess; info: ServeInfo; stderr: () => string }> {
  const child = spawn(process.execPath, [TSX, '--disable-warning=ExperimentalWarning', join(ROOT, 'scripts/nightshift.ts'), 'local', 'serve', '--json', '--data-dir', dataDir, ...extra], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const line = await Promise.race([
    once(createInterface({ input: child.stdout! }), 'line').then(([l]) => l as string),
    once(child, 'exit').then(([code]) => {
      throw new Error(`nightshift local serve exited with ${code} before its first line: ${stderr}`);
    }),
  ]);
  return { child, info: JSON.parse(line) as ServeInfo, stderr: () => stderr };
}
