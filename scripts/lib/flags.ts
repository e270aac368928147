/** The run flags every command shares (--prefix, --ops, --presets…), read into a run input. */
import type { PipelineConfig } from '../../core/config';
import { OPERATIONS, parseRunInput } from '../../core/input';
import { didYouMean, UsageError, ValidationError } from '../../core/validation';

/** An --ops value, or a usage error that speaks of the flag and suggests the nearest operation. */
function knownOperation(op: string): string {
  if ((OPERATIONS as readonly string[]).includes(op)) return op;
  const valid = `Valid: ${OPERATIONS.join(', ')}`;
  if (op === 'filter' || op === 'sort') throw new UsageError(`--ops: "${op}" is not an operation to choose: every run lists, filters and sorts the corpus to plan its work. ${valid} (--ops "" writes the catalogue only)`);
  throw new UsageError(`--ops: unknown operation "${op}"${didYouMean(op, OPERATIONS) || '.'} ${valid}`);
}

/** The run input from the shared flags; validation (field names, allowed values) is the core's. */
export function inputFromFlags(values: Record<string, unknown>): Record<string, unknown> {
  const list = (v: unknown) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
  const input: Record<string, unknown> = {};
  if (values.prefix !== undefined) input.prefix = values.prefix;
  if (values.ops !== undefined) input.operations = list(values.ops)!.map((op) => knownOperation(op));
  if (values.presets !== undefined) input.presets = list(values.presets);
  if (values['dry-run']) input.dryRun = true;
  if (values.full) input.full = true;
  if (values.force) input.force = true;
  if (values['confirm-prune']) input.confirmPrune = true;
  return input;
}

/** The flag each input field comes from, for errors that speak of what the operator typed. */
const FLAG_OF: Record<string, string> = { prefix: '--prefix', operations: '--ops', presets: '--presets', dryRun: '--dry-run', full: '--full', force: '--force', confirmPrune: '--confirm-prune' };

/**
 * Validates the input made from flags against the configuration, as the workflow will, and says
 * what is wrong in terms of the flags: `--presets: unknown preset "thmb"; did you mean "thumb"?`.
 */
export function checkFlags(input: Record<string, unknown>, config: Pick<PipelineConfig, 'presets'>): void {
  const presets = config.presets.map((p) => p.name);
  for (const name of (input.presets as string[] | undefined) ?? []) {
    if (!presets.includes(name)) throw new UsageError(`--presets: unknown preset "${name}"${didYouMean(name, presets) || '.'} Configured: ${presets.join(', ')}`);
  }
  if (Array.isArray(input.presets) && input.presets.length === 0) throw new UsageError(`--presets: give at least one preset name, e.g. --presets ${presets[0]} (leave the flag out for all of them)`);
  if (input.force && !input.full) throw new UsageError('--force: only with --full (a run without --full does only what is new, changed or stale, and writes that anyway): add --full, or leave --force out');
  try {
    parseRunInput(input, config);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const p = error.problems[0]!;
    const field = p.field.replace(/^input\./, '').replace(/\[\d+\]$/, '');
    throw new UsageError(`${FLAG_OF[field] ?? p.field}: expected ${p.expected}, received ${p.received}`);
  }
}
