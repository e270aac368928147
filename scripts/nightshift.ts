/**
 * The nightshift CLI: `npx nightshift <command>` or `npm run nightshift -- <command>`.
 * Every command has --help; bad flags or input print one line naming the problem and exit 2.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError, ValidationError } from '../core/validation';
import { inputFromFlags } from './lib/flags';

type Option = { readonly type: 'string' | 'boolean'; readonly description: string; readonly multiple?: boolean; readonly short?: string };

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly examples: readonly string[];
  readonly options: Record<string, Option>;
  readonly positionals?: boolean;
  run(values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

const inputOptions = {
  prefix: { type: 'string', description: 'only keys under this prefix' },
  ops: { type: 'string', description: 'the work, comma-separated: backup,resize (default both)' },
  presets: { type: 'string', description: 'presets, comma-separated (default: all configured)' },
  'dry-run': { type: 'boolean', description: 'plan and report, write nothing outside runs/<runId>/' },
  full: { type: 'boolean', description: 'ignore the last catalogue: every selected image is work (outputs that are current are still skipped)' },
  force: { type: 'boolean', description: 'with --full: rewrite every output, current or not' },
  'confirm-prune': { type: 'boolean', description: 'prune the renditions of deleted originals even beyond renditions.maxPruneShare' },
} satisfies Record<string, Option>;

/**
 * parseArgs reads `--count -1` as a flag without its value; an operator means the value. A value
 * that starts with "-" and is no known flag is joined to its flag (`--count=-1`), so that the
 * command's own check answers ("--count must be a whole number…").
 */
