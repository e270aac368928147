/**
 * cdk.json is the operator's: what they write there (other presets, another schedule, a file
 * half-edited) changes nothing the tests run. The CLI runs with the test's own configuration
 * (test/support/cli.ts adds --config), the synth paths take the CDK feature flags from
 * infra/feature-flags.ts, and neither reads the project's cdk.json. Proven on a copy of the
 * project whose cdk.json is edited, never on the real one.
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli';
import { ROOT } from './support/processes';

const SOURCES = ['adapters', 'core', 'functions', 'infra', 'jobs', 'local', 'scripts', 'types', 'package.json', 'package-lock.json', 'tsconfig.json'];
let tmp: string;
let copy: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-cdk-json-'));
  copy = join(tmp, 'project');
  for (const entry of SOURCES) cpSync(join(ROOT, entry), join(copy, entry), { recursive: true, filter: (from) => !from.endsWith('.test.ts') });
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const editedCdkJson = (nightshift: Record<string, unknown>) => writeFileSync(join(copy, 'cdk.json'), JSON.stringify({ app: 'npx tsx infra/app.ts', context: { nightshift } }, null, 2));
const cli = (args: string[]) => runCli(args, { cwd: tmp, root: copy });

it("runs the CLI with the test's configuration, not an edited cdk.json's", async () => {
  editedCdkJson({ notificationEmails: ['me@example.com'], schedule: { cron: 'cron(30 5 ? * MON *)' }, presets: [{ name: 'edited', width: 10, formats: ['jpeg'] }] });
  const run = await cli(['schedule', '--count', '1']);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  expect(run.stdout).toContain('Schedule: cron(0 2 * * ? *) in UTC');
  // The edit is real: the same CLI given that file shows it (else this test could not fail).
  const edited = await cli(['schedule', '--count', '1', '--config', join(copy, 'cdk.json')]);
  expect(edited.stdout).toContain('Schedule: cron(30 5 ? * MON *) in UTC');
});

it('synthesizes the workflow while cdk.json is half-edited (not even JSON)', async () => {
  writeFileSync(join(copy, 'cdk.json'), '{ "context": { "nightshift": { "presets": [ ');
  const run = await cli(['synth']);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(run.stdout)).toMatchObject({ StartAt: 'CheckActiveRuns' });
});
