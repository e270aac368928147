/**
 * Runs that end without their email: a `nightshift local` killed with SIGKILL mid-work, one
 * stopped with SIGTERM through `npx nightshift` (scripts/bin.js), and Ctrl-C pressed once or
 * several times, as a terminal delivers it: SIGINT to every process of the foreground process
 * group (the bin script, the CLI, the job children), which the bin script passes on once more. The
 * next run says, once, that the run before it was interrupted and where; `nightshift status
 * --local` shows every run, whatever its outcome; a stopped CLI leaves no job process behind.
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

/** Starts `npx nightshift local` as a user does (scripts/bin.js → node --import tsx → the CLI). */
function startLocal(extra: string[] = []): ChildProcess {
  return spawn(process.execPath, [join(ROOT, 'scripts/bin.js'), 'local', '--data-dir', data, ...extra], { cwd: tmp, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: 'ignore' });
}

/** Waits until the newest run record shows the run in Backup or Resize, and returns the record. */
async function untilWorking(known: number, dir = data) {
  for (let i = 0; i < 1200; i++) {
    const ids = runRecordIds(dir);
    const record = ids.length > known ? readRunRecord(dir, ids.at(-1)!) : undefined;
    if (record && (record.state === 'Backup' || record.state === 'Resize')) return record;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the run never reached its work');
}

/** Job processes (dist/local/jobs.js) started for this test's data directory. */
function jobProcesses(dir = data): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('jobs.js')) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').includes(dir)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The command lines of the processes still in a process group, once it has had a few seconds to empty. */
async function groupMembersAfterwards(pgid: number): Promise<string[]> {
  const members = () => {
    const found: string[] = [];
    for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        // /proc/<pid>/stat: pid (comm) state ppid pgrp …; comm may hold spaces, so read after the last ')'.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) found.push(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim());
      } catch {
        // gone meanwhile
      }
    }
    return found;
  };
  for (let i = 0; i < 100 && members().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return members();
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

describe('Ctrl-C, pressed once or several times, at random moments of a run', () => {
  // Its own data directory: each trial is a full, forced run of the sample corpus (every image is work).
  let dir: string;
  const STOPPED = /^Run (local-\S+) stopped by Ctrl-C \(SIGINT\) in (\S+): (kept what its jobs finished \(.+\)|no image work had started, nothing to keep); no email was sent\. The next run resumes it: nightshift local redoes only what this one did not finish\.$/;
  const seen: { presses: number; moment: string; state: string }[] = [];

  beforeAll(() => {
    dir = join(tmp, 'ctrl-c', '.nightshift');
  });

  /**
   * `npx nightshift local --full --force` in a process group of its own, as a shell's foreground
   * job; `presses` SIGINTs to the whole group once `moment` has come, a random pause apart.
   */
  async function pressCtrlC(presses: number, moment: string, when: (stderr: string) => boolean | Promise<boolean>) {
    const before = runRecordIds(dir).length;
    const child = spawn(process.execPath, [join(ROOT, 'scripts/bin.js'), 'local', '--data-dir', dir, '--full', '--force'], { cwd: tmp, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const record = await untilWorking(before, dir);
    expect(jobProcesses(dir).length).toBeGreaterThan(0); // images in flight, in job children
    for (let i = 0; i < 6000 && !(await when(stderr)); i++) await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < presses; i++) {
      try {
        process.kill(-child.pid!, 'SIGINT');
      } catch (error) {
        // A later press after the run has already stopped and exited: the terminal has nobody to signal.
        if (i === 0 || (error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
      await new Promise((r) => setTimeout(r, Math.random() * 150));
    }
    const [code] = await exited;
    const lines = `${stdout}\n${stderr}`.split('\n').filter((l) => /stopped|killed|Killed|Error|FAILED/.test(l));
    // Nothing of the run outlives it: no job child, no process of its group.
    expect(jobProcesses(dir)).toEqual([]);
    // (A helper that ends with its parent, as esbuild's service process does once its stdin closes, may take a moment.)
    expect(await groupMembersAfterwards(child.pid!)).toEqual([]);
    const after = readRunRecord(dir, record.runId)!;
    seen.push({ presses, moment, state: String(after.state) });
    expect({ moment, presses, code, lines, status: after.status, reason: after.reason }).toEqual({ moment, presses, code: 130, lines: [expect.stringMatching(STOPPED)], status: 'ABORTED', reason: 'SIGINT' });
    expect(lines[0]!.match(STOPPED)![1]).toBe(record.runId);
    expect(readdirSync(join(dir, 'outbox')).filter((f) => f.startsWith(record.runId))).toEqual([]);
  }

  const pause = (ms: number) => {
    const until = Date.now() + ms;
    return () => Date.now() >= until;
  };

  it.each([1, 2, 3])('%i press(es) at a random moment of the work: exit 130, one line, the run ABORTED, no child left', async (presses) => {
    await pressCtrlC(presses, 'random', pause(Math.random() * 3000));
  }, 300_000);

  it.each([2, 3])('%i presses as the last job finishes (near the end): the same', async (presses) => {
    // The progress display's line for a job that is done; the other job may still run, or Aggregate.
    await pressCtrlC(presses, 'a job done', (stderr) => /^(backup|resize) +done in /m.test(stderr));
  }, 300_000);

  it('the next run resumes and completes, and names the run Ctrl-C stopped', async () => {
    expect(seen.length).toBeGreaterThan(0);
    const next = await runCli(['local', '--json', '--data-dir', dir], { cwd: tmp });
    expect({ code: next.code, status: next.json?.status }).toEqual({ code: 0, status: 'SUCCEEDED' });
    const last = runRecordIds(dir).at(-2)!;
    expect(await readEml(readFileSync(join(dir, 'outbox', `${next.json.runId}.eml`), 'utf8')).then((e) => e.text)).toContain(`Previous run: Run ${last} (started`);
  }, 300_000);
});
