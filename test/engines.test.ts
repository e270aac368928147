/**
 * Which Node runs what. `npm ci` runs on the machine's Node (a fresh machine has Node 20) and warns
 * EBADENGINE for every package whose "engines" that Node does not satisfy, the project's own
 * included; after it, every npm script runs on the Node 24 of the `node` devDependency
 * (node_modules/.bin comes first on a script's PATH). The two packages that need Node 22 or newer
 * live in local/embedded/, which the project's postinstall installs with that Node 24. Read offline
 * from package.json and the lock files; the install itself is checked by .ci/run on a fresh clone.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/processes';

// semver is npm's own range logic, installed here through jest and others (no types of its own).
const semver = require('semver') as { satisfies(version: string, range: string, options?: { includePrerelease?: boolean }): boolean; minVersion(range: string): { version: string } | null };

interface LockedPackage {
  readonly version?: string;
  readonly engines?: { readonly node?: string };
  readonly optional?: boolean;
  readonly hasInstallScript?: boolean;
}
interface Manifest {
  readonly engines: { readonly node: string };
  readonly scripts?: Record<string, string>;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
  readonly allowScripts: Record<string, boolean>;
}
const readJson = <T>(path: string): T => JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as T;
const pkg = readJson<Manifest>('package.json');
const lock = readJson<{ packages: Record<string, LockedPackage> }>('package-lock.json');
const embeddedPkg = readJson<Manifest>('local/embedded/package.json');
const embeddedLock = readJson<{ packages: Record<string, LockedPackage> }>('local/embedded/package-lock.json');
/** The packages npm installs (and checks) from a lock file: not the project itself, not optional ones it may skip. */
const installed = (packages: Record<string, LockedPackage>) => Object.entries(packages).filter(([path, p]) => path !== '' && !p.optional);
const packages = installed(lock.packages);
const nameOf = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
/** The oldest Node the project says its install runs on. */
const installNode = semver.minVersion(pkg.engines.node)!.version;
const accepts = (range: string | undefined, version: string) => range === undefined || semver.satisfies(version, range, { includePrerelease: true });

it('the install runs on the Node 20 of a fresh machine: the project asks for no newer Node than that', () => {
  expect({ engines: pkg.engines.node, node20: accepts(pkg.engines.node, '20.20.0') }).toEqual({ engines: pkg.engines.node, node20: true });
});

it('the scripts that run during the install accept the install\'s Node', () => {
  const scripts = packages.filter(([path, p]) => p.hasInstallScript && pkg.allowScripts[nameOf(path)]);
  expect(scripts.length).toBeGreaterThan(0);
  expect(scripts.filter(([, p]) => !accepts(p.engines?.node, installNode)).map(([path]) => path)).toEqual([]);
});

it('the Node the scripts run on (the node devDependency) satisfies every package, the project included', () => {
  const runtime = lock.packages['node_modules/node']!.version!;
  expect(semver.satisfies(runtime, '>=24')).toBe(true);
  expect([['', lock.packages['']!] as const, ...packages].filter(([, p]) => !accepts(p.engines?.node, runtime)).map(([path]) => path)).toEqual([]);
});

it('npm ci on the install\'s Node warns about nothing: no package of the root lock asks for a newer Node', () => {
  const warned = packages.filter(([, p]) => !accepts(p.engines?.node, installNode)).map(([path, p]) => `${nameOf(path)} (engines ${p.engines?.node})`);
  expect(warned).toEqual([]);
});

it('the packages that need a newer Node are installed by the postinstall, with the Node that runs them', () => {
  expect(pkg.scripts?.postinstall).toBe('node local/embedded/install.cjs');
  const runtime = lock.packages['node_modules/node']!.version!;
  // They need it: installed at the root, they would be warned about under the install's Node.
  expect(Object.keys(embeddedPkg.dependencies ?? {}).filter((name) => accepts(embeddedLock.packages[`node_modules/${name}`]!.engines?.node, installNode))).toEqual([]);
  // And the Node that installs and runs them satisfies every package of their lock, and their folder's own engines.
  expect(accepts(embeddedPkg.engines.node, runtime)).toBe(true);
  expect(installed(embeddedLock.packages).filter(([, p]) => !accepts(p.engines?.node, runtime)).map(([path]) => path)).toEqual([]);
  // Installed once: not at the root as well.
  expect(Object.keys(embeddedPkg.dependencies ?? {}).filter((name) => lock.packages[`node_modules/${name}`])).toEqual([]);
});

describe('local/embedded/install.cjs', () => {
  const script = join(ROOT, 'local/embedded/install.cjs');
  /** A stand-in for npm that writes down how it was called. */
  function fakeNpm() {
    const dir = mkdtempSync(join(tmpdir(), 'fake-npm-'));
    const npm = join(dir, 'npm-cli.js');
    writeFileSync(npm, `require('fs').writeFileSync(${JSON.stringify(join(dir, 'args.json'))}, JSON.stringify({ args: process.argv.slice(2), node: process.version }));`);
    return { npm, args: () => JSON.parse(readFileSync(join(dir, 'args.json'), 'utf8')) as { args: string[]; node: string } };
  }
  const run = (env: Record<string, string>) => spawnSync(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });

  it('runs npm ci in local/embedded with the npm that runs the install, on the Node that runs the project', () => {
    const npm = fakeNpm();
    const result = run({ npm_execpath: npm.npm });
    expect(result.status).toBe(0);
    expect(npm.args()).toEqual({ args: ['ci', '--prefix', join(ROOT, 'local/embedded'), '--no-audit', '--no-fund'], node: process.version });
  });

  it('does nothing in a production install (--omit=dev), which has neither the local runtime nor its Node', () => {
    const npm = fakeNpm();
    const result = run({ npm_execpath: npm.npm, npm_config_omit: 'dev' });
    expect(result.status).toBe(0);
    expect(() => npm.args()).toThrow(/ENOENT/);
  });

  it('does nothing where the devDependencies were left out another way (NODE_ENV=production): no node devDependency', () => {
    const copy = mkdtempSync(join(tmpdir(), 'nightshift-prod-'));
    mkdirSync(join(copy, 'local', 'embedded'), { recursive: true });
    copyFileSync(script, join(copy, 'local', 'embedded', 'install.cjs'));
    const npm = fakeNpm();
    const result = spawnSync(process.execPath, [join(copy, 'local', 'embedded', 'install.cjs')], { env: { PATH: process.env.PATH ?? '', npm_execpath: npm.npm }, encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(() => npm.args()).toThrow(/ENOENT/);
  });

  it('outside npm, says to run npm ci', () => {
    const result = run({});
    expect({ status: result.status, stderr: result.stderr.trim() }).toEqual({ status: 1, stderr: expect.stringContaining('run `npm ci` in the project folder') });
  });
});

it('the README says what the install needs and that it warns about nothing', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('```sh'));
  expect(quickStart).toContain('`npm ci` prints no `EBADENGINE` warning');
  expect(quickStart).toContain('`local/embedded/`');
  expect(Object.keys(embeddedPkg.dependencies ?? {}).filter((name) => !quickStart.includes(`\`${name}\``))).toEqual([]);
});
