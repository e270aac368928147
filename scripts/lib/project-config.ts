/** The project's configuration as the CDK app reads it, for the commands that run it elsewhere. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFromContext } from '../../infra/config';
import { UsageError } from '../../core/validation';

export const PROJECT_CDK_JSON = join(__dirname, '..', '..', 'cdk.json');

/**
 * The configuration `cdk synth` and `cdk deploy` read: cdk.json's context.nightshift (or a
 * `--config` file instead: another cdk.json, or the "nightshift" object alone), then
 * `-c nightshift.<key>=<value>` overrides, validated as the stack validates it. What an operator
 * tries locally is what deploys.
 */
export function projectConfig(options: { file?: string; overrides?: readonly string[]; defaults?: Record<string, unknown> } = {}) {
  // With --config the project's cdk.json is not read at all: not its "nightshift", nor its "nightshift.<key>" entries.
  const context: Record<string, unknown> = options.file ? { nightshift: configFile(options.file) } : { ...(JSON.parse(readFileSync(PROJECT_CDK_JSON, 'utf8')) as { context: Record<string, unknown> }).context };
  for (const override of options.overrides ?? []) {
    const at = override.indexOf('=');
    const key = at > 0 ? override.slice(0, at) : '';
    if (!key.startsWith('nightshift.')) throw new UsageError(`-c: expected nightshift.<key>=<JSON value> (e.g. -c nightshift.resize.webpEffort=2), received "${override}"`);
    context[key] = override.slice(at + 1);
  }
  if (options.defaults) context.nightshift = { ...options.defaults, ...(context.nightshift as Record<string, unknown> | undefined) };
  return configFromContext((k) => context[k], Object.keys(context));
}

/** A --config file: another cdk.json (its context.nightshift), or the "nightshift" object alone. */
function configFile(file: string): unknown {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { context?: { nightshift?: unknown } } | null;
    return parsed && typeof parsed === 'object' && parsed.context && typeof parsed.context === 'object' ? parsed.context.nightshift : parsed;
  } catch (error) {
    throw new UsageError(`--config: cannot read ${file} as JSON (${(error as Error).message}): give a cdk.json, or a file in the shape of its "context" → "nightshift"`);
  }
}
