/**
 * The Lambda handlers against real parts: the jobs run as processes over a small corpus on the
 * embedded S3 server, then prepare, aggregate, notify and notify-failure run in-process with the
 * environment Lambda would give them. Emails are read back from an SQS queue subscribed to the
 * SNS topic on the same server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { pipelineConfigKey, runKeys, STATE_CATALOG_KEY } from '../core/keys';
import { FAILURES_NAMED, failuresCsv, type Report } from '../core/report';
import type { Plan } from '../core/plan';
import { etagOf, getJson, getText, putJson, putText } from '../adapters/s3';
import { LAST_RUN_KEY, type LastRun } from '../core/last-run';
import { handler as aggregate } from '../functions/aggregate';
import { functionContext, resetFunctionContext, setFunctionLogWrite, withFunctionEnvironment, withPipelineConfig } from '../functions/context';
import { handler as prepareEntry } from '../functions/entry/prepare';
import { recordEnd } from '../functions/ledger';
import { handler as notify } from '../functions/notify';
import { handler as notifyFailure } from '../functions/notify-failure';
import { handler as prepare } from '../functions/prepare';
import { CLAIM_STALE_MS } from '../functions/publish';
import { photoJpeg } from '../local/sample/images';
import { CONDITIONAL_CONFLICT, type FaultProxy, startFaultProxy } from './support/fault-proxy';
import { startEmailInbox } from './support/inbox';
import { runJob, startTestS3, type TestS3 } from './support/processes';

const buckets = { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' };
const config = { buckets, presets: [{ name: 'thumb', width: 160, formats: ['jpeg'] }] };
/** A JPEG cut short: libvips says so as a premature end, or only as a warning failOn made an error (it varies from run to run). */
const CUT_JPEG = /jpeg-truncated|warning-as-error/;
let server: TestS3;
let sqs: SQSClient;
let queueUrl: string;
let tmp: string;
const saved = { ...process.env };

/** The emails delivered since the last call (deleted once read: SQS would deliver them again after the visibility timeout). */
async function inbox(): Promise<{ Subject: string; Message: string }[]> {
  const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
  for (const m of out.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  return (out.Messages ?? []).map((m) => JSON.parse(m.Body!) as { Subject: string; Message: string });
}

async function runJobs(runId: string, input: object): Promise<Plan> {
  const env = { AWS_ENDPOINT_URL_S3: server.endpoint, NIGHTSHIFT_RUN_ID: runId, NIGHTSHIFT_CONFIG: JSON.stringify(config), NIGHTSHIFT_TMPDIR: tmp, NIGHTSHIFT_INPUT: JSON.stringify(input) };
  expect((await runJob('catalog', env)).code).toBe(0);
  const plan = await getJson<Plan>(server.s3, 'work', runKeys(runId).plan);
  for (const op of plan.shardOperations) for (let i = 0; i < plan.shardCount; i++) expect((await runJob(op, { ...env, AWS_BATCH_JOB_ARRAY_INDEX: String(i) })).code).toBe(0);
  return plan;
}

const execution = (name: string, start = '2026-11-22T10:17:00.000Z') => ({ Id: `arn:aws:states:us-east-1:000000000000:execution:nightshift:${name}`, Name: name, StartTime: start });

const logged: Record<string, unknown>[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-fn-'));
  server = await startTestS3(Object.values(buckets));
  const inboxOf = await startEmailInbox(server.endpoint);
  ({ sqs, queueUrl } = inboxOf);
  const TopicArn = inboxOf.topicArn;
  Object.assign(process.env, {
    NIGHTSHIFT_CONFIG: JSON.stringify(config),
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ENDPOINT_URL_SNS: server.endpoint,
    AWS_REGION: 'us-east-1',
    NIGHTSHIFT_TOPIC_ARN: TopicArn,
    NIGHTSHIFT_TMPDIR: tmp,
    NIGHTSHIFT_SCHEDULE_CRON: 'cron(0 2 * * ? *)',
    NIGHTSHIFT_LOG_LEVEL: 'warn',
    NIGHTSHIFT_METRICS: 'off',
    // The Run Completed event goes to a file, as in a local run: no request to EventBridge leaves the machine.
    NIGHTSHIFT_LOCAL_EVENTS: join(tmp, 'events'),
  });
  resetFunctionContext();
  // The functions' log lines are kept for the tests to read, never printed among the runner's output.
  setFunctionLogWrite((line) => logged.push(JSON.parse(line) as Record<string, unknown>));
  for (const [i, key] of ['a/1.jpg', 'a/2.jpg', 'b/3.jpg'].entries()) await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: key, Body: await photoJpeg(320, 240, i) }));
  const whole = await photoJpeg(320, 240, 9);
  await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: 'b/broken.jpg', Body: whole.subarray(0, 500) }));
}, 120_000);

