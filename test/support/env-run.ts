/**
 * Test harness (run with tsx): one local run of a folder, printing on its last line the run's
 * status and, for each job process, its job and its environment as the kernel gave it to the
 * process (/proc/<pid>/environ, Linux; libuv returns from spawn once the child has exec'd).
 *
 *   tsx test/support/env-run.ts <data-dir> <import-dir>
 */
import { readFileSync } from 'node:fs';
import { runLocal } from '../../local/runner';

const [dataDir, importDir] = process.argv.slice(2);
const environOf = (pid: number): Record<string, string> =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
const jobs: { job: string; env: Record<string, string> }[] = [];
runLocal({ dataDir, importDir, out: (t) => process.stderr.write(t), tty: false, onSpawn: (child, job) => jobs.push({ job, env: environOf(child.pid!) }) }).then(
  (result) => process.stdout.write(`${JSON.stringify({ status: result.status, jobs })}\n`),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exitCode = 1;
  },
);
