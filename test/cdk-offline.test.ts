/**
 * `cdk synth` and `cdk deploy` talk to AWS and nothing else. The CDK CLI fetches its notices from
 * the CDK team's web site before every command unless told not to; the project tells it twice: the
 * npm scripts pass `--no-notices`, and cdk.json's `"notices": false` (a CLI setting read from the
 * project configuration, aws-cdk README "cdk notices": "disable all notices indefinitely through
 * context in cdk.json") covers a bare `npx cdk deploy`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support/processes';

const read = (file: string) => JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Record<string, unknown>;

it('every npm script that runs the CDK CLI passes --no-notices', () => {
  const scripts = read('package.json').scripts as Record<string, string>;
  const cdkScripts = Object.entries(scripts).filter(([, command]) => /(^|[\s;&|])cdk\s/.test(command));
  expect(cdkScripts.map(([name]) => name)).toEqual(expect.arrayContaining(['synth', 'deploy']));
  expect(cdkScripts.filter(([, command]) => !/\s--no-notices(\s|$)/.test(command))).toEqual([]);
});

it('cdk.json turns notices off for any cdk command', () => {
  // A top-level key: the CLI merges cdk.json's top level into its settings (aws-cdk
  // lib/cli/user-configuration.js, loadConfigFiles) and reads settings.get(['notices']) (lib/cli/cli.js).
  expect(read('cdk.json').notices).toBe(false);
});