afterAll(async () => {
  process.env = saved;
  setFunctionLogWrite(undefined);
  resetFunctionContext();
  sqs?.destroy();
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('prepare', () => {
  it('fixes the run id, trigger and start, and applies input defaults', async () => {
    const run = await prepare({ input: { prefix: 'a/' }, execution: execution('cli-2026-11-22') });
    expect(run).toMatchObject({ runId: 'cli-2026-11-22', trigger: 'cli', input: { prefix: 'a/', operations: ['backup', 'resize'], presets: ['thumb'], dryRun: false } });
    expect((await prepare({ input: {}, execution: execution('3f2c9d1e', '2026-11-22T02:00:41.000Z') })).trigger).toBe('schedule');
    expect((await prepare({ input: {}, execution: execution('3f2c9d1e', '2026-11-22T10:17:00.000Z') })).trigger).toBe('console');
  });

  it('fails fast with InvalidInput naming the field', async () => {
    await expect(prepare({ input: { presets: ['huge'] }, execution: execution('x') })).rejects.toMatchObject({ name: 'InvalidInput', message: expect.stringContaining('input.presets[0]: expected one of the configured presets "thumb", received "huge"') });
  });
});

describe('the configuration in the work bucket (NIGHTSHIFT_CONFIG_S3)', () => {
  // Lambda allows 4 KB of environment variables per function, all of them together (Lambda
  // developer guide, "Lambda quotas"): the deployment writes the configuration to the work bucket
  // and gives the functions its address only (infra/pipeline-config.ts).
  const large = { ...config, filter: { excludePrefixes: Array.from({ length: 500 }, (_, i) => `archive/camera-uploads/${String(i).padStart(4, '0')}/`) } };
  const { NIGHTSHIFT_CONFIG: _inline, ...withoutInline } = process.env;
  const lambdaEnv = (pointer: string): NodeJS.ProcessEnv => ({ ...withoutInline, AWS_ENDPOINT_URL_S3: server.endpoint, AWS_REGION: 'us-east-1', NIGHTSHIFT_LOG_LEVEL: 'warn', NIGHTSHIFT_CONFIG_S3: pointer });
  const publish = async (value: object) => {
    const body = JSON.stringify(value);
    const key = pipelineConfigKey(body);
    await server.s3.send(new PutObjectCommand({ Bucket: 'work', Key: key, Body: body, ContentType: 'application/json' }));
    return { key, pointer: `s3://work/${key}` };
  };
  const configIn = (env: NodeJS.ProcessEnv) => withFunctionEnvironment(env, () => withPipelineConfig(async () => functionContext().config)(undefined));
  afterEach(() => resetFunctionContext());

  it('reads a configuration of 500 excludePrefixes once per container, through the handler\'s entry', async () => {
    const { key, pointer } = await publish(large);
    expect(JSON.stringify(large).length).toBeGreaterThan(4 * 1024); // more than Lambda's environment could hold
    const env = lambdaEnv(pointer);
    const run = await withFunctionEnvironment(env, () => prepareEntry({ input: { prefix: 'a/' }, execution: execution('cfg-2026-11-22') }));
    expect(run).toMatchObject({ runId: 'cfg-2026-11-22', input: { presets: ['thumb'] } });
    const first = await configIn(env);
    expect(first.filter.excludePrefixes).toEqual(large.filter.excludePrefixes);
    // A warm container reads it no more: with the object gone, it still has it.
    await server.s3.send(new DeleteObjectCommand({ Bucket: 'work', Key: key }));
    const warm = await configIn(env);
    expect(warm.filter.excludePrefixes).toHaveLength(500);
  });

  it('fails in one line naming the pointer when the object is missing, and a changed configuration is a new object', async () => {
    const missing = lambdaEnv('s3://work/config/pipeline-0000000000000000.json');
    await expect(configIn(missing)).rejects.toThrow(/^NIGHTSHIFT_CONFIG_S3=s3:\/\/work\/config\/pipeline-0000000000000000\.json: cannot read the configuration \(NoSuchKey[^\n]*deploy the stack again\.$/);
    const a = await publish(large);
    const b = await publish({ ...large, filter: { excludePrefixes: ['only/'] } });
    expect(b.key).not.toBe(a.key);
    expect((await configIn(lambdaEnv(a.pointer))).filter.excludePrefixes).toHaveLength(500);
    expect((await configIn(lambdaEnv(b.pointer))).filter.excludePrefixes).toEqual(['only/']);
  });
});

describe('aggregate and notify after a run', () => {
  const runId = 'fn-run-1';
  let plan: Plan;
  beforeAll(async () => {
    plan = await runJobs(runId, {});
  }, 120_000);

  it('writes report.json, report.html and failures.csv that account for every object', async () => {
    const summary = await aggregate({ runId, trigger: 'console', startedAt: '2026-11-22T10:00:00.000Z' });
    expect(summary).toEqual({ runId, status: 'COMPLETED_WITH_FAILURES', work: 4, failures: 1, catalogPromoted: true, reportKey: runKeys(runId).report });
    const report = await getJson<Report>(server.s3, 'work', runKeys(runId).report);
    expect(report.operations.resize).toMatchObject({ items: 4, processed: 3, failed: 1 });
    expect(report.operations.backup).toMatchObject({ items: 4, processed: 4, failed: 0 });
    expect(report.failures).toEqual([{ key: 'b/broken.jpg', operation: 'resize', code: 'decode-failed', cause: expect.stringMatching(CUT_JPEG), message: expect.any(String), retryable: false }]);
    expect(report.shards).toHaveLength(plan.shardCount * 2);
    expect(await getText(server.s3, 'work', runKeys(runId).failuresCsv)).toMatch(/^Bucket,Key,Operation,ErrorCode,Message\r\ncorpus,b\/broken\.jpg,resize,decode-failed,/);
    const html = await getText(server.s3, 'work', runKeys(runId).reportHtml);
    expect(html).toContain('<title>nightshift fn-run-1</title>');
    expect(html).toContain('b/broken.jpg');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/); // self-contained: no script, no network
  });

  it('promotes the catalogue, keeping permanent failures so they are not retried every night', async () => {
    const state = await getText(server.s3, 'work', STATE_CATALOG_KEY);
    expect(state.trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key)).toEqual(['a/1.jpg', 'a/2.jpg', 'b/3.jpg', 'b/broken.jpg']);
  });

  it('sends exactly one email per run, whatever is retried', async () => {
    const event = { runId, trigger: 'console' as const, startedAt: '2026-11-22T10:00:00.000Z', kind: 'report' as const, executionArn: 'arn:aws:states:us-east-1:000000000000:execution:nightshift:fn-run-1' };
    expect(await notify(event)).toMatchObject({ sent: true, subject: 'nightshift: 3 rendered, 1 failed' });
    const [email, ...rest] = await inbox();
    expect(rest).toEqual([]);
    expect(email!.Subject).toBe('nightshift: 3 rendered, 1 failed');
    expect(email!.Message.split('\n')[0]).toMatch(/^4 images with work due: 3 rendered, \d+ backed up, 1 failed, see below\.$/);
    expect(email!.Message).toMatch(CUT_JPEG);
    expect(email!.Message).toContain('https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn:aws:states');
    expect(await notify(event)).toMatchObject({ sent: false });
    // Notify published, then failed: the failure path must not send a second, contradicting email.
    await expect(notifyFailure({ runId, state: 'Notify', error: { Error: 'Lambda.Unknown' }, startedAt: event.startedAt })).rejects.toMatchObject({ name: 'RunFailed' });
    expect(await inbox()).toEqual([]);
  });
});

describe('a run limited to a prefix', () => {
  it('promotes by replacing only that prefix in the catalogue', async () => {
    await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: 'b/4.jpg', Body: await photoJpeg(320, 240, 4) }));
    await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: 'a/new-but-outside.jpg', Body: await photoJpeg(320, 240, 5) }));
    const plan = await runJobs('fn-run-2', { prefix: 'b/' });
    expect(plan.counts).toMatchObject({ listed: 3, new: 1, unchanged: 2, work: 1 });
    await aggregate({ runId: 'fn-run-2', trigger: 'cli', startedAt: '2026-11-22T11:00:00.000Z' });
    const state = await getText(server.s3, 'work', STATE_CATALOG_KEY);
    expect(state.trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key)).toEqual(['a/1.jpg', 'a/2.jpg', 'b/3.jpg', 'b/4.jpg', 'b/broken.jpg']);
  });
});

