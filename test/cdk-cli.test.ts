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

it('stops in one line, not a stack trace, when a resource would exceed an AWS limit at deploy time', () => {
  // AWS Batch: "Maximum job definition size (for RegisterJobDefinition API operations): 24 KiB"
  // (AWS Batch user guide, "AWS Batch service quotas"); infra/limits.ts checks it at synth.
  const prefixes = Array.from({ length: 700 }, (_, i) => `archive/${'x'.repeat(30)}/${String(i).padStart(5, '0')}/`);
  const run = cdk(['-o', join(tmpdir(), 'nightshift-synth-limit'), '-c', `nightshift.filter.excludePrefixes=${JSON.stringify(prefixes)}`]);
  expect(run.status).not.toBe(0);
  const lines = run.stderr.split('\n').filter((l) => l.includes('24 KiB'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^Batch job definition Nightshift\/Compute\/CatalogJob\/Resource: \d+ bytes, over AWS Batch's 24 KiB \(24576 bytes\) per job definition: shorten the configuration/);
  expect(run.stderr).not.toMatch(/^\s+at /m);
});
