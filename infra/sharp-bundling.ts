/**
 * sharp in a Lambda function's bundle, offline and without Docker. sharp is a native module: its
 * JavaScript loads `@img/sharp-<platform>-<arch>` (the binding) and `@img/sharp-libvips-…` (libvips),
 * which npm installs for the machine running `npm ci` only (optional dependencies with `os`/`cpu`
 * fields). esbuild cannot bundle them, so, as sharp's documentation says for AWS Lambda ("Installation",
 * AWS Lambda and bundling: keep sharp external, ship node_modules with binaries for linux-x64 or
 * linux-arm64), the function's bundle leaves sharp (and heic-decode, as the job image does) outside
 * and its afterBundling hook copies them, with their dependencies and the target's binaries, from
 * the project's node_modules at the versions package-lock.json pins.
 *
 * NodejsFunction's own `nodeModules` option would run `npm install` in the bundle: the registry at
 * every synth. Copying needs nothing but the files `npm ci` put there: the linux binaries of the
 * function's architecture are there after `npm ci` on a linux machine of that architecture (a CI
 * runner, CloudShell). Elsewhere they are not, and synth says so in one line with the way out:
 * `npm install --no-save --force <the two packages>` adds them beside the machine's own (tried with
 * npm 11: `--force` passes npm's platform check; `--cpu=arm64 --os=linux` instead would replace the
 * machine's own binaries, and the local lane and tests need those).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CpuArchitecture } from '../core/cost';
import { UsageError } from '../core/validation';

/** Packages the upload function's bundle leaves external, as the job bundle does (jobs/build.ts). */
export const NATIVE_EXTERNALS = ['sharp', 'heic-decode'] as const;

/** Lambda's CPU names in npm's `cpu` terms. Lambda's Node.js 24 runtime is Amazon Linux 2023, glibc. */
const NPM_CPU: Record<CpuArchitecture, string> = { x86_64: 'x64', arm64: 'arm64' };

interface LockEntry {
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

/** `roots` and their (non-optional) dependencies, as package-lock.json pins them: node_modules/<name> paths. */
function dependencyClosure(packages: Record<string, LockEntry>, roots: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    const path = `node_modules/${name}`;
    if (seen.has(path)) return;
    const entry = packages[path];
    if (!entry) throw new Error(`${name} is needed by the upload function's bundle but not in package-lock.json at the top level`);
    seen.add(path);
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(dep);
  };
  roots.forEach(visit);
  return [...seen];
}

/**
 * The node_modules folders (relative to `root`) the function needs at run time on `architecture`:
 * the externals' closure and sharp's linux binaries for it, each checked on disk at the locked
 * version. Throws a UsageError naming compute.architecture when the binaries are not installed.
 */
export function nativeModuleDirs(architecture: CpuArchitecture, root: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const cpu = NPM_CPU[architecture];
  const pins = lock.packages['node_modules/sharp']?.optionalDependencies ?? {};
  const binaries = [`@img/sharp-linux-${cpu}`, `@img/sharp-libvips-linux-${cpu}`];
  const missing = binaries.filter((name) => installedVersion(root, name) !== pins[name]);
  if (missing.length > 0) {
    const wanted = binaries.map((name) => `${name}@${pins[name]}`).join(' ');
    throw new UsageError(
      `compute.architecture: "${architecture}": the upload lane's function needs sharp's linux-${cpu} binaries (${wanted}), which npm ci installs on a linux-${cpu} machine only; run synth on one (a CI runner, CloudShell), or add them beside this machine's (again after each npm ci) with: npm install --no-save --force ${wanted}`,
    );
  }
  const dirs = [...dependencyClosure(lock.packages, NATIVE_EXTERNALS), ...binaries.map((name) => `node_modules/${name}`)];
  const absent = dirs.filter((dir) => !existsSync(join(root, dir, 'package.json')));
  if (absent.length > 0) throw new UsageError(`${absent.join(', ')}: not installed; run npm ci first`);
  return dirs;
}

function installedVersion(root: string, name: string): string | undefined {
  const manifest = join(root, 'node_modules', name, 'package.json');
  return existsSync(manifest) ? (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version : undefined;
}

/** The shell commands (NodejsFunction's afterBundling hook, run with bash) that copy `dirs` from `root` into the bundle. */
export function copyIntoBundle(dirs: readonly string[], root: string, outputDir: string): string[] {
  const quote = (path: string) => `'${path.replace(/'/g, "'\\''")}'`;
  return dirs.map((dir) => `mkdir -p ${quote(join(outputDir, dir, '..'))} && cp -R ${quote(join(root, dir))} ${quote(join(outputDir, dir))}`);
}