describe('two writers at once', () => {
  it('sends one email when several notify attempts run at the same time', async () => {
    const runId = 'fn-run-race';
    const event = { runId, trigger: 'console' as const, startedAt: '2026-11-22T12:00:00.000Z', kind: 'skipped' as const, skip: { activeRun: 'other', activeSince: '2026-11-22T11:59:00.000Z' } };
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => notify(event)));
    expect(outcomes.filter((o) => o.sent)).toHaveLength(1);
    const emails = await inbox();
    expect(emails.map((e) => e.Subject)).toHaveLength(1);
    expect(await getJson(server.s3, 'work', `runs/${runId}/notified.json`)).toMatchObject({ status: 'sent', messageId: outcomes.find((o) => o.sent)!.messageId });
  });

  it('tells a skipped local --import run that its files are in the corpus, and the command that renders them', async () => {
    // The embedded runtime names the imported folder to its functions (local/runner.ts); Prepare passes the run's input with the skip.
    const input = { prefix: '', operations: ['backup', 'resize'] as const, presets: ['thumb'], dryRun: false, full: false, force: false, confirmPrune: false };
    const event = { runId: 'local-20261122T120000Z-b1', trigger: 'local' as const, startedAt: '2026-11-22T12:00:00.000Z', kind: 'skipped' as const, skip: { activeRun: 'local-20261122T115900Z-a1', activeSince: '2026-11-22T11:59:00.000Z', input } };
    await withFunctionEnvironment({ ...process.env, NIGHTSHIFT_LOCAL_IMPORT: '/home/me/Pictures' }, () => notify(event));
    const [email] = await inbox();
    expect(email!.Message).toContain('\n  The files imported from /home/me/Pictures are in the corpus, but run local-20261122T115900Z-a1 may have listed it before they arrived. Once it ends, run nightshift local: it does whatever run local-20261122T115900Z-a1 left undone (no need to import again).\n');
  });

  it('lets a retry send when the attempt that claimed the email failed to publish, or died sending it long ago', async () => {
    await putJson(server.s3, 'work', 'runs/fn-run-failed/notified.json', { status: 'failed', at: '2026-11-22T12:00:00.000Z' });
    await putJson(server.s3, 'work', 'runs/fn-run-stale/notified.json', { status: 'sending', at: new Date(Date.now() - CLAIM_STALE_MS - 60_000).toISOString() });
    await putJson(server.s3, 'work', 'runs/fn-run-busy/notified.json', { status: 'sending', at: new Date().toISOString() });
    const send = (runId: string) => notify({ runId, trigger: 'console', startedAt: '2026-11-22T12:00:00.000Z', kind: 'skipped', skip: { activeRun: 'other', activeSince: '2026-11-22T11:59:00.000Z' } });
    expect([(await send('fn-run-failed')).sent, (await send('fn-run-stale')).sent, (await send('fn-run-busy')).sent]).toEqual([true, true, false]);
    expect(await inbox()).toHaveLength(2);
  });

  // A redrive of last night's run after tonight's promoted (or two runs the guard let through):
  // promotion writes over the version the plan diffed against (If-Match; S3 user guide, "How to
  // prevent object overwrites with conditional writes"), so the older run ends superseded.
  it('ends a run planned before another run promoted as superseded: the newer catalogue stands, and the report and email say so', async () => {
    await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: 'b/5.jpg', Body: await photoJpeg(320, 240, 6) }));
    const older = await runJobs('fn-run-older', { prefix: 'a/' });
    expect(older.stateCatalogEtag).toBe((await server.s3.send(new HeadObjectCommand({ Bucket: 'work', Key: STATE_CATALOG_KEY }))).ETag);
    await runJobs('fn-run-newer', { prefix: 'b/' });
    await aggregate({ runId: 'fn-run-newer', trigger: 'schedule', startedAt: '2026-11-23T02:00:00.000Z' });
    const newer = await server.s3.send(new GetObjectCommand({ Bucket: 'work', Key: STATE_CATALOG_KEY }));
    const newerText = await newer.Body!.transformToString();
    expect(newerText).toContain('b/5.jpg');
    // Its own aggregate again (a retry after the promotion's answer was lost): its own write, named in the metadata, is no newer run.
    expect(await aggregate({ runId: 'fn-run-newer', trigger: 'schedule', startedAt: '2026-11-23T02:00:00.000Z' })).toMatchObject({ catalogPromoted: true });
    expect((await server.s3.send(new HeadObjectCommand({ Bucket: 'work', Key: STATE_CATALOG_KEY }))).ETag).toBe(newer.ETag);

    const summary = await aggregate({ runId: 'fn-run-older', trigger: 'console', startedAt: '2026-11-22T12:00:00.000Z' });
    expect(summary).toMatchObject({ runId: 'fn-run-older', catalogPromoted: false, superseded: true });
    expect(logged).toContainEqual(expect.objectContaining({ level: 'warn', runId: 'fn-run-older', by: 'fn-run-newer' }));
    // Nothing of the newer run's was touched: the same object, byte for byte.
    const after = await server.s3.send(new GetObjectCommand({ Bucket: 'work', Key: STATE_CATALOG_KEY }));
    expect([after.ETag, await after.Body!.transformToString()]).toEqual([newer.ETag, newerText]);
    const report = await getJson<Report>(server.s3, 'work', runKeys('fn-run-older').report);
    expect(report).toMatchObject({ catalogPromoted: false, superseded: { by: 'fn-run-newer' } });
    expect(await getText(server.s3, 'work', runKeys('fn-run-older').reportHtml)).toContain("This run was superseded by a newer run: its catalogue was not promoted; the newer run&#39;s catalogue stands (fn-run-newer).");
    await inbox();
    expect(await notify({ runId: 'fn-run-older', trigger: 'console', startedAt: '2026-11-22T12:00:00.000Z', kind: 'report' })).toMatchObject({ sent: true });
    const [email] = await inbox();
    expect(email!.Subject).toMatch(/^nightshift: SUPERSEDED, /);
    expect(email!.Message).toContain("\n\nThis run was superseded by a newer run: its catalogue was not promoted; the newer run's catalogue stands (fn-run-newer).");
    expect(email!.Message).toContain("Catalogue  superseded by a newer run: its catalogue was not promoted; the newer run's catalogue stands (fn-run-newer)");
  }, 120_000);
});

