/**
 * Test harness (run with tsx): one local run in which the first attempt of shard 0 of each named
 * job is killed with SIGKILL as soon as it reports progress, i.e. while it is writing. Prints the
 * run's result as JSON on the last line.
 *
 *   tsx test/support/kill-run.ts <s3-endpoint> <data-dir> resize,backup
 */
import { runLocal } from '../../local/runner';

const [endpoint, dataDir, jobs] = process.argv.slice(2);
const victims = new Set((jobs ?? '').split(','));
const killed: string[] = [];
runLocal({
  endpoint,
  dataDir,
  out: (t) => process.stderr.write(t),
  onSpawn: (child, job, index, attempt) => {
    if (!victims.has(job) || index !== 0 || attempt !== 1) return;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (!killed.includes(job) && chunk.toString().includes('"msg":"progress"')) {
        killed.push(job);
        child.kill('SIGKILL');
      }
    });
  },
}).then(
  (result) => process.stdout.write(`${JSON.stringify({ ...result, killed })}\n`),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exitCode = 1;
  },
);
