/**
 * `npx cdk synth` through the real CDK CLI, offline: the CLI must read the installed
 * aws-cdk-lib's cloud assembly, the Lambda bundles come from the local esbuild (no Docker), and a
 * bad configuration stops synth with a message naming the key, the value and the fix.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/processes';

const cdk = (args: string[]) =>
  spawnSync(join(ROOT, 'node_modules/.bin/cdk'), ['synth', '--quiet', '--no-notices', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, CDK_DISABLE_VERSION_CHECK: '1', CDK_DISABLE_CLI_TELEMETRY: 'true' },
    timeout: 240_000,
  });

it('synthesizes offline with locally bundled functions', () => {
  const out = mkdtempSync(join(tmpdir(), 'nightshift-synth-'));
  try {
    const run = cdk(['-o', out]);
    expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({ status: 0, stderr: '' });
    // The CLI's closing note on unset feature flags: the README says what it means for a deployer.
    const flagsNote = /\d+ feature flags are not configured/.exec(run.stderr + run.stdout);
    if (flagsNote) expect(readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ')).toContain('"N feature flags are not configured": nothing to do.');
    const template = JSON.parse(readFileSync(join(out, 'Nightshift.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }> };
    expect(Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function').length).toBeGreaterThanOrEqual(4);
    const bundles = readdirSync(out).filter((d) => d.startsWith('asset.') && existsSync(join(out, d, 'index.js')));
    expect(bundles.length).toBeGreaterThanOrEqual(4);
    const dockerAsset = readdirSync(out).find((d) => d.startsWith('asset.') && existsSync(join(out, d, 'jobs', 'Dockerfile')));
    expect(dockerAsset).toBeDefined();
    expect(existsSync(join(out, dockerAsset!, 'node_modules'))).toBe(false); // the image runs its own npm ci
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

it('stops on invalid configuration, naming the key, the value and the fix', () => {
  const run = cdk(['-o', join(tmpdir(), 'nightshift-synth-bad'), '-c', 'nightshift.schedule.cron=cron(0 2 * * * *)', '-c', 'nightshift.compute.resize.memoryMiB=1000']);
  expect(run.status).not.toBe(0);
  expect(run.stderr).toContain('nightshift.schedule.cron: expected an EventBridge cron expression, but exactly one of day-of-month (*) and day-of-week (*) must be "?"');
  expect(run.stderr).toContain('received "cron(0 2 * * * *)"');
  expect(run.stderr).toContain('nightshift.compute.resize.memoryMiB: expected a Fargate memory size for 2 vCPU: 4096-16384 MiB in steps of 1024, received 1000');
  expect(run.stderr).toContain('-c nightshift.<key>=<JSON value>');
});

it('synthesizes a configuration far past the AWS limits on environments: it travels as an object, not in any environment', () => {
  // Lambda: "Function environment variables: 4 KB, for all environment variables associated with the
  // function, in aggregate" (Lambda developer guide, "Lambda quotas"); AWS Batch: "Maximum job
  // definition size … 24 KiB" (AWS Batch user guide, "AWS Batch service quotas"). 700 prefixes are
  // about 30 KB of configuration: inline, as it once was, they failed synth on both limits
  // (infra/limits.ts, whose one-line error the stack test drives on a job definition built to exceed it).
  const prefixes = Array.from({ length: 700 }, (_, i) => `archive/${'x'.repeat(30)}/${String(i).padStart(5, '0')}/`);
  const out = mkdtempSync(join(tmpdir(), 'nightshift-synth-large-'));
  try {
    const run = cdk(['-o', out, '-c', `nightshift.filter.excludePrefixes=${JSON.stringify(prefixes)}`]);
    expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({ status: 0, stderr: '' });
    const template = JSON.parse(readFileSync(join(out, 'Nightshift.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const resources = Object.entries(template.Resources);
    const sizes = resources
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function' || r.Type === 'AWS::Batch::JobDefinition')
      .map(([id, r]) => [id, JSON.stringify(r.Type === 'AWS::Lambda::Function' ? r.Properties.Environment ?? {} : r.Properties).length] as const);
    expect(sizes.length).toBeGreaterThanOrEqual(7);
    for (const [id, size] of sizes) expect({ id, small: size < 4096 }).toEqual({ id, small: true });
    // The configuration is in the assembly, as the deployment's object (an asset), with every prefix.
    const holders = readdirSync(out, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json') && readFileSync(join(out, f), 'utf8').includes(prefixes[699]!));
    expect(holders.length).toBeGreaterThanOrEqual(1);
    const inline = resources.filter(([, r]) => (r.Type === 'AWS::Lambda::Function' || r.Type === 'AWS::Batch::JobDefinition') && JSON.stringify(r.Properties).includes('archive/xxxxxxxxxx'));
    expect(inline.map(([id]) => id)).toEqual([]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