/**
 * S3's other answers to a conditional write (S3 user guide, "How to prevent object overwrites with
 * conditional writes", Conditional write behavior; S3 API reference, PutObject If-Match /
 * If-None-Match): 409 ConditionalRequestConflict while another conditional write to the key is in
 * progress (nothing written; fetch the ETag and retry), and 404 NoSuchKey to If-Match on a key
 * whose object is gone. Each call site is driven into both through the fault proxy: the 409 with
 * S3's exact error body, the 404 by deleting the object while the write is held.
 */
describe('409 and 404 on every conditional write of the functions', () => {
  /** Runs `fn` with the functions talking to S3 through `proxy`. */
  async function through<T>(proxy: FaultProxy, fn: () => Promise<T>): Promise<T> {
    Object.assign(process.env, { AWS_ENDPOINT_URL_S3: proxy.endpoint });
    resetFunctionContext();
    try {
      return await fn();
    } finally {
      Object.assign(process.env, { AWS_ENDPOINT_URL_S3: server.endpoint });
      resetFunctionContext();
      await proxy.close();
    }
  }
  /** Answers the first request `match` accepts with 409 ConditionalRequestConflict; `given` says whether it did. */
  const conflictOn = (match: (req: IncomingMessage) => boolean) => {
    const state = { given: false, answer: (req: IncomingMessage) => (!state.given && match(req) ? ((state.given = true), CONDITIONAL_CONFLICT) : undefined) };
    return state;
  };
  const writeTo = (key: string) => (req: IncomingMessage) => (req.method === 'PUT' || req.method === 'POST') && (req.url ?? '').split('?')[0] === `/work/${key}`;
  const waitHeld = async (proxy: FaultProxy) => {
    while (proxy.stats.held === 0) await new Promise((r) => setTimeout(r, 20));
  };

  it('promotion: a 409 reads the catalogue again and, still the planned version, promotes', async () => {
    await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: 'c/1.jpg', Body: await photoJpeg(320, 240, 11) }));
    await runJobs('fn-run-409', { prefix: 'c/' });
    const conflict = conflictOn(writeTo(STATE_CATALOG_KEY));
    const proxy = await startFaultProxy({ target: server.endpoint, rate: 0, answer: conflict.answer });
    const summary = await through(proxy, () => aggregate({ runId: 'fn-run-409', trigger: 'cli', startedAt: '2026-11-23T03:00:00.000Z' }));
    expect(summary).toMatchObject({ catalogPromoted: true });
    expect(summary).not.toHaveProperty('superseded');
    expect(conflict.given).toBe(true);
    expect(await getText(server.s3, 'work', STATE_CATALOG_KEY)).toContain('c/1.jpg');
  }, 120_000);

  it('promotion: a 404 (the state catalogue deleted under the write) ends the run superseded and does not write it again', async () => {
    await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: 'c/2.jpg', Body: await photoJpeg(320, 240, 12) }));
    await runJobs('fn-run-404', { prefix: 'c/' });
    const saved = await getText(server.s3, 'work', STATE_CATALOG_KEY);
    const proxy = await startFaultProxy({ target: server.endpoint, rate: 0, hold: (method, path) => method === 'PUT' && path.startsWith(`/work/${STATE_CATALOG_KEY}`) });
    const summary = await through(proxy, async () => {
      const promoting = aggregate({ runId: 'fn-run-404', trigger: 'cli', startedAt: '2026-11-23T04:00:00.000Z' });
      await waitHeld(proxy);
      await server.s3.send(new DeleteObjectCommand({ Bucket: 'work', Key: STATE_CATALOG_KEY }));
      proxy.open();
      return promoting;
    });
    expect(summary).toMatchObject({ catalogPromoted: false, superseded: true });
    expect(await etagOf(server.s3, 'work', STATE_CATALOG_KEY)).toBeUndefined();
    await putText(server.s3, 'work', STATE_CATALOG_KEY, saved, 'application/x-ndjson'); // for the tests after
  }, 120_000);

  it('the email claim: a 409 reads the marker again and sends exactly one email', async () => {
    await inbox();
    const proxy = await startFaultProxy({ target: server.endpoint, rate: 0, answer: conflictOn(writeTo('runs/fn-claim-409/notified.json')).answer });
    const sent = await through(proxy, () => notify({ runId: 'fn-claim-409', trigger: 'console', startedAt: '2026-11-23T05:00:00.000Z', kind: 'skipped', skip: { activeRun: 'other', activeSince: '2026-11-23T04:59:00.000Z' } }));
    expect(sent).toMatchObject({ sent: true });
    expect(await inbox()).toHaveLength(1);
    expect(await getJson(server.s3, 'work', 'runs/fn-claim-409/notified.json')).toMatchObject({ status: 'sent', messageId: sent.messageId });
  });

  it('the email claim: a 404 on taking over a failed claim (the marker deleted meanwhile) reads again and sends exactly one email', async () => {
    await inbox();
    await putJson(server.s3, 'work', 'runs/fn-claim-404/notified.json', { status: 'failed', at: '2026-11-23T05:00:00.000Z' });
    const proxy = await startFaultProxy({ target: server.endpoint, rate: 0, hold: (method, path, req) => method === 'PUT' && path.startsWith('/work/runs/fn-claim-404/notified.json') && req.headers['if-match'] !== undefined });
    const sent = await through(proxy, async () => {
      const sending = notify({ runId: 'fn-claim-404', trigger: 'console', startedAt: '2026-11-23T05:00:00.000Z', kind: 'skipped', skip: { activeRun: 'other', activeSince: '2026-11-23T04:59:00.000Z' } });
      await waitHeld(proxy);
      await server.s3.send(new DeleteObjectCommand({ Bucket: 'work', Key: 'runs/fn-claim-404/notified.json' }));
      proxy.open();
      return sending;
    });
    expect(sent).toMatchObject({ sent: true });
    expect(await inbox()).toHaveLength(1);
  });

  it('the run ledger: a 409 reads it again and records the end; a 404 (the ledger deleted) leaves nothing to mark', async () => {
    const last: LastRun = { runId: 'fn-ledger', executionArn: 'arn:aws:states:us-east-1:000000000000:execution:nightshift:fn-ledger', startedAt: '2026-11-23T06:00:00.000Z', dryRun: false };
    await putJson(server.s3, 'work', LAST_RUN_KEY, last);
    const proxy = await startFaultProxy({ target: server.endpoint, rate: 0, answer: conflictOn(writeTo(LAST_RUN_KEY)).answer });
    await through(proxy, () => recordEnd(functionContext(), 'fn-ledger', 'report'));
    expect(await getJson<LastRun>(server.s3, 'work', LAST_RUN_KEY)).toMatchObject({ runId: 'fn-ledger', ended: { outcome: 'report' } });

    await putJson(server.s3, 'work', LAST_RUN_KEY, last);
    const gate = await startFaultProxy({ target: server.endpoint, rate: 0, hold: (method, path) => method === 'PUT' && path.startsWith(`/work/${LAST_RUN_KEY}`) });
    await through(gate, async () => {
      const ending = recordEnd(functionContext(), 'fn-ledger', 'failed');
      await waitHeld(gate);
      await server.s3.send(new DeleteObjectCommand({ Bucket: 'work', Key: LAST_RUN_KEY }));
      gate.open();
      await ending;
    });
    expect(await etagOf(server.s3, 'work', LAST_RUN_KEY)).toBeUndefined();
  });
});

