/**
 * Runs that end without their email: a `nightshift local` killed with SIGKILL mid-work, and one
 * stopped with SIGTERM through `npx nightshift` (scripts/bin.js). The next run says, once, that
 * the run before it was interrupted and where; `nightshift status --local` shows every run,
 * whatever its outcome; a stopped CLI leaves no job process behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readEml } from './support/eml';
import type { Report } from '../core/report';
import { readRunRecord, runRecordIds } from '../local/run-records';
import { runCli } from './support/cli';
import { ROOT } from './support/processes';

let tmp: string;
let data: string;
const cli = (args: string[]) => runCli([...args, '--data-dir', data], { cwd: tmp });

/** Starts `npx nightshift local` as a user does (scripts/bin.js → tsx → the CLI). */
function startLocal(extra: string[] = []): ChildProcess {
  return spawn(process.execPath, [join(ROOT, 'scripts/bin.js'), 'local', '--data-dir', data, ...extra], { cwd: tmp, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: 'ignore' });
}

/** Waits until the newest run record shows the run in Backup or Resize, and returns the record. */
async function untilWorking(known: number) {
  for (let i = 0; i < 1200; i++) {
    const ids = runRecordIds(data);
    const record = ids.length > known ? readRunRecord(data, ids.at(-1)!) : undefined;
    if (record && (record.state === 'Backup' || record.state === 'Resize')) return record;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the run never reached its work');
}

/** Job processes (dist/local/jobs.js) started for this test's data directory. */
function jobProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('jobs.js')) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').includes(data)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function untilNoJobProcesses(): Promise<void> {
  for (let i = 0; i < 600 && jobProcesses().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
}

const emailOf = async (runId: string) => (await readEml(readFileSync(join(data, 'outbox', `${runId}.eml`), 'utf8'))).text;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-interrupted-'));
  data = join(tmp, '.nightshift');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a run killed with SIGKILL in the middle of its work', () => {
  let killed: string;
  let next: Awaited<ReturnType<typeof cli>>;

  beforeAll(async () => {
    const child = startLocal();
    const record = await untilWorking(0);
    killed = record.runId;
    process.kill(record.pid, 'SIGKILL'); // the CLI process itself: nothing of it runs afterwards
    child.kill('SIGKILL');
    await untilNoJobProcesses(); // as in AWS, a job that was running finishes its shard
    next = await cli(['local', '--json']);
  }, 300_000);

  it('is shown as interrupted, with its state, by status --local', async () => {
    const status = await cli(['status', killed, '--local']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^${killed}  INTERRUPTED in (Backup|Resize)  started `));
    expect(status.stdout).toContain('it was killed or crashed, and sent no email');
  });

  it('is named by the next run, in its email and its report, with the state it reached', async () => {
    expect(next.code).toBe(0);
    const text = await emailOf(next.json.runId);
    expect(text.split('\n')[2]).toMatch(new RegExp(`^Previous run: Run ${killed} \\(started .* UTC\\) was interrupted in Backup and Resize \\(\\d+ objects with work due; backup \\d of \\d shards, resize \\d of \\d shards\\) and sent no email`));
    const report = JSON.parse(readFileSync(join(data, 'reports', next.json.runId, 'report.json'), 'utf8')) as Report;
    expect(report.interrupted).toMatchObject({ runId: killed, stoppedIn: 'Work' });
    expect(readFileSync(join(data, 'reports', next.json.runId, 'report.html'), 'utf8')).toContain(`<b>Previous run:</b> Run ${killed}`);
  });

  it('is named once: the run after the next one says nothing of it', async () => {
    const third = await cli(['local', '--json']);
    expect(third.code).toBe(0);
    expect(await emailOf(third.json.runId)).not.toContain('Previous run');
  });

  it('status --local shows the latest run whatever its outcome (nothing to do included)', async () => {
    const latest = await cli(['status', 'latest', '--local']);
    const newest = runRecordIds(data).at(-1)!;
    expect(latest.code).toBe(0);
    expect(latest.stdout).toMatch(new RegExp(`^${newest}  NOTHING TO DO  started .*\\n  nothing to do\\n  Email: nightshift: nothing to do\\n`));
  });

  it('an unknown run id is a usage error', async () => {
    const unknown = await cli(['status', 'local-20200101T000000Z-0000', '--local']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^nightshift: no local run "local-20200101T000000Z-0000" in .*: give a run id such as local-\S+ \(the latest\), or "latest"\n$/);
  });
});

describe('npx nightshift local stopped with SIGTERM', () => {
  it('stops its job processes, exits 143 without an email, and the next run names it', async () => {
    const before = runRecordIds(data).length;
    const child = startLocal(['--full', '--force']); // everything is current by now: rewrite it
    const record = await untilWorking(before);
    expect(jobProcesses().length).toBeGreaterThan(0);
    child.kill('SIGTERM'); // the bin script, as `kill <pid>` of npx nightshift does
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(143);
    expect(jobProcesses()).toEqual([]);
    expect(readRunRecord(data, record.runId)).toMatchObject({ status: 'ABORTED', reason: 'SIGTERM' });
    expect(readdirSync(join(data, 'outbox')).filter((f) => f.startsWith(record.runId))).toEqual([]);
    const next = await cli(['local', '--json']);
    expect(await emailOf(next.json.runId)).toContain(`Previous run: Run ${record.runId} (started`);
  }, 300_000);
});
