/**
 * The nightshift CLI: `npx nightshift <command>` or `npm run nightshift -- <command>`, on
 * commander (subcommands, generated help, a suggestion after a mistyped command or option).
 * Every command has --help; bad flags or input print one line naming the problem and exit 2.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command as Program, CommanderError } from 'commander';
import { UsageError, ValidationError } from '../core/validation';
import { inputFromFlags } from './lib/flags';

type Option = { readonly type: 'string' | 'boolean'; readonly description: string; readonly multiple?: boolean; readonly short?: string };

interface Command {
  readonly summary: string;
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
  force: { type: 'boolean', description: 'with --full: re-encode every rendition, current or not (backups that hold the version are not copied again)' },
  'confirm-prune': { type: 'boolean', description: 'prune the renditions of deleted originals even beyond renditions.maxPruneShare' },
} satisfies Record<string, Option>;

const configOption: Option = { type: 'string', description: 'another cdk.json, or a JSON file in the shape of its context.nightshift, instead of the project\'s' };

/** Where `status` and `history` read runs from: a deployed stack's (the default), or with --local, a local data folder. */
const RUN_SOURCE_OPTIONS = {
  'state-machine-arn': { type: 'string', description: 'default: <stack>-workflow' },
  stack: { type: 'string', description: 'default Nightshift' },
  'work-bucket': { type: 'string', description: 'where the run reports are (default: read from the state machine\'s definition)' },
  'data-dir': { type: 'string', description: 'default .nightshift' },
} satisfies Record<string, Option>;

const COMMANDS: Record<string, Command> = {
  local: {
    summary: 'run the whole pipeline on this machine, on the embedded S3 server',
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
      config: configOption,
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
    summary: 'keep the embedded S3 and DynamoDB servers running over the local data, with the image API and the gallery (same as: nightshift local serve)',
    examples: [
      'nightshift local serve --port 4566 --api-port 4599',
      'nightshift local serve --on-upload',
      'aws --endpoint-url http://127.0.0.1:4566 s3 ls s3://nightshift-renditions/ --recursive',
      "curl 'http://127.0.0.1:4599/api/images?prefix=photos/&limit=10'",
    ],
    options: {
      port: { type: 'string', description: 'the S3 server\'s port on 127.0.0.1 (default: any free port)' },
      'api-port': { type: 'string', description: 'the image API\'s and the gallery\'s port on 127.0.0.1 (default: any free port)' },
      'data-dir': { type: 'string', description: 'default .nightshift' },
      json: { type: 'boolean', description: 'first line: {"endpoint", "api", "dynamodb", "buckets"} (and "uploadLane", the lane\'s journal, with --on-upload)' },
      'on-upload': { type: 'boolean', description: 'run the upload lane: writes to the corpus bucket render at once (also onUpload.enabled in the configuration)' },
      config: { type: 'string', description: 'another cdk.json, or a JSON file in the shape of its context.nightshift, instead of the project\'s' },
      context: { type: 'string', short: 'c', multiple: true, description: 'nightshift.<key>=<JSON value>, as cdk deploy -c takes it (repeatable)' },
    },
    async run(values) {
      const { serveCommand } = require('./commands/local') as typeof import('./commands/local');
      return serveCommand(values);
    },
  },
  run: {
    summary: 'start a run of the deployed state machine in AWS',
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
    examples: ['nightshift status latest', 'nightshift status latest --local --json', 'nightshift status arn:aws:states:eu-west-1:123456789012:execution:Nightshift-workflow:cli-20261122T020000Z'],
    options: {
      local: { type: 'boolean', description: 'a local run (nightshift local)' },
      json: { type: 'boolean', description: 'one line of JSON: {runId, where, status, outcome, startedAt, finishedAt, durationMs, counts, subject, report, reason} (README "status and history")' },
      ...RUN_SOURCE_OPTIONS,
    },
    positionals: true,
    async run(values, positionals) {
      const { statusCommand } = require('./commands/aws') as typeof import('./commands/aws');
      if (positionals.length > 1) throw new UsageError(`status takes one run: an execution ARN, a local run id or "latest", received ${positionals.length} (${positionals.join(' ')})`);
      return statusCommand(values, positionals[0] ?? 'latest');
    },
  },
  history: {
    summary: 'the last runs, newest first, one line each: when, outcome, counts, duration (deployed; with --local, local runs)',
    examples: ['nightshift history', 'nightshift history --local --limit 5', 'nightshift history --json'],
    options: {
      local: { type: 'boolean', description: 'local runs (nightshift local)' },
      limit: { type: 'string', description: 'how many runs (default 10)' },
      json: { type: 'boolean', description: 'one line of JSON: an array of runs in the shape of status --json' },
      ...RUN_SOURCE_OPTIONS,
    },
    async run(values) {
      const { historyCommand } = require('./commands/aws') as typeof import('./commands/aws');
      return historyCommand(values);
    },
  },
  schedule: {
    summary: 'the configured schedule and its next five run times, in UTC and in your time zone',
    examples: ['nightshift schedule', 'TZ=Asia/Tokyo nightshift schedule --count 3'],
    options: { count: { type: 'string', description: 'how many run times (default 5)' }, config: configOption },
    async run(values) {
      const { scheduleCommand } = require('./commands/schedule') as typeof import('./commands/schedule');
      return scheduleCommand(values);
    },
  },
  synth: {
    summary: 'print the workflow definition (Amazon States Language) synthesized from the stack',
    examples: ['nightshift synth > workflow.asl.json'],
    options: { config: configOption },
    async run(values) {
      const { synthCommand } = require('./commands/schedule') as typeof import('./commands/schedule');
      return synthCommand(values);
    },
  },
};

