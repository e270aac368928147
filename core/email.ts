/**
 * The one email per run, as plain text (SNS email is plain text, so the text is the contract).
 * The subject is ASCII, under 100 characters, one line (SNS's rules); the first line of the body
 * is a sentence a person can act on; the whole message stays under SNS's 256 KB limit however
 * many failures there are.
 */
import { LEASE_KEY } from './lease';
import { type InterruptedRun, interruptedWords } from './last-run';
import { catalogueOutcome, type DryRunPlan, operationCounts, type OperationTotals, outcomeOf, planRunCounts, type Report, type RunCounts, runCounts, skippedTotal, type Superseded, SUPERSEDED_WORDS, type Trigger } from './report';
import { adviceOf } from './failures';
import { backfillWords, type Plan } from './plan';
import { OPERATIONS, type RunInput } from './input';
import { bytes, count, duration, n, plural, usd, utcMinute } from './format';
import { changeWords, invalidationWords } from './records/feed';
import { uploadLaneWords } from './upload-lane';
import type { RunCost } from './cost';
import { explanationLines } from './explain';

export const SNS_MESSAGE_MAX_BYTES = 262_144;
export const SUBJECT_MAX_CHARS = 99;
/** Room kept free below the SNS limit for the message's envelope. */
const BODY_BUDGET_BYTES = SNS_MESSAGE_MAX_BYTES - 8_192;

export interface Email {
  readonly subject: string;
  readonly text: string;
}

export interface EmailLinks {
  /** The execution in the Step Functions console (or the local run's log folder). */
  readonly execution?: string;
  readonly report?: string;
  readonly reportJson?: string;
  readonly failuresCsv?: string;
  /** The change feed (runs/<runId>/changes.jsonl): an s3:// URI, or the local copy. */
  readonly changes?: string;
}

/** Skips by reason: "too-large 1, rendition-key-collision 2". */
export const skipReasons = (skipped: Readonly<Record<string, number>>) => Object.entries(skipped).map(([code, c]) => `${code} ${n(c)}`).join(', ');

/** What the prune did, in a clause: "6 renditions of 2 deleted originals pruned". */
export const prunedWords = (c: Pick<RunCounts, 'pruned' | 'prunedRenditions'>) => `${count(c.prunedRenditions, 'rendition')} of ${count(c.pruned, 'deleted original')} pruned`;

/**
 * What happened to the images, in words that claim no work that was not done: rendered, backed
 * up, already current, skipped (by reason), pruned, failed; each only when it happened.
 */
export function outcomeWords(report: Pick<Report, 'operations'>, c: RunCounts): string {
  const skipped = skippedTotal(c);
  const parts = [
    report.operations.resize && `${n(c.rendered)} rendered`,
    report.operations.backup && `${n(c.backedUp)} backed up`,
    c.current > 0 && `${n(c.current)} already current`,
    skipped > 0 && `${n(skipped)} skipped (${skipReasons(c.skipped)})`,
    c.pruned > 0 && prunedWords(c),
    c.failed > 0 ? `${n(c.failed)} failed, see below` : 'none failed',
  ].filter((x): x is string => Boolean(x));
  return parts.join(', ');
}

/** How a dry run's subject begins; what follows is what a run would do. */
export const DRY_RUN_SUBJECT = 'nightshift: DRY RUN, ';

/**
 * The subject: what happened in a few words and the most important number, from the same counts
 * as the body ("nightshift: 1,204 rendered, 3 failed", "nightshift: run HELD (prune guard)").
 */
export function runSubject(report: Pick<Report, 'dryRun' | 'superseded' | 'dryRunPlan'>, c: RunCounts): string {
  const dry = report.dryRunPlan;
  if (dry) return subjectLine(`${DRY_RUN_SUBJECT}would back up ${n(dry.copy.objects)} and render ${count(dry.render.objects, 'image')}`);
  if (report.dryRun) return subjectLine(`${DRY_RUN_SUBJECT}${count(c.due, 'image')} with work due`);
  const flags = [report.superseded && 'SUPERSEDED', c.held > 0 && 'run HELD (prune guard)'].filter(Boolean);
  return subjectLine(`nightshift: ${[...flags, countWords(c)].join(', ')}`);
}

