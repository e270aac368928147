/** The project's configuration as the CDK app reads it, for the commands that run it elsewhere. */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { configFromContext } from '../../infra/config';
import { describeJsonError } from '../../core/json-position';
import { type FieldProblem, UsageError, ValidationError } from '../../core/validation';

/** The project's cdk.json (the CDK app's configuration), read unless --config gives another file. */
export const PROJECT_CDK_JSON = join(__dirname, '..', '..', 'cdk.json');
const CDK_JSON = PROJECT_CDK_JSON;

/**
 * The configuration `cdk synth` and `cdk deploy` read: cdk.json's context.nightshift (or a
 * `--config` file instead: another cdk.json, or the "nightshift" object alone), then
 * `-c nightshift.<key>=<value>` overrides, validated as the stack validates it. What an operator
 * tries locally is what deploys. A mistake is a UsageError of one line per problem, each naming
 * where the value came from (the file or the -c), the field, the value and the fix.
 */
export function projectConfig(options: { file?: string; overrides?: readonly string[]; defaults?: Record<string, unknown> } = {}) {
  // With --config the project's cdk.json is not read at all: not its "nightshift", nor its "nightshift.<key>" entries.
  const context: Record<string, unknown> = options.file ? {} : { ...(readJson(CDK_JSON, relative(process.cwd(), CDK_JSON) || 'cdk.json') as { context?: Record<string, unknown> }).context };
  if (options.file) {
    const file = readJson(options.file, `--config ${options.file}`) as { context?: { nightshift?: unknown } } | null;
    context.nightshift = file && typeof file === 'object' && file.context && typeof file.context === 'object' ? file.context.nightshift : file;
  }
  for (const override of options.overrides ?? []) {
    const at = override.indexOf('=');
    const key = at > 0 ? override.slice(0, at) : '';
    if (!key.startsWith('nightshift.')) throw new UsageError(`-c: expected nightshift.<key>=<JSON value> (e.g. -c nightshift.resize.webpEffort=2), received "${override}"`);
    context[key] = override.slice(at + 1);
  }
  if (options.defaults) context.nightshift = { ...options.defaults, ...(context.nightshift as Record<string, unknown> | undefined) };
  try {
    return configFromContext((k) => context[k], Object.keys(context));
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const source = options.file ? options.file : relative(process.cwd(), CDK_JSON) || 'cdk.json';
    throw new UsageError(error.problems.map((p) => problemLine(p, source, Object.keys(context).filter((k) => k.startsWith('nightshift.')))).join('\n'));
  }
}

/** A JSON file, or a UsageError naming it, and for a syntax error its line and column. */
function readJson(path: string, label: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`${label}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): give a cdk.json, or a file in the shape of its "context" → "nightshift"`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`${label}: ${describeJsonError(text, error as Error)}: correct it there (a comma after the last item, or a missing quote, comma or brace, is the usual cause)`);
  }
}

/**
 * `cdk.json: nightshift.resize.webpEfort = 2: no field named "webpEfort" here; did you mean
 * "webpEffort"? Fix it in cdk.json …`. A field a -c override set is the override's to fix.
 */
function problemLine(p: FieldProblem, file: string, overrides: readonly string[]): string {
  const override = overrides.find((k) => p.field === k || p.field.startsWith(`${k}.`) || p.field.startsWith(`${k}[`));
  const what = p.expected.startsWith('no field named') ? p.expected : `expected ${p.expected}`;
  const fix = override ? `give -c ${override}=<JSON value> a valid value` : `fix it in ${file} ("context" → "nightshift"${/cdk\.json$/.test(file) ? '' : ', or the file\'s top level'})`;
  return `${override ? `-c ${override}` : file}: ${p.field} = ${p.received}: ${what}${/[.?]$/.test(what) ? '' : '.'} ${fix[0]!.toUpperCase()}${fix.slice(1)}, then run the command again.`;
}
