/**
 * The input of one run, as given to "Start execution" in the Step Functions console, by the
 * schedule (`{}`) or by `nightshift run`. Unknown fields and bad values are rejected with a message
 * naming the field, the value received and what is allowed.
 */
import { z } from 'zod';
import type { PipelineConfig } from './config';
import { parseWith, showValue, ValidationError } from './validation';

/**
 * The work a run may do, each as a Batch array job over the shards. Listing, filtering, sorting
 * and diffing are not among them: every run does them, to plan its work (and writes the sorted
 * catalogue). `[]` asks for the catalogue alone.
 */
export const OPERATIONS = ['backup', 'resize'] as const;
export type Operation = (typeof OPERATIONS)[number];
export const SHARD_OPERATIONS = OPERATIONS;
export type ShardOperation = Operation;

/** Names that earlier versions accepted and never read: refused with the reason. */
const ALWAYS_RUN = ['filter', 'sort'];

export const runInputSchema = z.strictObject({
  /** Only keys under this prefix are considered. Default: the whole corpus. */
  prefix: z.string().max(1024).optional(),
  /** Which work to do. Default: backup and resize. [] writes the catalogue only. */
  operations: z
    .array(
      z
        .string()
        .refine((op) => !ALWAYS_RUN.includes(op), { abort: true, message: `"backup" or "resize" (every run lists, filters and sorts the corpus to plan its work: those are not operations to choose; give [] for the catalogue only)` })
        .pipe(z.enum(OPERATIONS)),
    )
    .refine((ops) => new Set(ops).size === ops.length, 'each operation at most once')
    .optional(),
  /** Which presets to render (names from the configuration). Default: all configured presets. */
  presets: z.array(z.string().min(1)).min(1).optional(),
  /** Plan and report what would be done, write nothing outside runs/<runId>/. Default: false. */
  dryRun: z.boolean().optional(),
  /** Treat every selected object as work (ignore last night's catalogue); outputs that are current are still skipped. Default: false. */
  full: z.boolean().optional(),
  /** With `full`: re-encode every rendition, current or not (a backup that holds the original's version is still not copied again). Default: false. */
  force: z.boolean().optional(),
  /** Prune tonight even when more than renditions.maxPruneShare of the corpus was deleted (the guard held an earlier night). Default: false. */
  confirmPrune: z.boolean().optional(),
});
export type RunInputRaw = z.input<typeof runInputSchema>;

/** The run input with every default applied and every name checked against the configuration. */
export interface RunInput {
  readonly prefix: string;
  readonly operations: readonly Operation[];
  readonly presets: readonly string[];
  readonly dryRun: boolean;
  readonly full: boolean;
  readonly force: boolean;
  readonly confirmPrune: boolean;
}

const INPUT_FIX = 'Example of a valid input: {"prefix": "2026/11/", "operations": ["resize"], "presets": ["thumb"], "dryRun": true}. An empty object {} runs everything.';

/** Validates a run input against the schema and the configuration (preset names), applying defaults. */
export function parseRunInput(raw: unknown, config: Pick<PipelineConfig, 'presets'>): RunInput {
  const input = parseWith(runInputSchema, raw ?? {}, 'input', INPUT_FIX);
  if (input.force && !input.full) {
    throw new ValidationError('input', [{ field: 'input.force', received: 'true', expected: '"full": true beside it ("force" rewrites the outputs of a full run; without "full" a run does only what is new, changed or stale, which it writes anyway)' }], 'Start the run with {"full": true, "force": true}, or leave "force" out.');
  }
  const known = config.presets.map((p) => p.name);
  const unknown = (input.presets ?? []).map((name, i) => ({ name, i })).filter(({ name }) => !known.includes(name));
  if (unknown.length > 0) {
    throw new ValidationError(
      'input',
      unknown.map(({ name, i }) => ({ field: `input.presets[${i}]`, received: showValue(name), expected: `one of the configured presets ${known.map((k) => JSON.stringify(k)).join(', ')}` })),
      INPUT_FIX,
    );
  }
  return {
    prefix: input.prefix ?? '',
    operations: input.operations ?? [...OPERATIONS],
    presets: input.presets ?? known,
    dryRun: input.dryRun ?? false,
    full: input.full ?? false,
    force: input.force ?? false,
    confirmPrune: input.confirmPrune ?? false,
  };
}

/** The shard operations (backup, resize) a run asked for, in a fixed order. */
export function shardOperations(input: Pick<RunInput, 'operations'>): ShardOperation[] {
  return SHARD_OPERATIONS.filter((op) => input.operations.includes(op));
}