/** The counts that matter, in a few words: the subject's, and each line of `nightshift history`. */
export function countWords(c: RunCounts): string {
  const parts = [
    c.rendered > 0 && `${n(c.rendered)} rendered`,
    c.backedUp > 0 && c.rendered === 0 && `${n(c.backedUp)} backed up`,
    c.pruned > 0 && prunedWords(c),
    c.failed > 0 && `${n(c.failed)} failed`,
  ].filter((x): x is string => Boolean(x));
  return parts.length ? parts.join(', ') : c.due > 0 ? `${count(c.due, 'image')} checked, all current` : 'nothing to do';
}

/** SNS subjects: printable ASCII, one line, under 100 characters. */
export function subjectLine(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, '?').replace(/\s+/g, ' ').trim();
  return ascii.length <= SUBJECT_MAX_CHARS ? ascii : `${ascii.slice(0, SUBJECT_MAX_CHARS - 3)}...`;
}

const TRIGGER: Record<Trigger, string> = { schedule: 'schedule', console: 'Step Functions console', cli: 'nightshift run (CLI)', local: 'local run (npm start / nightshift local)' };

function field(label: string, value: string): string {
  return `${label.padEnd(10)} ${value}`;
}

function linkLines(links: EmailLinks): string[] {
  return [
    links.execution && field('Execution', links.execution),
    links.report && field('Report', links.report),
    links.reportJson && field('Data', links.reportJson),
    links.failuresCsv && field('Failures', links.failuresCsv),
  ].filter((x): x is string => Boolean(x));
}

function catalogueLines(objects: Report['objects'], deleted?: Report['deleted'], examples = 10): string[] {
  const skipped = Object.entries(objects.skipped);
  const named = deleted?.sample.slice(0, examples) ?? [];
  const more = objects.deleted - named.length;
  return [
    field('Catalogue', `${count(objects.listed, 'object')} listed: ${n(objects.new)} new, ${n(objects.changed)} changed, ${n(objects.unchanged)} unchanged, ${n(objects.deleted)} deleted since the last run`),
    ...(named.length ? [field('', `deleted: ${named.map((k) => JSON.stringify(k)).join(', ')}${more > 0 ? ` and ${n(more)} more (all in ${deleted!.list})` : ''}`)] : []),
    ...(skipped.length ? [field('', `left alone by the filter: ${skipped.map(([k, v]) => `${k} ${n(v)}`).join(', ')}`)] : []),
    ...(objects.backfill ? [field('', backfillWords(objects.backfill))] : []),
  ];
}

/** The paragraph on the run before this one, when it never ended. */
function interruptedLines(run: InterruptedRun | undefined): string[] {
  return run ? ['', `Previous run: ${interruptedWords(run)}`] : [];
}

/** The paragraph on a run a newer one superseded: its catalogue was not promoted. */
function supersededLines(superseded: Superseded | undefined): string[] {
  return superseded ? ['', `This run was ${SUPERSEDED_WORDS}${superseded.by ? ` (${superseded.by})` : ''}. What it did is kept; what the newer run did not cover is planned again by the next run.`] : [];
}