describe('409 on a prune\'s conditional delete', () => {
  // DeleteObject If-Match (S3 user guide, "How to perform conditional deletes", and "How to
  // prevent object overwrites with conditional writes"): 409 ConditionalRequestConflict while
  // another conditional write to the rendition is in progress. Whose rendition it is cannot be
  // told then: the original fails retryably and keeps its tombstone, so the next run checks again.
  it('fails that original with prune-failed (retryable), keeps the rendition and the tombstone, and the next run prunes it', async () => {
    await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: 'e/1.jpg', Body: await photoJpeg(320, 240, 14) }));
    await runJobs('fn-prune-0', { prefix: 'e/' });
    await aggregate({ runId: 'fn-prune-0', trigger: 'cli', startedAt: '2026-11-23T08:00:00.000Z' });
    expect(await etagOf(server.s3, 'renditions', 'thumb/e/1.jpeg')).toBeDefined();
    await server.s3.send(new DeleteObjectCommand({ Bucket: 'corpus', Key: 'e/1.jpg' }));

    const runId = 'fn-prune-409';
    const env = { AWS_ENDPOINT_URL_S3: server.endpoint, NIGHTSHIFT_RUN_ID: runId, NIGHTSHIFT_CONFIG: JSON.stringify(config), NIGHTSHIFT_TMPDIR: tmp, NIGHTSHIFT_INPUT: JSON.stringify({ prefix: 'e/', operations: ['resize'], confirmPrune: true }) };
    expect((await runJob('catalog', env)).code).toBe(0);
    const plan = await getJson<Plan>(server.s3, 'work', runKeys(runId).plan);
    expect(plan.prune).toMatchObject({ originals: 1, held: 0 });
    let conflicts = 0;
    const proxy = await startFaultProxy({ target: server.endpoint, rate: 0, answer: (req) => (req.method === 'DELETE' && req.url?.startsWith('/renditions/thumb/e/1.jpeg') ? (conflicts++, CONDITIONAL_CONFLICT) : undefined) });
    try {
      for (let i = 0; i < plan.shardCount; i++) expect((await runJob('resize', { ...env, AWS_ENDPOINT_URL_S3: proxy.endpoint, AWS_BATCH_JOB_ARRAY_INDEX: String(i) })).code).toBe(0);
    } finally {
      await proxy.close();
    }
    expect(conflicts).toBe(1);
    await aggregate({ runId, trigger: 'cli', startedAt: '2026-11-23T09:00:00.000Z' });
    const report = await getJson<Report>(server.s3, 'work', runKeys(runId).report);
    expect(report.failures).toEqual([{ key: 'e/1.jpg', operation: 'resize', code: 'prune-failed', cause: 'prune-failed', retryable: true, message: 'pruning the renditions of a deleted original: Error: another conditional write to thumb/e/1.jpeg was in progress (409 ConditionalRequestConflict): left for the next run' }]);
    expect(await etagOf(server.s3, 'renditions', 'thumb/e/1.jpeg')).toBeDefined();
    expect(await getText(server.s3, 'work', STATE_CATALOG_KEY)).toContain('"e/1.jpg"');

    // The next run finds the original's tombstone and prunes its rendition.
    await runJobs('fn-prune-next', { prefix: 'e/', operations: ['resize'], confirmPrune: true });
    await aggregate({ runId: 'fn-prune-next', trigger: 'cli', startedAt: '2026-11-23T10:00:00.000Z' });
    expect(await etagOf(server.s3, 'renditions', 'thumb/e/1.jpeg')).toBeUndefined();
  }, 120_000);
});

