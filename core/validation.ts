/**
 * One way to turn a schema failure into an error an operator can act on: every problem names the
 * field (as a path from the root the caller names), the value received, what is allowed, and how
 * to fix it where there is more to say than "use an allowed value".
 */
import leven from 'leven';
import type { z } from 'zod';

export interface FieldProblem {
  /** Dotted path from the root, e.g. `input.operations[1]` or `config.presets[0].formats`. */
  readonly field: string;
  /** The value that was received, as JSON (truncated), or `(missing)`. */
  readonly received: string;
  /** What was expected, in words. */
  readonly expected: string;
}

export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    /** What was being validated: `input`, `config`, `environment`… */
    readonly subject: string,
    readonly problems: readonly FieldProblem[],
    /** One sentence on how to fix it, shown after the problems. */
    readonly fix?: string,
  ) {
    super(formatProblems(subject, problems, fix));
  }
}

/**
 * A caller's mistake that one line explains (a flag, an environment variable, an argument): the
 * CLI and the jobs print its message alone and exit 2.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `; did you mean "resize"?` when one candidate is a typo away from `value`, else ''. */
export function didYouMean(value: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = leven(value.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? `; did you mean "${best}"?` : '';
}

function formatProblems(subject: string, problems: readonly FieldProblem[], fix?: string): string {
  const lines = problems.map((p) => `${p.field}: expected ${p.expected}, received ${p.received}`);
  const head = problems.length === 1 ? `Invalid ${subject}: ${lines[0]}` : `Invalid ${subject} (${problems.length} problems):\n  - ${lines.join('\n  - ')}`;
  return fix ? `${head}\n${fix}` : head;
}

/** Renders a value for an error message: JSON, cut to a readable length. */
export function showValue(value: unknown): string {
  if (value === undefined) return '(missing)';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

export function fieldPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `.${String(part)}`;
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `no field named ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (check the spelling against the documented fields)`;
    case 'invalid_type':
      return issue.expected === 'int' ? 'a whole number' : `a value of type ${issue.expected}`;
    case 'too_small':
      return issue.origin === 'array' || issue.origin === 'set'
        ? `at least ${String(issue.minimum)} item(s)`
        : issue.origin === 'string'
          ? `at least ${String(issue.minimum)} character(s)`
          : `a number ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'array' || issue.origin === 'set'
        ? `at most ${String(issue.maximum)} item(s)`
        : issue.origin === 'string'
          ? `at most ${String(issue.maximum)} character(s)`
          : `a number ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}`;
    case 'invalid_format':
      if (issue.format === 'email') return 'an email address such as ops@example.com';
      // A regex check carries its own wording (e.g. "an S3 bucket name (…)"); zod's default says only "Invalid string".
      if (issue.format === 'regex' && !issue.message.startsWith('Invalid')) return issue.message;
      return issue.format === 'regex' ? `a string matching ${String((issue as { pattern?: string }).pattern)}` : `a string in ${issue.format} format`;
    default:
      return issue.message;
  }
}

/** Parses `raw` with `schema`, or throws a ValidationError naming every bad field under `root`. */
export function parseWith<S extends z.ZodType>(schema: S, raw: unknown, root: string, fix?: string): z.output<S> {
  const result = schema.safeParse(raw, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue): FieldProblem[] => {
    // One problem per unknown key, with the nearest field the schema knows there.
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ field: fieldPath(root, [...issue.path, key]), received: showValue(pick(issue.input, key)), expected: unknownKey(key, knownKeys(schema, issue.path)) }));
    return [{ field: fieldPath(root, issue.path), received: showValue(issue.input), expected: describeIssue(issue) }];
  });
  throw new ValidationError(root, problems, fix);
}

function unknownKey(key: string, known: readonly string[]): string {
  const near = didYouMean(key, known);
  if (near) return `no field named ${JSON.stringify(key)} here${near}`;
  return known.length > 0 ? `no field named ${JSON.stringify(key)} here: the fields are ${known.join(', ')}` : `no field named ${JSON.stringify(key)} (check the spelling against the documented fields)`;
}

/** zod's definition of a schema, as far as walking it to a path needs. */
interface SchemaDef {
  readonly type: string;
  readonly shape?: Record<string, { _zod: { def: SchemaDef } }>;
  readonly innerType?: { _zod: { def: SchemaDef } };
  readonly element?: { _zod: { def: SchemaDef } };
  readonly in?: { _zod: { def: SchemaDef } };
}

/** The field names of the object schema at `path` (through optional, default, array and pipe wrappers); [] when there is none. */
export function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let def: SchemaDef | undefined = (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;
  const unwrap = () => {
    while (def && (def.innerType || def.in)) def = (def.innerType ?? def.in)!._zod.def;
  };
  for (const part of path) {
    unwrap();
    if (def?.type === 'array' && typeof part === 'number') def = def.element?._zod.def;
    else if (def?.type === 'object' && typeof part === 'string') def = def.shape?.[part]?._zod.def;
    else return [];
  }
  unwrap();
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function pick(value: unknown, key: string | undefined): unknown {
  return key !== undefined && value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}