/** The email after a run that got to Aggregate (with or without per-object failures). */
export function runEmail(report: Report, links: EmailLinks = {}): Email {
  const c = runCounts(report);
  const what = `${count(c.due, 'image')} with work due${report.full ? ' (full run)' : ''}`;
  const lead = report.dryRunPlan
    ? `Dry run: ${dryRunWords(report.dryRunPlan)}. Nothing was written outside the run's folder.`
    : report.dryRun
      ? `Dry run: ${what} would be processed; nothing was written outside the run's folder.`
      : `${what}: ${outcomeWords(report, c)}.`;
  const subject = runSubject(report, c);
  const lines = [
    lead,
    ...supersededLines(report.superseded),
    ...interruptedLines(report.interrupted),
    '',
    field('Run', report.runId),
    field('Status', outcomeOf(report, c)),
    field('Trigger', TRIGGER[report.trigger]),
    field('Started', utcMinute(report.startedAt)),
    field('Finished', `${utcMinute(report.finishedAt)} (${duration(report.durationMs)})`),
    field('Scope', `${report.prefix ? `prefix ${report.prefix}` : 'whole corpus'}${report.full ? ', full run' : ''}; presets ${report.presets.join(', ')}`),
    '',
    ...catalogueLines(report.objects, report.deleted),
    ...whyLines(report.explain, report.objects),
    ...(report.dryRunPlan
      ? dryRunPlanLines(report.dryRunPlan)
      : [
          ...operationLines(report),
          ...pruneLines(report),
          ...recordsLines(report.records, links),
          ...estimateLines(report.estimate),
        ]),
    field('Catalogue', catalogueOutcome(report)),
  ];
  const failed = report.failed.total;
  if (failed > 0) {
    lines.push('', `Failures: ${n(failed)} in all. Most frequent reasons:`);
    for (const r of report.failed.reasons.slice(0, 10)) {
      lines.push(`  ${r.operation.padEnd(7)} ${(r.cause ?? r.code).padEnd(20)} ${n(r.count).padStart(7)}   e.g. ${r.examples.map((k) => JSON.stringify(k)).join(', ')}`);
      lines.push(`          ${r.advice ?? adviceOf(r.code)}`);
    }
    const { retryable } = report.failed;
    if (retryable > 0) lines.push(`  ${n(retryable)} of them may succeed on a rerun (transient); the rest need the source fixed.`);
  }
  lines.push('', ...linkLines(links));
  return fit({ subject, text: `${lines.join('\n')}\n` });
}

/**
 * Backup and Resize, one line each, in the lead's words: done, already current, skipped (by
 * reason), failed, and the bytes. Resize counts images rendered; pruned originals have their line.
 */
function operationLines(report: Report): string[] {
  const line = (label: string, op: 'backup' | 'resize', verb: string, prunes: number, extra: (t: OperationTotals) => string) => {
    const t = report.operations[op];
    if (!t) return [];
    const o = operationCounts(t, prunes);
    const skipped = skippedTotal(o);
    return [field(label, `${n(o.done)} ${verb}, ${n(o.current)} already current, ${n(skipped)} skipped${skipped ? ` (${skipReasons(o.skipped)})` : ''}, ${n(o.failed)} failed${extra(t)}`)];
  };
  return [
    ...line('Backup', 'backup', 'copied', 0, (t) => ` (${bytes(t.bytesWritten)} copied server-side)`),
    ...line('Resize', 'resize', 'rendered', report.prune.originals, (t) => ` (read ${bytes(t.bytesRead)}, wrote ${bytes(t.bytesWritten)})`),
  ];
}

/** What the run did to the image records, in one line with where its change feed is, and the CDN invalidation that followed. */
export function recordsLines(records: Report['records'], links: EmailLinks = {}): string[] {
  if (!records) return [];
  return [
    field('Records', `${changeWords(records.changes)}${records.backfilled ? ` (${n(records.backfilled)} by backfill, without re-rendering)` : ''}; change feed ${links.changes ?? records.feed}`),
    ...(uploadLaneWords(records.uploadLane) ? [field('On upload', uploadLaneWords(records.uploadLane)!)] : []),
    ...(records.invalidation ? [field('CDN', invalidationWords(records.invalidation))] : []),
  ];
}

