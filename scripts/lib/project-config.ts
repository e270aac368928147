/** The project's configuration as the CDK app reads it, for the commands that run it elsewhere. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFromContext } from '../../infra/config';
import { UsageError } from '../../core/validation';

/**
 * The configuration `cdk synth` and `cdk deploy` read: cdk.json's context.nightshift (or a
 * `--config` file instead: another cdk.json, or the "nightshift" object alone), then
 * `-c nightshift.<key>=<value>` overrides, validated as the stack validates it. What an operator
 * tries locally is what deploys.
 */
export function projectConfig(options: { file?: string; overrides?: readonly string[]; defaults?: Record<string, unknown> } = {}) {
  const context: Record<string, unknown> = { ...(JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context };
  if (options.file) {
    try {
      const file = JSON.parse(readFileSync(options.file, 'utf8')) as { context?: { nightshift?: unknown } } | null;
      context.nightshift = file && typeof file === 'object' && file.context && typeof file.context === 'object' ? file.context.nightshift : file;
    } catch (error) {
      throw new UsageError(`--config: cannot read ${options.file} as JSON (${(error as Error).message}): give a cdk.json, or a file in the shape of its "context" → "nightshift"`);
    }
  }
  for (const override of options.overrides ?? []) {
    const at = override.indexOf('=');
    const key = at > 0 ? override.slice(0, at) : '';
    if (!key.startsWith('nightshift.')) throw new UsageError(`-c: expected nightshift.<key>=<JSON value> (e.g. -c nightshift.resize.webpEffort=2), received "${override}"`);
    context[key] = override.slice(at + 1);
  }
  if (options.defaults) context.nightshift = { ...options.defaults, ...(context.nightshift as Record<string, unknown> | undefined) };
  return configFromContext((k) => context[k], Object.keys(context));
}
