/**
 * `npm test` and `npm run test:slow` together run every suite, each once (jest.slow-suites.js
 * says which are slow): a renamed slow suite must not drop out of both.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './support/processes';

const main = require(join(ROOT, 'jest.config.js')) as { testPathIgnorePatterns: string[] };
const slow = require(join(ROOT, 'jest.slow.config.js')) as { testMatch: string[] };
const { SLOW } = require(join(ROOT, 'jest.slow-suites.js')) as { SLOW: string[] };

function suites(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name.startsWith('.') || e.name === 'cdk.out' || e.name === 'dist') return [];
    const path = join(dir, e.name);
    return e.isDirectory() ? suites(path) : e.name.endsWith('.test.ts') && !e.name.endsWith('.scale.test.ts') ? [relative(ROOT, path)] : [];
  });
}

it('runs every suite in exactly one of npm test and npm run test:slow', () => {
  const all = suites();
  const ignored = main.testPathIgnorePatterns.map((p) => new RegExp(p.replace('<rootDir>', ROOT)));
  const inMain = (s: string) => !ignored.some((re) => re.test(join(ROOT, s)));
  const inSlow = (s: string) => s.endsWith('.slow.test.ts') || slow.testMatch.includes(`<rootDir>/${s}`);
  expect(all.filter((s) => inMain(s) === inSlow(s))).toEqual([]);
  expect(all.filter(inSlow).sort()).toEqual([...SLOW, ...all.filter((s) => s.endsWith('.slow.test.ts'))].sort());
  expect(all.filter(inMain).length).toBeGreaterThan(all.filter(inSlow).length);
});

it('lists only suites that exist', () => {
  expect(SLOW.filter((s) => !suites().includes(s))).toEqual([]);
});
