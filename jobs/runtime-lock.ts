/**
 * The job image's runtime dependencies: only the packages the bundle leaves external
 * (jobs/build.ts, JOB_BUNDLE_OPTIONS.external: sharp and heic-decode) and what they need, at the
 * versions package-lock.json pins. Writes a package.json and a package-lock.json that hold just
 * that closure, so the runtime stage's `npm ci` installs ~29 MB instead of every production
 * dependency (~57 MB), all of them already inside the bundle. Platform packages (sharp's @img/*
 * binaries) stay in the lock as optional dependencies: `npm ci` on the target platform picks its own.
 *
 *   tsx jobs/runtime-lock.ts <outdir>     (jobs/Dockerfile's build stage)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JOB_BUNDLE_OPTIONS } from './build';

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  dev?: boolean;
  [field: string]: unknown;
}
interface Lock {
  name: string;
  version: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

/** Where npm would find `name` from the package at `from` (a lock path): its own node_modules, then each parent's. */
function resolveIn(packages: Lock['packages'], from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/** The lock paths of `roots` and everything they depend on (optional ones included, when locked). */
export function closure(lock: Lock, roots: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const entry = lock.packages[path]!;
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies })) {
      const found = resolveIn(lock.packages, path, name);
      if (found) visit(found);
    }
  };
  for (const root of roots) {
    const path = `node_modules/${root}`;
    if (!lock.packages[path]) throw new Error(`${root} is external to the job bundle but not in package-lock.json: add it to dependencies`);
    visit(path);
  }
  return [...seen].sort();
}

/** package.json and package-lock.json for the runtime stage: the external packages and their closure. */
export function runtimeManifests(pkg: { name: string; version: string; dependencies: Record<string, string> }, lock: Lock, externals: readonly string[]) {
  const dependencies = Object.fromEntries(externals.map((name) => [name, pkg.dependencies[name] ?? lock.packages[`node_modules/${name}`]?.version ?? '*']));
  const runtimePkg = { name: `${pkg.name}-job-runtime`, version: pkg.version, private: true, dependencies };
  const packages: Lock['packages'] = { '': { name: runtimePkg.name, version: pkg.version, dependencies } };
  for (const path of closure(lock, externals)) packages[path] = lock.packages[path]!;
  return { packageJson: runtimePkg, packageLock: { name: runtimePkg.name, version: pkg.version, lockfileVersion: lock.lockfileVersion, requires: true, packages } };
}

if (require.main === module) {
  const root = join(__dirname, '..');
  const outdir = process.argv[2] ?? join(root, 'dist', 'runtime');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lock;
  const { packageJson, packageLock } = runtimeManifests(pkg, lock, (JOB_BUNDLE_OPTIONS.external ?? []) as string[]);
  mkdirSync(outdir, { recursive: true });
  writeFileSync(join(outdir, 'package.json'), `${JSON.stringify(packageJson, null, 2)}\n`);
  writeFileSync(join(outdir, 'package-lock.json'), `${JSON.stringify(packageLock, null, 2)}\n`);
}