/** The program: one commander command per entry of COMMANDS (`serve` under `local`), each with its examples. */
export function program(): Program {
  const version = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
  const root = new Program('nightshift').enablePositionalOptions().description('nightly catalogue, backup and resize of an S3 image corpus').version(version);
  const commands = new Map<string, Program>();
  for (const [name, command] of Object.entries(COMMANDS)) {
    const parent = name === 'serve' ? commands.get('local')! : root;
    // Options after a subcommand are the subcommand's: `local serve --json` is serve's --json, not local's.
    const c = parent.command(name).description(command.summary).enablePositionalOptions();
    for (const [flag, o] of Object.entries(command.options)) {
      const flags = `${o.short ? `-${o.short}, ` : ''}--${flag}${o.type === 'string' ? ' <value>' : ''}`;
      if (o.multiple) c.option(flags, o.description, (value: string, previous?: string[]) => [...(previous ?? []), value]);
      else c.option(flags, o.description);
    }
    if (command.positionals) c.argument('[run...]');
    c.addHelpText('after', `\nExamples:\n${command.examples.map((e) => `  ${e}`).join('\n')}\n`);
    c.action(async (...args: unknown[]) => {
      const cmd = args.at(-1) as Program;
      const values = kebabKeys(cmd.opts());
      missingValues(values, command, name);
      exitCode = await command.run(values, cmd.args);
    });
    commands.set(name, c);
  }
  // Errors become one line and exit 2 (the caller prints them); help and --version exit 0.
  const quiet = (c: Program) => c.exitOverride().configureOutput({ outputError: () => undefined });
  for (const c of [root, ...commands.values()]) quiet(c);
  return root;
}

let exitCode = 0;

/** commander's option names are camelCase (dryRun); the commands read them as typed (dry-run). */
function kebabKeys(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), v]));
}

/**
 * commander gives an option its next argument whatever it is, which is what `--count -1` means;
 * but `--prefix --dry-run` forgot the prefix: a value that is one of the command's own flags is
 * a missing value.
 */
function missingValues(values: Record<string, unknown>, command: Command, name: string): void {
  const flags = new Set(Object.entries(command.options).flatMap(([k, o]) => [`--${k}`, ...(o.short ? [`-${o.short}`] : [])]).concat(['--help', '-h']));
  for (const [k, v] of Object.entries(values)) {
    for (const value of Array.isArray(v) ? v : [v]) {
      if (typeof value === 'string' && flags.has(value.split('=')[0]!)) throw new UsageError(`--${k}: the value is missing: write --${k} <value> (see nightshift ${name} --help)`);
    }
  }
}

export async function main(argv: string[]): Promise<number> {
  exitCode = 0;
  const root = program();
  if (argv.length === 0) {
    process.stdout.write(root.helpInformation());
    return 2;
  }
  try {
    await root.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
    // commander's message, on one line: "unknown option '--x' (Did you mean --y?)".
    const where = argv[0] && COMMANDS[argv[0]] ? ` (see nightshift ${argv[0] === 'local' && argv[1] === 'serve' ? 'local serve' : argv[0]} --help)` : ' (see nightshift --help)';
    throw new UsageError(`${error.message.replace(/^error: /, '').split('\n').join(' ')}${where}`);
  }
  return exitCode;
}

if (require.main === module) {
  // A reader that goes away (`nightshift schedule | head -1`) is not a failure of the command: the
  // rest of its output has nowhere to go, and the command still finishes (a run is not abandoned).
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const e = error as Error;
      // A ValidationError is one line; a UsageError may name several problems, one line each.
      const lines = e instanceof ValidationError ? [e.message.split('\n').join(' ')] : e instanceof UsageError ? e.message.split('\n') : [e.message];
      process.stderr.write(lines.map((line) => `nightshift: ${line}\n`).join(''));
      if (process.env.NIGHTSHIFT_DEBUG) process.stderr.write(`${e.stack}\n`);
      process.exitCode = e instanceof UsageError || e instanceof ValidationError ? 2 : 1;
    },
  );
}