describe('a run without work, superseded', () => {
  it('does not promote over a newer catalogue, and its nothing-to-do email says it was superseded', async () => {
    // Only a deletion under c/ (backup only: nothing to prune): the run has no work but changes the catalogue.
    for (const key of ['c/1.jpg', 'c/2.jpg']) await server.s3.send(new DeleteObjectCommand({ Bucket: 'corpus', Key: key }));
    const plan = await runJobs('fn-run-quiet', { prefix: 'c/', operations: ['backup'] });
    expect(plan).toMatchObject({ nothingToDo: true, counts: { deleted: 1, work: 0 } });
    await server.s3.send(new PutObjectCommand({ Bucket: 'corpus', Key: 'd/1.jpg', Body: await photoJpeg(320, 240, 13) }));
    await runJobs('fn-run-d', { prefix: 'd/' });
    await aggregate({ runId: 'fn-run-d', trigger: 'schedule', startedAt: '2026-11-23T07:00:00.000Z' });
    const newer = await getText(server.s3, 'work', STATE_CATALOG_KEY);

    expect(await aggregate({ runId: 'fn-run-quiet', trigger: 'console', startedAt: '2026-11-23T06:30:00.000Z', promoteOnly: true })).toMatchObject({ catalogPromoted: false, superseded: true });
    expect(await getText(server.s3, 'work', STATE_CATALOG_KEY)).toBe(newer);
    await inbox();
    await notify({ runId: 'fn-run-quiet', trigger: 'console', startedAt: '2026-11-23T06:30:00.000Z', kind: 'nothing-to-do' });
    const [email] = await inbox();
    expect(email!.Subject).toMatch(/^nightshift: SUPERSEDED, /);
    expect(email!.Message).toContain("This run was superseded by a newer run: its catalogue was not promoted; the newer run's catalogue stands (fn-run-d).");
  }, 120_000);
});

