/** Runs the nightshift CLI as a process, the way a user does. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
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

/** `closedStdout`: the reader of stdout is gone before the first line (`nightshift … | true`). */
export async function runCli(args: readonly string[], options: { cwd: string; env?: Record<string, string>; closedStdout?: boolean }): Promise<CliRun> {
  const child = spawn(process.execPath, [TSX, '--disable-warning=ExperimentalWarning', join(ROOT, 'scripts/nightshift.ts'), ...args], {
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
