/**
 * Runs commands and measures them as the kernel accounts for them: wall time, CPU time (user +
 * system) and the peak RSS of the largest process, from getrusage(RUSAGE_CHILDREN) in a small
 * Python wrapper (Node reports resource usage for itself only). Commands are given as groups:
 * the groups run one after another, the commands of a group at the same time.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { openSync, closeSync } from 'node:fs';

export interface Measured {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly maxRssMb: number;
}

const WRAPPER = `
import json, os, resource, subprocess, sys, time
spec = json.loads(sys.stdin.read())
out = open(spec["log"], "ab")
started = time.monotonic()
for group in spec["groups"]:
    procs = [subprocess.Popen(cmd, env=spec["env"], cwd=spec["cwd"], stdout=out, stderr=out) for cmd in group]
    codes = [p.wait() for p in procs]
    bad = [(cmd[0], code) for cmd, code in zip(group, codes) if code != 0]
    if bad:
        print(json.dumps({"error": "%s exited with %d" % bad[0]}))
        sys.exit(0)
wall = time.monotonic() - started
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wallMs": wall * 1000, "cpuMs": (r.ru_utime + r.ru_stime) * 1000, "maxRssMb": r.ru_maxrss / 1024}))
`;

export interface MeasureOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Where the commands' stdout and stderr go. */
  readonly log: string;
}

export async function measure(groups: readonly (readonly string[])[][], options: MeasureOptions): Promise<Measured> {
  closeSync(openSync(options.log, 'a'));
  const child = spawn('python3', ['-c', WRAPPER], { stdio: ['pipe', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stdin.end(JSON.stringify({ groups, env: options.env, cwd: options.cwd, log: options.log }));
  const [code] = await once(child, 'exit');
  const result = JSON.parse(stdout.trim() || '{}') as Partial<Measured> & { error?: string };
  if (code !== 0 || result.error || result.wallMs === undefined) throw new Error(`${result.error ?? `the measuring wrapper exited with ${code}`}: see ${options.log}`);
  return result as Measured;
}

export const median = (values: readonly number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