/** What a real run would do, in one clause: "a real run now would back up 3 images (1.2 MB) and write 24 renditions of 3 images". */
export function dryRunWords(p: DryRunPlan): string {
  const parts = [
    p.copy.objects > 0 && `back up ${count(p.copy.objects, 'original')} (${bytes(p.copy.bytes)})`,
    p.render.objects > 0 && `write ${count(p.render.renditions, 'rendition')} of ${count(p.render.objects, 'image')}`,
    p.prune.objects > 0 && `prune ${count(p.prune.renditions, 'rendition')} of ${n(p.prune.objects)} deleted ${plural(p.prune.objects, 'original')}`,
  ].filter((x): x is string => Boolean(x));
  if (parts.length === 0) return 'a real run now would do nothing: every output is current';
  return `a real run now would ${parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : parts[0]}`;
}

/** A dry run's plan, per action, with what it would take and where its keys are. */
function dryRunPlanLines(p: DryRunPlan): string[] {
  const current = (op: 'backup' | 'resize') => (p.current[op] ? ` (${n(p.current[op])} already current)` : '');
  const requests = Object.values(p.cost.requests).reduce((a, b) => a + b, 0);
  const lines = [
    field('Would do', `back up ${count(p.copy.objects, 'original')}: ${bytes(p.copy.bytes)} to copy server-side${current('backup')}`),
    field('', `render ${count(p.render.objects, 'image')} (${bytes(p.render.bytes)} to read) into ${count(p.render.renditions, 'rendition')}; the bytes they take are known once rendered${current('resize')}`),
  ];
  if (p.prune.objects > 0) lines.push(field('', `prune ${count(p.prune.renditions, 'rendition')} of ${n(p.prune.objects)} deleted ${plural(p.prune.objects, 'original')} (their backups are kept)`));
  lines.push(
    field('Estimate', `${duration(p.expectedSeconds * 1000)} on the configured compute; about ${usd(p.cost.totalUsd)} (compute ${usd(p.cost.computeUsd)}, ${count(requests, 'S3 request')} ${usd(p.cost.requestsUsd)}${costExtras(p.cost)})`),
    field('Keys', `${p.list}: one line per object (key, operation, action, bytes, renditions)`),
  );
  return lines;
}

/** The records' and CDN's share of an estimate, when priced: ", 2,400 DynamoDB write units $0.0015, 40 invalidation paths $0.00". */
export function costExtras(c: RunCost): string {
  return [
    c.records && `, ${count(c.records.writeRequestUnits, 'DynamoDB write unit')} ${usd(c.records.usd)}`,
    c.invalidation && `, ${count(c.invalidation.paths, 'invalidation path')} ${usd(c.invalidation.usd)}`,
    c.api && `, ${count(c.api.requests, 'API request')} ${usd(c.api.usd)}`,
  ]
    .filter(Boolean)
    .join('');
}

/** What the plan expected: duration and cost, and a warning with the fix when the run cannot fit its execution. */
export function estimateLines(estimate: Report['estimate']): string[] {
  if (!estimate) return [];
  const lines: string[] = [];
  const c = estimate.cost;
  const requests = c ? Object.values(c.requests).reduce((a, b) => a + b, 0) : 0;
  lines.push(field('Estimate', `${duration(estimate.expectedSeconds * 1000)} expected${c ? `; about ${usd(c.totalUsd)} (compute ${usd(c.computeUsd)}, ${count(requests, 'S3 request')} ${usd(c.requestsUsd)}${costExtras(c)})` : ''}`));
  if (!estimate.fits && estimate.advice) lines.push(field('WARNING', `this run may not finish inside the execution: ${estimate.advice}`));
  return lines;
}

/**
 * How to confirm a held prune, in the words of the runtime that ran: a local run has no console
 * input, only the CLI flag (the trigger is 'local' for every `local-…` execution, core/trigger.ts).
 */
export function confirmPruneAdvice(trigger: Trigger): string {
  return trigger === 'local'
    ? 'start a run with `nightshift local --confirm-prune`'
    : 'start a run with `nightshift run --confirm-prune`, or from the console with the input {"confirmPrune": true}';
}