function joinDashValues(args: readonly string[], options: Record<string, Option>): string[] {
  const known = new Set(Object.entries(options).flatMap(([k, o]) => [`--${k}`, ...(o.short ? [`-${o.short}`] : [])]).concat(['--help', '-h']));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (arg.startsWith('--') && options[arg.slice(2)]?.type === 'string' && next?.startsWith('-') && !known.has(next.split('=')[0]!)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

const COMMANDS: Record<string, Command> = {
  local: {
    summary: 'run the whole pipeline on this machine, on the embedded S3 server',
    usage: 'nightshift local [--import <dir>] [--prefix p] [--ops resize,backup] [--presets thumb,web] [--dry-run] [--full [--force]] [--confirm-prune] [--config file] [-c nightshift.<key>=<JSON>]... [--endpoint url] [--json]',
    examples: [
      'nightshift local',
      'nightshift local --import ~/Pictures/holiday',
      'nightshift local --prefix photos/2026/ --ops resize --presets thumb --dry-run',
      'nightshift local -c nightshift.resize.webpEffort=2',
      'nightshift local --config staging.json',
      'nightshift local --json | tail -n 1',
    ],
    options: {
      ...inputOptions,
      config: { type: 'string', description: 'another cdk.json, or a JSON file in the shape of its context.nightshift, instead of the project\'s' },
      context: { type: 'string', short: 'c', multiple: true, description: 'nightshift.<key>=<JSON value>, as cdk deploy -c takes it (repeatable)' },
      import: { type: 'string', description: 'copy this folder into the local corpus first (keys = relative paths)' },
      endpoint: { type: 'string', description: 'an S3-compatible endpoint instead of the embedded server (or AWS_ENDPOINT_URL_S3)' },
      'data-dir': { type: 'string', description: 'where the embedded server keeps its data (default .nightshift)' },
      json: { type: 'boolean', description: 'end with one line of JSON: {runId, status, report, email, counts}' },
    },
    async run(values) {
      const { localCommand } = require('./commands/local') as typeof import('./commands/local');
      return localCommand(values, inputFromFlags(values));
    },
  },
  serve: {
    summary: 'keep the embedded S3 server running over the local data (same as: nightshift local serve)',
    usage: 'nightshift local serve [--port N] [--json]',
    examples: ['nightshift local serve --port 4566', 'aws --endpoint-url http://127.0.0.1:4566 s3 ls s3://nightshift-renditions/ --recursive'],
    options: { port: { type: 'string', description: 'port on 127.0.0.1 (default: any free port)' }, 'data-dir': { type: 'string', description: 'default .nightshift' }, json: { type: 'boolean', description: 'first line: {"endpoint", "buckets"}' } },
    async run(values) {
      const { serveCommand } = require('./commands/local') as typeof import('./commands/local');
      return serveCommand(values);
    },
  },
  run: {
    summary: 'start a run of the deployed state machine in AWS',
    usage: 'nightshift run [--prefix p] [--ops …] [--presets …] [--dry-run] [--full [--force]] [--confirm-prune] [--wait] [--state-machine-arn arn] [--stack Nightshift]',
    examples: ['nightshift run', 'nightshift run --prefix 2026/11/ --ops resize --wait', 'nightshift run --dry-run --wait'],
    options: {
      ...inputOptions,
      wait: { type: 'boolean', description: 'follow the run to its end' },
      'state-machine-arn': { type: 'string', description: 'default: the state machine named <stack>-workflow' },
      stack: { type: 'string', description: 'the stack name (default Nightshift)' },
    },
    async run(values) {
      const { runCommand } = require('./commands/aws') as typeof import('./commands/aws');
      return runCommand(values, inputFromFlags(values));
    },
  },
  status: {
    summary: 'show a run: an execution ARN or "latest"; with --local, a local run id or "latest", whatever its outcome',
    usage: 'nightshift status [executionArn|latest] [--state-machine-arn arn] [--stack Nightshift]  |  nightshift status [runId|latest] --local [--data-dir dir]',
    examples: ['nightshift status latest', 'nightshift status latest --local', 'nightshift status arn:aws:states:eu-west-1:123456789012:execution:Nightshift-workflow:cli-20261122T020000Z'],
    options: { local: { type: 'boolean', description: 'the last local run' }, 'state-machine-arn': { type: 'string', description: 'default: <stack>-workflow' }, stack: { type: 'string', description: 'default Nightshift' }, 'data-dir': { type: 'string', description: 'default .nightshift' } },
    positionals: true,
    async run(values, positionals) {
      const { statusCommand } = require('./commands/aws') as typeof import('./commands/aws');
      if (positionals.length > 1) throw new UsageError(`status takes one run: an execution ARN, a local run id or "latest", received ${positionals.length} (${positionals.join(' ')})`);
      return statusCommand(values, positionals[0] ?? 'latest');
    },
  },
  schedule: {
    summary: 'the configured schedule and its next five run times, in UTC and in your time zone',
    usage: 'nightshift schedule [--count N]',
    examples: ['nightshift schedule', 'TZ=Asia/Tokyo nightshift schedule --count 3'],
    options: { count: { type: 'string', description: 'how many run times (default 5)' } },
    async run(values) {
      const { scheduleCommand } = require('./commands/schedule') as typeof import('./commands/schedule');
      return scheduleCommand(values);
    },
  },
  synth: {
    summary: 'print the workflow definition (Amazon States Language) synthesized from the stack',
    usage: 'nightshift synth',
    examples: ['nightshift synth > workflow.asl.json'],
    options: {},
    async run() {
      const { synthCommand } = require('./commands/schedule') as typeof import('./commands/schedule');
      return synthCommand();
    },
  },
};

function help(name?: string): string {
  if (name && COMMANDS[name]) {
    const c = COMMANDS[name];
    const opts = Object.entries(c.options).map(([k, o]) => `  --${k}${o.type === 'string' ? ' <value>' : ''}`.padEnd(30) + o.description);
    return `nightshift ${name === 'serve' ? 'local serve' : name}: ${c.summary}\n\nUsage: ${c.usage}\n\nOptions:\n${[...opts, '  --help'.padEnd(30) + 'show this help'].join('\n')}\n\nExamples:\n${c.examples.map((e) => `  ${e}`).join('\n')}\n`;
  }
  const version = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
  return `nightshift ${version}: nightly catalogue, backup and resize of an S3 image corpus\n\nUsage: nightshift <command> [options]\n\nCommands:\n${Object.entries(COMMANDS)
    .map(([k, c]) => `  ${(k === 'serve' ? 'local serve' : k).padEnd(12)} ${c.summary}`)
    .join('\n')}\n\nRun "nightshift <command> --help" for a command's options and examples.\n`;
}

export async function main(argv: string[]): Promise<number> {
  let [name, ...rest] = argv;
  if (name === 'local' && rest[0] === 'serve') [name, ...rest] = ['serve', ...rest.slice(1)];
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help(rest[0]));
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}": expected one of ${Object.keys(COMMANDS).join(', ')} (see nightshift --help)`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(help(name));
    return 0;
  }
  let parsed;
  try {
    const options = Object.fromEntries(Object.entries(command.options).map(([k, o]) => [k, { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) }]));
    parsed = parseArgs({ args: joinDashValues(rest, command.options), options, allowPositionals: command.positionals ?? false, strict: true });
  } catch (error) {
    // Node's messages run to three lines of advice; say it in one, in the flag's words.
    const message = (error as Error).message;
    const missing = /^Option '(--[\w-]+)(?: <value>)?' argument (?:missing|is ambiguous)/.exec(message);
    if (missing) throw new UsageError(`${missing[1]}: the value is missing: write ${missing[1]} <value> (see nightshift ${name} --help)`);
    throw new UsageError(`${message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/s, '')} (see nightshift ${name} --help)`);
  }
  return command.run(parsed.values as Record<string, unknown>, parsed.positionals);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const e = error as Error;
      const oneLine = e instanceof ValidationError ? e.message.split('\n').join(' ') : e.message;
      process.stderr.write(`nightshift: ${oneLine}\n`);
      if (process.env.NIGHTSHIFT_DEBUG) process.stderr.write(`${e.stack}\n`);
      process.exitCode = e instanceof UsageError || e instanceof ValidationError ? 2 : 1;
    },
  );
}
