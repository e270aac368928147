/** `nightshift schedule` and `nightshift synth`: read the configuration the stack would deploy. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dstSurprises, dstWarning, nextRuns, parseCron } from '../../core/cron';
import { synthesizeDefinition } from '../../local/definition';
import { LOCAL_BUCKETS } from '../../local/runner';
import { parsePipelineConfig } from '../../core/config';
import { projectConfig } from '../lib/project-config';
import { UsageError } from '../../core/validation';
import { isoInZone } from '../../core/format';

export async function scheduleCommand(values: Record<string, unknown>): Promise<number> {
  const count = values.count === undefined ? 5 : Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 100) throw new UsageError(`--count must be a whole number from 1 to 100, received "${String(values.count)}"`);
  const { schedule } = projectConfig({ file: values.config as string | undefined });
  if (!schedule.enabled) {
    process.stdout.write('The schedule is disabled (schedule.enabled: false): runs start only from the console or `nightshift run`.\n');
    return 0;
  }
  const zone = schedule.timeZone ?? 'UTC';
  const local = Intl.DateTimeFormat().resolvedOptions().timeZone;
  process.stdout.write(`Schedule: ${schedule.cron} in ${zone}${schedule.timeZone ? ' (EventBridge Scheduler)' : ' (EventBridge rule crons are UTC)'}\n\nNext ${count === 1 ? 'run' : `${count} runs`}:\n`);
  // ISO 8601 in UTC, and in the machine's zone beside it, the same whatever the locale.
  for (const at of nextRuns(parseCron(schedule.cron), new Date(), count, zone)) process.stdout.write(`  ${isoInZone(at, 'UTC')}${local !== 'UTC' ? `  ${isoInZone(at, local)} (${local})` : ''}\n`);
  const surprises = schedule.timeZone ? dstSurprises(parseCron(schedule.cron), schedule.timeZone, new Date()) : [];
  if (surprises.length > 0) process.stdout.write(`\nWarning: ${dstWarning(schedule.cron, zone, surprises)}\n`);
  if (!schedule.timeZone) process.stdout.write(`\nTo run at a local time across daylight saving changes, set "schedule.timeZone" (e.g. "${local !== 'UTC' ? local : 'Europe/Paris'}") in cdk.json.\n`);
  return 0;
}

export async function synthCommand(values: Record<string, unknown> = {}): Promise<number> {
  const outdir = mkdtempSync(join(tmpdir(), 'nightshift-synth-'));
  try {
    const config = projectConfig({ file: values.config as string | undefined });
    const definition = synthesizeDefinition(parsePipelineConfig({ buckets: LOCAL_BUCKETS, presets: config.presets, filter: config.filter, sort: config.sort, shards: config.shards, backup: config.backup, resize: config.resize }), outdir);
    process.stdout.write(`${JSON.stringify(definition, null, 2)}\n`);
    return 0;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
