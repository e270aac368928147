/**
 * Local run records: `<dataDir>/runs/<runId>.json`, one per `nightshift local` run, written when it
 * starts, at every state it enters and when it ends. `nightshift status --local` reads them
 * without starting anything, so it can show any run: finished, skipped, nothing to do, or
 * interrupted (its record says RUNNING, and its process is gone).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { RunCounts } from '../core/report';
import type { RunLine } from '../core/run-status';

export type LocalRunStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface LocalRunRecord {
  readonly runId: string;
  readonly startedAt: string;
  readonly pid: number;
  readonly host: string;
  readonly status: LocalRunStatus;
  /** The state the run is in, or was in when it ended. */
  readonly state?: string;
  readonly finishedAt?: string;
  /** The email's subject, when one was sent. */
  readonly subject?: string;
  readonly email?: string;
  readonly report?: string;
  /** Why it stopped, for FAILED and ABORTED runs: "SIGTERM", "States.TaskFailed: …". */
  readonly reason?: string;
  /** The execution: it starts after the CLI's start-up (servers, synth, bundle), and is what the run is timed by. */
  readonly execution?: { readonly startedAt: string; readonly finishedAt?: string };
  /** From the run's report, when it has one: the counts, the outcome they give, and the duration the email says. */
  readonly counts?: RunCounts;
  readonly outcome?: string;
  readonly durationMs?: number;
}

/** What a finished run's report says, kept in its record for `status` and `history`. */
export type RunSummary = Required<Pick<LocalRunRecord, 'counts' | 'outcome' | 'durationMs'>>;

const dirOf = (dataDir: string) => join(dataDir, 'runs');

/** Writes a record whole (write then rename: a reader never sees half of one). */
export function writeRunRecord(dataDir: string, record: LocalRunRecord): void {
  mkdirSync(dirOf(dataDir), { recursive: true });
  const path = join(dirOf(dataDir), `${record.runId}.json`);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

export function newRunRecord(runId: string, startedAt: string): LocalRunRecord {
  return { runId, startedAt, pid: process.pid, host: hostname(), status: 'RUNNING' };
}

/** Run ids in the order they started (local run ids sort by time). */
export function runRecordIds(dataDir: string): string[] {
  try {
    return readdirSync(dirOf(dataDir))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export function readRunRecord(dataDir: string, runId: string): LocalRunRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dirOf(dataDir), `${runId}.json`), 'utf8')) as LocalRunRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Whether a process of this host still runs. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A RUNNING record whose process is gone was interrupted (kill -9, a crash, a power cut). */
export function interrupted(record: LocalRunRecord): boolean {
  return record.status === 'RUNNING' && record.host === hostname() && !isAlive(record.pid);
}

/** A record as `status` and `history` show it (core/run-status.ts): the execution's times, the report's counts. */
export function runLineOf(record: LocalRunRecord): RunLine {
  const status = interrupted(record) ? 'INTERRUPTED' : record.status;
  const startedAt = record.execution?.startedAt ?? record.startedAt;
  const finishedAt = record.execution?.finishedAt ?? record.finishedAt ?? null;
  const durationMs = record.durationMs ?? (finishedAt ? Date.parse(finishedAt) - Date.parse(startedAt) : null);
  const reason =
    status === 'INTERRUPTED' ? `its process (pid ${record.pid}) is gone: it was killed or crashed, and sent no email; the next run says so and redoes what it did not finish` : (record.reason ?? null);
  return {
    runId: record.runId,
    where: 'local',
    status,
    outcome: status === 'SUCCEEDED' && record.outcome ? record.outcome : `${status}${record.state && status !== 'SUCCEEDED' ? ` in ${record.state}` : ''}`,
    startedAt,
    finishedAt,
    durationMs,
    ...(record.execution ? { startupMs: Date.parse(record.execution.startedAt) - Date.parse(record.startedAt) } : {}),
    counts: record.counts ?? null,
    subject: record.subject ?? null,
    report: record.report ?? null,
    reason,
  };
}