/** Renditions of deleted originals: how many were pruned (the first few by name), or why none were. */
export function pruneLines(report: Pick<Report, 'prune' | 'dryRun' | 'trigger'>, examples = 20): string[] {
  const p = report.prune;
  const lines: string[] = [];
  if (p.originals > 0) {
    lines.push(field('Pruned', `${count(p.renditions, 'rendition')} of ${n(p.originals)} deleted ${plural(p.originals, 'original')}${report.dryRun ? ' would be deleted' : ' deleted'} (their backups are kept):`));
    for (const x of p.pruned.slice(0, examples)) lines.push(`  ${JSON.stringify(x.key)} (${n(x.renditions.length)})`);
    if (p.originals > examples) lines.push(`  ... and ${n(p.originals - examples)} more, ${p.originals > p.pruned.length ? `the first ${n(p.pruned.length)} named in the report` : 'named in the report'}`);
  }
  if (p.held > 0) {
    lines.push(
      field('Prune', `HELD: ${n(p.held)} deleted ${plural(p.held, 'original')} ${p.held === 1 ? 'is' : 'are'} ${(p.share * 100).toFixed(1)}% of the catalogue, more than renditions.maxPruneShare (${(p.maxShare * 100).toFixed(1)}%); their renditions were kept.`),
      field('', `If the deletions are intended, ${confirmPruneAdvice(report.trigger)}; if not, restore the originals (their backups are kept).`),
    );
  }
  return lines;
}

/** Why the work was due, and presets held or removed (core/explain.ts), one field a line. */
function whyLines(explain: Plan['explain'], counts: Pick<Plan['counts'], 'new' | 'changed'>): string[] {
  return explain ? explanationLines(explain, counts).map((l) => field(l.label, l.text)) : [];
}

/** The email when the plan found nothing to do. */
export function nothingToDoEmail(plan: Plan, meta: { trigger: Trigger; startedAt: string; finishedAt: string; interrupted?: InterruptedRun; superseded?: Superseded }, links: EmailLinks = {}): Email {
  const ms = Date.parse(meta.finishedAt) - Date.parse(meta.startedAt);
  const lead = plan.warnings?.length
    ? `Nothing done: ${plan.warnings[0]}`
    : plan.operations.length === 0
      ? 'Catalogue written; no backup or resize was requested (operations: []).'
      : `Nothing to do: no images with work due among the ${n(plan.counts.selected)} selected.`;
  const lines = [
    lead,
    ...supersededLines(meta.superseded),
    ...interruptedLines(meta.interrupted),
    '',
    field('Run', plan.runId),
    field('Status', outcomeOf({ status: 'NOTHING_TO_DO', dryRun: plan.dryRun, superseded: meta.superseded }, planRunCounts(plan))),
    field('Trigger', TRIGGER[meta.trigger]),
    field('Started', utcMinute(meta.startedAt)),
    field('Finished', `${utcMinute(meta.finishedAt)} (${duration(ms)})`),
    field('Scope', `${plan.prefix ? `prefix ${plan.prefix}` : 'whole corpus'}${plan.dryRun ? ', dry run' : ''}`),
    '',
    ...catalogueLines(plan.counts, plan.deleted),
    ...whyLines(plan.explain, plan.counts),
    ...(plan.warnings ?? []).map((w) => field('WARNING', w)),
    ...pruneLines({ trigger: meta.trigger, dryRun: plan.dryRun, prune: { originals: 0, renditions: 0, held: plan.prune?.held ?? 0, share: plan.prune?.share ?? 0, maxShare: plan.prune?.maxShare ?? 0, pruned: [] } }),
    '',
    ...linkLines(links),
  ];
  // A held prune is the news of a night that had only deletions to do: said instead of "nothing to do".
  const held = (plan.prune?.held ?? 0) > 0;
  const what = [meta.superseded && 'SUPERSEDED', held && 'run HELD (prune guard)', plan.warnings?.length ? `WARNING, no object matched prefix ${plan.prefix}` : !held && 'nothing to do'].filter(Boolean).join(', ');
  return { subject: subjectLine(`nightshift: ${what}`), text: `${lines.join('\n')}\n` };
}

