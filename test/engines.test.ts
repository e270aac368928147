/**
 * Which Node runs what. `npm ci` runs on the machine's Node (a fresh machine has Node 20) and warns
 * EBADENGINE for every package whose "engines" that Node does not satisfy, the project's own
 * included; after it, every npm script runs on the Node 24 of the `node` devDependency
 * (node_modules/.bin comes first on a script's PATH). Read offline from package.json and the lock file.
 */
import { readFileSync } from 'node:fs';
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
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; allowScripts: Record<string, boolean> };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> };
const packages = Object.entries(lock.packages).filter(([path, p]) => path !== '' && !p.optional);
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

it('the README names exactly the packages npm ci warns about under the install\'s Node', () => {
  const warned = [...new Set(packages.filter(([, p]) => !accepts(p.engines?.node, installNode)).map(([path]) => nameOf(path)))].sort();
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
  const named = /`npm ci` warns `EBADENGINE` for these packages, [^:]*: ((?:`[^`]+`(?: \([^)]*\))?(?:, |\.))+)/.exec(readme)?.[1];
  expect(named).toBeDefined();
  expect([...named!.replace(/ \([^)]*\)/g, '').matchAll(/`([^`]+)`/g)].map((m) => m[1]).sort()).toEqual(warned);
});
