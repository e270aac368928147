/**
 * One Node for everything: the project brings its own (the `node` devDependency), and the Lambda
 * runtime, the job image and the bundles' targets follow it. nodejs22.x is deprecated in Lambda
 * from 2027-04-30 (AWS Lambda developer guide, "Runtime deprecation policy"); moving means moving
 * all of them, which this test keeps together. CI checks types too: ts-jest only strips them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JOB_BUNDLE_OPTIONS } from '../jobs/build';

const ROOT = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; engines: { node: string } };
const major = Number(/\d+/.exec(pkg.devDependencies.node!)![0]);

describe('runtime', () => {
  it('runs on Node 24 from the project (node devDependency), not the system Node', () => {
    expect(major).toBe(24);
    expect(Number(process.versions.node.split('.')[0])).toBe(major);
    expect(process.execPath).toContain('node_modules');
    // engines says what the install needs (npm ci runs under the machine's Node 20); npm scripts run on the project's own Node.
    expect(pkg.engines.node).toBe('>=20.19');
  });

  it('builds the job image and the bundles for the same Node', () => {
    const froms = readFileSync(join(ROOT, 'jobs/Dockerfile'), 'utf8').match(/^FROM .*$/gm) ?? [];
    expect(froms.length).toBeGreaterThan(0);
    for (const from of froms) expect(from).toContain(`/node:${major}-`);
    expect(JOB_BUNDLE_OPTIONS.target).toBe(`node${major}`);
    expect(readFileSync(join(ROOT, 'infra/functions.ts'), 'utf8')).toContain(`NODEJS_${major}_X`);
  });

  it('has CI check types before it runs the tests', () => {
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    expect(ci).toMatch(/npm run typecheck\n(.*\n)*run npm test\nrun npm run test:slow\n/);
  });
});