export interface WorkflowFailure {
  readonly runId: string;
  /** The state that failed, e.g. Plan, Resize. */
  readonly state: string;
  readonly error: string;
  readonly cause: string;
  readonly startedAt: string;
  readonly failedAt: string;
  /** What to type or click to try again. */
  readonly rerun: string;
}

/** The email when the workflow itself failed (a state's Catch). */
export function failureEmail(f: WorkflowFailure, links: EmailLinks = {}): Email {
  const cause = f.cause.length > 20_000 ? `${f.cause.slice(0, 20_000)}... (cut; the full cause is in the execution history)` : f.cause;
  const hint = NEXT_STEP[f.error] ?? 'Read the cause below and the execution history; once fixed, redrive the execution or start a new run.';
  const lines = [
    `Run failed in ${f.state}: ${f.error}. ${hint}`,
    '',
    field('Run', f.runId),
    field('Status', 'failed'),
    field('State', f.state),
    field('Error', f.error),
    field('Started', utcMinute(f.startedAt)),
    field('Failed', `${utcMinute(f.failedAt)} (${duration(Date.parse(f.failedAt) - Date.parse(f.startedAt))})`),
    '',
    'Cause:',
    ...cause.split('\n').map((l) => `  ${l}`),
    '',
    'Next:',
    `  ${f.rerun}`,
    '',
    ...linkLines(links),
  ];
  return fit({ subject: subjectLine(`nightshift ${utcMinute(f.startedAt)}: FAILED in ${f.state} (${f.error})`), text: `${lines.join('\n')}\n` });
}

/** A local run's marker is stale this long after its last heartbeat (MARKER_EXPIRY_MS in local/runner.ts). */
export const LOCAL_MARKER_EXPIRY_MINUTES = 2.5;

/** The local runtime tells its functions the folder `--import` copied into the corpus (a deployment has none). */
export const LOCAL_IMPORT_ENV = 'NIGHTSHIFT_LOCAL_IMPORT';

/** What a skipped run was asked to do: its input as Prepare parsed it, and for a local run the folder it imported first. */
export interface SkippedAsk {
  readonly input?: RunInput;
  /** The presets configured: a run given all of them is not a presets-limited run. */
  readonly configuredPresets?: readonly string[];
  /** `nightshift local --import <dir>`: the folder copied into the corpus before the run started. */
  readonly imported?: string;
}

/** The command that starts this run again with what it was asked: `nightshift local --prefix a/ --dry-run`, or `nightshift run …` in AWS. */
export function startAgainCommand(runId: string, ask: SkippedAsk = {}): string {
  const i = ask.input;
  const flags = i
    ? [
        i.prefix ? `--prefix ${shellWord(i.prefix)}` : '',
        i.operations.length !== OPERATIONS.length ? `--ops ${i.operations.length ? i.operations.join(',') : "''"}` : '',
        ask.configuredPresets && i.presets.length < ask.configuredPresets.length ? `--presets ${i.presets.join(',')}` : '',
        i.dryRun ? '--dry-run' : '',
        i.full ? '--full' : '',
        i.force ? '--force' : '',
        i.confirmPrune ? '--confirm-prune' : '',
      ].filter(Boolean)
    : [];
  return [runId.startsWith('local-') ? 'nightshift local' : 'nightshift run', ...flags].join(' ');
}

