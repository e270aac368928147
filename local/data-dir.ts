/**
 * One process owns a data directory's S3 and DynamoDB data at a time: the embedded S3 server
 * keeps its objects in SQLite with an in-memory view of them, so two processes opening the same
 * files would each serve their own, stale, view; the embedded DynamoDB server's LevelDB admits
 * one process. The owner claims `<dataDir>/s3.lock`: a run for its duration, or
 * `nightshift local serve` for as long as it serves, with its endpoints, so that a run started
 * meanwhile uses the serve's servers instead of opening the files itself.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from './run-records';

export interface DataDirOwner {
  readonly pid: number;
  readonly role: 'run' | 'serve';
  /** The serve's S3 endpoint, once it listens. */
  readonly endpoint?: string;
  /** The serve's DynamoDB endpoint (the image records), once it listens. */
  readonly dynamodb?: string;
}

const lockOf = (dataDir: string) => join(dataDir, 's3.lock');

/** The live process that owns the directory, if any (a lock left by a dead one does not count). */
export function dataDirOwner(dataDir: string): DataDirOwner | undefined {
  let text: string;
  try {
    text = readFileSync(lockOf(dataDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // Locks of earlier versions hold the pid alone: a run's.
  const owner: DataDirOwner = /^\d+$/.test(text.trim()) ? { pid: Number(text), role: 'run' } : (JSON.parse(text) as DataDirOwner);
  return isAlive(owner.pid) ? owner : undefined;
}

export interface DataDirClaim {
  /** Records the serve's endpoints for runs that start while it serves. */
  setEndpoints(endpoints: { readonly endpoint: string; readonly dynamodb: string }): void;
  release(): void;
}

/** Claims the directory for this process, or says which live process owns it and what to do. */
export function claimDataDir(dataDir: string, role: DataDirOwner['role']): DataDirClaim {
  const lock = lockOf(dataDir);
  const write = (owner: DataDirOwner, flag: 'wx' | 'w') => writeFileSync(lock, JSON.stringify(owner), { flag });
  for (let tries = 0; tries < 2; tries++) {
    try {
      write({ pid: process.pid, role }, 'wx');
      return { setEndpoints: (endpoints) => write({ pid: process.pid, role, ...endpoints }, 'w'), release: () => rmSync(lock, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = dataDirOwner(dataDir);
      if (owner?.role === 'serve') throw new Error(`nightshift local serve (pid ${owner.pid}) is serving ${dataDir}${owner.endpoint ? ` on ${owner.endpoint}` : ''}: runs started now use it; stop it (Ctrl-C) before serving again`);
      if (owner) throw new Error(`another local run (pid ${owner.pid}) is using ${dataDir}: wait for it to end, or run this one against a shared --endpoint (each with its own --data-dir)`);
      rmSync(lock, { force: true }); // left by a process that died
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}
