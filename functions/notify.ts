/**
 * Notify: the one email of a run that reached its end, from report.json (after Aggregate) or
 * from plan.json (when the plan found nothing to do).
 */
import { type Email, LOCAL_IMPORT_ENV, nothingToDoEmail, runEmail, skippedEmail } from '../core/email';
import type { RunInput } from '../core/input';
import { runKeys } from '../core/keys';
import { type Report, ReportFold, type ReportMeta, shouldPromoteCatalog, type Trigger } from '../core/report';
import { renderReportHtml } from '../core/report-html';
import type { Plan } from '../core/plan';
import { getJson, getJsonIfExists, putJson, putText } from '../adapters/s3';
import type { PromotionRecord } from './aggregate';
import { emailLinks, functionContext } from './context';
import { releaseLease } from './lease';
import { readStart, recordEnd } from './ledger';
import { type Published, publishOnce } from './publish';
import { announceRun } from './run-event';

export interface NotifyEvent {
  readonly runId: string;
  readonly trigger: Trigger;
  readonly startedAt: string;
  readonly executionArn?: string;
  /** `report`: after Aggregate; `nothing-to-do`: straight from the plan; `skipped`: another run was in progress. */
  readonly kind: 'report' | 'nothing-to-do' | 'skipped';
  /** For `skipped`: the run this one gave way to. */
  readonly skip?: { readonly activeRun: string; readonly activeArn?: string; readonly activeSince: string; readonly leaseUntil?: string; readonly input?: RunInput };
}

/**
 * A night with nothing to do writes its report too (report.json and report.html, from the plan):
 * `status`, `history` and the local runner read the same counts on every night.
 */
async function writeQuietReport(ctx: ReturnType<typeof functionContext>, plan: Plan, meta: Omit<ReportMeta, 'catalogPromoted'>): Promise<void> {
  const report = new ReportFold(plan).report({ ...meta, catalogPromoted: !meta.superseded && shouldPromoteCatalog(plan) });
  const keys = runKeys(plan.runId);
  await Promise.all([putJson(ctx.s3, ctx.config.buckets.work, keys.report, report), putText(ctx.s3, ctx.config.buckets.work, keys.reportHtml, renderReportHtml(report), 'text/html')]);
}

export async function handler(event: NotifyEvent): Promise<Published> {
  const ctx = functionContext();
  const keys = runKeys(event.runId);
  const { work } = ctx.config.buckets;
  if (event.kind === 'report') {
    const report = await getJson<Report>(ctx.s3, work, keys.report);
    const email = await announceRun(ctx, runEmail(report, emailLinks(ctx, event.runId, event.executionArn, true)), { runId: event.runId, status: report.status, records: report.records });
    const published = await publishOnce(ctx, event.runId, email);
    await recordEnd(ctx, event.runId, 'report');
    await releaseLease(ctx, event.executionArn);
    return published;
  }
  if (event.kind === 'skipped') {
    const skip = event.skip ?? { activeRun: 'another run', activeSince: event.startedAt };
    const ask = { input: event.skip?.input, configuredPresets: ctx.config.presets.map((p) => p.name), imported: ctx.env[LOCAL_IMPORT_ENV] || undefined };
    return publishOnce(ctx, event.runId, skippedEmail({ runId: event.runId, ...skip, startedAt: event.startedAt, trigger: event.trigger, workBucket: work, ask }, emailLinks(ctx, event.runId, event.executionArn, false)));
  }
  const plan = await getJson<Plan>(ctx.s3, work, keys.plan);
  const interrupted = (await readStart(ctx, event.runId))?.interrupted;
  const superseded = (await getJsonIfExists<PromotionRecord>(ctx.s3, work, keys.promotion))?.value.superseded;
  const meta = { trigger: event.trigger, startedAt: event.startedAt, finishedAt: new Date().toISOString(), interrupted, superseded };
  await writeQuietReport(ctx, plan, meta);
  // The report is there; a night with nothing to do has no failures.csv or change feed.
  const links = { ...emailLinks(ctx, event.runId, event.executionArn, true), failuresCsv: undefined, changes: undefined };
  const quiet = nothingToDoEmail(plan, meta, links);
  const email: Email = await announceRun(ctx, quiet, { runId: event.runId, status: 'NOTHING_TO_DO' });
  const published = await publishOnce(ctx, event.runId, email);
  await recordEnd(ctx, event.runId, 'nothing-to-do');
  await releaseLease(ctx, event.executionArn);
  return published;
}