const shellWord = (text: string) => (/^[\w./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`);

/**
 * What the operator does about a skipped run, by what it was asked: a plain run's work is the
 * active run's too; a dry run, a partial or forced run, or a local run that imported files first
 * did something the active run does not, and starts again once it ends.
 */
function skippedAdvice(s: { runId: string; activeRun: string }, ask: SkippedAsk): string {
  const again = startAgainCommand(s.runId, ask);
  if (ask.imported !== undefined) return `The files imported from ${ask.imported} are in the corpus, but run ${s.activeRun} may have listed it before they arrived. Once it ends, run ${again}: it does whatever run ${s.activeRun} left undone (no need to import again).`;
  if (ask.input?.dryRun) return `This dry run planned nothing. Once run ${s.activeRun} ends, start it again (${again}): its plan then counts what is left to do.`;
  if (again.includes(' --')) return `This run's work (${again}) was not done, and run ${s.activeRun} may not do it. Once it ends, start this one again: ${again}.`;
  return `Nothing, usually: the active run covers the corpus. If it was a partial run (a prefix, some operations or presets, or a dry run), start this one again once it ends: ${again}.`;
}

/** The email when a run gave way to another run that was still in progress. */
export function skippedEmail(s: { runId: string; activeRun: string; activeArn?: string; activeSince: string; leaseUntil?: string; startedAt: string; trigger: Trigger; workBucket?: string; ask?: SkippedAsk }, links: EmailLinks = {}): Email {
  // How to clear a run that is not really running any more: an AWS execution is stopped; a local
  // run's marker expires once its process stops beating (local/runner.ts), or is deleted.
  const clear = s.activeRun.startsWith('local-')
    ? `If run ${s.activeRun} is not running any more (its process was killed), its marker s3://${s.workBucket ?? '<work bucket>'}/running/${s.activeRun}.json expires ${LOCAL_MARKER_EXPIRY_MINUTES} minutes after its last heartbeat, or delete it now; then start this run again.`
    : `If run ${s.activeRun} is stuck, stop it (Step Functions console: Stop execution; or aws stepfunctions stop-execution --execution-arn ${s.activeArn ?? '<its execution ARN>'}), ${s.leaseUntil ? `then delete its run lease s3://${s.workBucket ?? '<work bucket>'}/${LEASE_KEY} (a stopped run does not release it; it expires ${utcMinute(s.leaseUntil)}), ` : ''}then start this run again.`;
  const lines = [
    `Skipped: run ${s.activeRun} was still in progress (since ${utcMinute(s.activeSince)}), so this run did nothing rather than race it.`,
    '',
    field('Run', s.runId),
    field('Status', 'skipped'),
    field('Trigger', TRIGGER[s.trigger]),
    field('Started', utcMinute(s.startedAt)),
    field('Active run', s.activeRun),
    '',
    'Next:',
    `  ${skippedAdvice(s, s.ask ?? {})}`,
    `  ${clear}`,
    '',
    ...linkLines(links),
  ];
  return { subject: subjectLine(`nightshift ${utcMinute(s.startedAt)}: skipped, run ${s.activeRun} in progress`), text: `${lines.join('\n')}\n` };
}

const NEXT_STEP: Record<string, string> = {
  InvalidInput: 'The run input was rejected before anything ran; fix the input and start again.',
  'States.Timeout': 'A step ran longer than its timeout; consider more shards (shards.targetObjects) or a longer job timeout.',
  'States.TaskFailed': 'A job or function failed after its retries.',
};

/** An email with one more warning line at its end (a Run Completed event that could not be put). */
export function withWarning(email: Email, warning: string): Email {
  return fit({ subject: email.subject, text: `${email.text}\n${field('WARNING', warning)}\n` });
}

/** Keeps a message under the SNS limit: cuts the body at a line boundary and says so. */
export function fit(email: Email, maxBytes = BODY_BUDGET_BYTES): Email {
  if (Buffer.byteLength(email.text) <= maxBytes) return email;
  const note = '\n... (cut to fit the email size limit; the full report has everything)\n';
  const lines = email.text.split('\n');
  let size = Buffer.byteLength(note);
  const kept: string[] = [];
  for (const line of lines) {
    const add = Buffer.byteLength(line) + 1;
    if (size + add > maxBytes) break;
    kept.push(line);
    size += add;
  }
  return { subject: email.subject, text: `${kept.join('\n')}${note}` };
}