describe('notify when there is nothing to do, and notify-failure', () => {
  it('sends the nothing-to-do email from the plan', async () => {
    const plan = await runJobs('fn-run-3', { prefix: 'a/1' });
    expect(plan.nothingToDo).toBe(true);
    expect(await notify({ runId: 'fn-run-3', trigger: 'schedule', startedAt: '2026-11-22T02:00:00.000Z', kind: 'nothing-to-do' })).toMatchObject({ sent: true });
    const [email] = await inbox();
    expect(email!.Subject).toBe('nightshift: nothing to do');
    // A night with nothing to do writes its report too, and the email links it.
    expect(await getJson<Report>(server.s3, 'work', runKeys('fn-run-3').report)).toMatchObject({ runId: 'fn-run-3', status: 'NOTHING_TO_DO' });
    expect(await getText(server.s3, 'work', runKeys('fn-run-3').reportHtml)).toContain('NOTHING TO DO');
  });

  it('sends the failure email with the readable cause and the next step', async () => {
    const cause = JSON.stringify({ errorType: 'IncompleteResults', errorMessage: 'Run x: the shard results do not cover the plan: resize: no result for shard 1' });
    const failure = { runId: 'fn-run-4', state: 'Aggregate', error: { Error: 'IncompleteResults', Cause: cause }, startedAt: '2026-11-22T02:00:00.000Z', executionArn: 'arn:aws:states:us-east-1:000000000000:execution:nightshift:fn-run-4', failedAtRedrive: 0, redriveCount: 0 };
    // It sends the email, then fails on purpose so that the execution can be redriven.
    await expect(notifyFailure(failure)).rejects.toMatchObject({ name: 'RunFailed', message: expect.stringContaining('Failed in Aggregate: IncompleteResults') });
    const [email] = await inbox();
    expect(email!.Subject).toBe('nightshift 2026-11-22 02:00 UTC: FAILED in Aggregate (IncompleteResults)');
    expect(email!.Message).toContain('  Run x: the shard results do not cover the plan: resize: no result for shard 1');
    expect(email!.Message).toContain('Fix the cause, then redrive this execution');
    expect(email!.Message).toContain('it resumes at Aggregate');
    // Redriven: the redrive count has grown; it resumes where the run failed and sends nothing.
    expect(await notifyFailure({ ...failure, redriveCount: 1 })).toEqual({ resumeAt: 'Aggregate' });
    expect(await inbox()).toEqual([]);
    // A redriven run that fails again says so again.
    await expect(notifyFailure({ ...failure, failedAtRedrive: 1, redriveCount: 1 })).rejects.toMatchObject({ name: 'RunFailed' });
    expect(await inbox()).toHaveLength(1);
  });

  it('streams a failures.csv of 60,000 rows (a multipart upload), in key order, whose first rows the report names', async () => {
    const base = await getJson<Plan>(server.s3, 'work', runKeys('fn-run-1').plan);
    const count = 60_000;
    const plan: Plan = { ...base, runId: 'fn-run-6', dryRun: true, shardCount: 2, shardOperations: ['resize'], arrayJobs: { backup: false, resize: true }, counts: { ...base.counts, work: count }, prune: undefined };
    await putJson(server.s3, 'work', runKeys('fn-run-6').plan, plan);
    const failures = Array.from({ length: count }, (_, i) => ({ key: `bulk/${String(i).padStart(6, '0')}, "quoted".jpg`, code: 'decode-failed' as const, message: `VipsJpeg: premature end of JPEG file, object ${i}; ${'x'.repeat(80)}`, retryable: false }));
    // Two shards of 30,000 (a result of one PUT stays under the embedded server's 11 MiB body limit).
    for (const shard of [0, 1]) {
      const mine = failures.slice(shard * (count / 2), (shard + 1) * (count / 2));
      await putJson(server.s3, 'work', runKeys('fn-run-6').result('resize', shard), { runId: 'fn-run-6', operation: 'resize', shard, attempt: 1, dryRun: true, startedAt: '2026-11-22T11:00:00.000Z', finishedAt: '2026-11-22T11:01:00.000Z', durationMs: 60_000, counts: { items: mine.length, processed: 0, skipped: 0, failed: mine.length }, bytesRead: 0, bytesWritten: 0, skipped: [], failures: mine });
    }
    await aggregate({ runId: 'fn-run-6', trigger: 'cli', startedAt: '2026-11-22T11:00:00.000Z' });
    const csv = await server.s3.send(new GetObjectCommand({ Bucket: 'work', Key: runKeys('fn-run-6').failuresCsv }));
    expect(csv.ETag).toMatch(/-\d+"$/); // S3's multipart ETag: the file went up in parts, never as one string
    expect(csv.ContentType).toBe('text/csv; charset=utf-8');
    const text = await csv.Body!.transformToString();
    const report = await getJson<Report>(server.s3, 'work', runKeys('fn-run-6').report);
    // The report counts every failure and names the first FAILURES_NAMED: the first rows of failures.csv.
    expect(report.failed).toEqual({ total: count, objects: count, retryable: 0, reasons: [{ operation: 'resize', code: 'decode-failed', cause: 'jpeg-truncated', advice: expect.stringMatching(/^the JPEG is truncated/), count, examples: failures.slice(0, 3).map((f) => f.key) }] });
    expect(report.failures).toHaveLength(FAILURES_NAMED);
    expect(text.startsWith(failuresCsv(report, 'corpus'))).toBe(true);
    expect(text).toBe(failuresCsv({ failures: failures.map((f) => ({ ...f, operation: 'resize' })) }, 'corpus'));
    expect(text.split('\r\n')).toHaveLength(count + 2); // header, rows, and the final CRLF
  }, 120_000);

  it('refuses to aggregate results that do not cover the plan', async () => {
    // A plan whose shards never reported: aggregate must name the gap and leave the catalogue alone.
    await server.s3.send(new PutObjectCommand({ Bucket: 'work', Key: runKeys('fn-run-5').plan, Body: JSON.stringify({ ...(await getJson<Plan>(server.s3, 'work', runKeys('fn-run-1').plan)), runId: 'fn-run-5' }) }));
    const catalogBefore = (await server.s3.send(new GetObjectCommand({ Bucket: 'work', Key: STATE_CATALOG_KEY }))).ETag;
    await expect(aggregate({ runId: 'fn-run-5', trigger: 'cli', startedAt: '2026-11-22T11:00:00.000Z' })).rejects.toMatchObject({
      name: 'IncompleteResults',
      message: expect.stringContaining('backup: no result for shard 0; backup: no result for shard 1; resize: no result for shard 0'),
    });
    expect((await server.s3.send(new GetObjectCommand({ Bucket: 'work', Key: STATE_CATALOG_KEY }))).ETag).toBe(catalogBefore);
  });
});
