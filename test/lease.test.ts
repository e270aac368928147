/**
 * The run lease (core/lease.ts, functions/lease.ts) decides between runs that CheckActiveRuns
 * cannot tell apart. ListExecutions is eventually consistent (Step Functions API reference,
 * ListExecutions: "This operation is eventually consistent. The results are best effort and may
 * not reflect very recent updates and changes."), and EventBridge delivers a scheduled event at
 * least once, so two runs can start together and both list nobody: here CheckActiveRuns answers
 * an empty list to every run, what that lag looks like. The lease is taken with S3's conditional
 * writes (S3 user guide, "Conditional writes": of two writers with `If-None-Match: *` one gets 412),
 * on the embedded S3 server, through the synthesized workflow with the real handlers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { parsePipelineConfig } from '../core/config';
import { runKeys } from '../core/keys';
import { LEASE_KEY, LEASE_TAIL_SECONDS, type RunLease } from '../core/lease';
import { buildReport } from '../core/report';
import { getJsonIfExists, putJson } from '../adapters/s3';
import { resetFunctionContext } from '../functions/context';
import { handler as notify } from '../functions/notify';
import { handler as notifyFailure } from '../functions/notify-failure';
import { handler as prepare } from '../functions/prepare';
import { handler as scopeWork } from '../functions/scope-work';
import { STATE } from '../infra/workflow';
import { synthesizeDefinition, synthesizeLocalDefinition } from '../local/definition';
import { executeWorkflow, LOCAL_BUCKETS, localGetObject, localListExecutionsReleasingLease } from '../local/runner';
import { startFaultProxy } from './support/fault-proxy';
import { samplePlan } from './support/fixtures';
import { startEmailInbox } from './support/inbox';
import { startTestS3, type TestS3 } from './support/processes';

const config = parsePipelineConfig({ buckets: LOCAL_BUCKETS });
const tmp = mkdtempSync(join(tmpdir(), 'nightshift-lease-'));
const saved = { ...process.env };
let server: TestS3;
let sqs: SQSClient;
let queueUrl: string;
let definition: ReturnType<typeof synthesizeLocalDefinition>;

beforeAll(async () => {
  server = await startTestS3([LOCAL_BUCKETS.work]);
  const inboxOf = await startEmailInbox(server.endpoint);
  ({ sqs, queueUrl } = inboxOf);
  const TopicArn = inboxOf.topicArn;
  Object.assign(process.env, { NIGHTSHIFT_CONFIG: JSON.stringify(config), AWS_ENDPOINT_URL_S3: server.endpoint, AWS_ENDPOINT_URL_SNS: server.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', NIGHTSHIFT_TOPIC_ARN: TopicArn, NIGHTSHIFT_LOG_LEVEL: 'error', NIGHTSHIFT_METRICS: 'off', NIGHTSHIFT_LINKS: 'local', NIGHTSHIFT_LOCAL_EVENTS: join(tmpdir(), 'nightshift-lease-events') });
  resetFunctionContext();
  definition = synthesizeLocalDefinition(config, join(tmp, 'cdk'));
}, 120_000);

afterAll(async () => {
  process.env = saved;
  resetFunctionContext();
  sqs?.destroy();
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

async function inbox(): Promise<{ Subject: string; Message: string }[]> {
  const out: { Subject: string; Message: string }[] = [];
  for (;;) {
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (!got.Messages?.length) return out;
    out.push(...got.Messages.map((m) => JSON.parse(m.Body!) as { Subject: string; Message: string }));
  }
}

const lease = async () => (await getJsonIfExists<RunLease>(server.s3, LOCAL_BUCKETS.work, LEASE_KEY))?.value;
const arnOf = (runId: string) => `arn:aws:states:us-east-1:000000000000:execution:nightshift-local:${runId}`;
const lambda = (fn: (payload: never) => Promise<unknown>) => async (task: unknown) => ({ Payload: await fn((task as { Payload: never }).Payload), StatusCode: 200 });
let seq = 0;
const newRunId = () => `local-20261122T020000Z-${(seq++).toString(16).padStart(4, '0')}`;

interface Hooks {
  /** Plan (the catalog job): before the plan is written. */
  readonly plan?: (runId: string) => Promise<void>;
  readonly shardCount?: number;
  /** The backup array job, while it runs. */
  readonly backup?: (runId: string) => Promise<void>;
  readonly notifyFailure?: (task: unknown) => Promise<unknown>;
}

/** The plan's state timeouts: the backup job's (the one that runs) unlike any budget Prepare could give the lease. */
const BACKUP_ONLY_TIMEOUTS = { backup: 40_000, resize: 80_000 };

/** The task handlers of one execution: the real prepare, scope-work, notify and notify-failure; the jobs are stand-ins writing what they would. */
function handlersFor(runId: string, hooks: Hooks = {}): Record<string, (task: unknown) => Promise<unknown>> {
  const shardCount = hooks.shardCount ?? 0;
  const plan = samplePlan({ runId, shardCount, nothingToDo: shardCount === 0, arrayJobs: { backup: shardCount > 0, resize: false }, shardOperations: shardCount > 0 ? ['backup'] : [], operations: ['backup'], timeouts: BACKUP_ONLY_TIMEOUTS });
  return {
    [STATE.checkActiveRuns]: async () => ({ Executions: [] }), // ListExecutions has not caught up
    [STATE.prepare]: lambda(prepare),
    [STATE.plan]: async () => {
      await hooks.plan?.(runId);
      await putJson(server.s3, LOCAL_BUCKETS.work, runKeys(runId).plan, plan);
      return { Status: 'SUCCEEDED' };
    },
    [STATE.readPlan]: localGetObject(server.s3),
    [STATE.promoteCatalogue]: async () => ({ Payload: {}, StatusCode: 200 }),
    [STATE.scopeWork]: lambda(scopeWork),
    [STATE.backup]: async () => {
      await hooks.backup?.(runId);
      return { Status: 'SUCCEEDED' };
    },
    [STATE.aggregate]: async () => {
      const meta = { trigger: 'local' as const, startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), catalogPromoted: true };
      await putJson(server.s3, LOCAL_BUCKETS.work, runKeys(runId).report, buildReport(plan, [], meta));
      return { Payload: {}, StatusCode: 200 };
    },
    [STATE.notify]: lambda(notify),
    [STATE.notifyNothingToDo]: lambda(notify),
    [STATE.notifySkipped]: lambda(notify),
    [STATE.notifyFailure]: hooks.notifyFailure ?? lambda(notifyFailure),
  };
}

const run = (runId: string, hooks: Hooks = {}) => executeWorkflow(definition, handlersFor(runId, hooks), {}, runId);

const SKIPPED = ['CheckActiveRuns', 'Prepare', 'AnotherRunActive', 'NotifySkipped', 'Done'];
const WORKED = ['CheckActiveRuns', 'Prepare', 'AnotherRunActive', 'Plan', 'ReadPlan', 'HasWork', 'PromoteCatalogue', 'NotifyNothingToDo', 'Done'];

describe('runs that start together while ListExecutions lists none of them', () => {
  // Several runs in flight, started at once and at staggered moments: each round, every run's
  // Prepare is over before the one that works leaves Plan, so they overlap.
  it.each([
    ['two at once', [0, 0]],
    ['three at once', [0, 0, 0]],
    ['three a few milliseconds apart', [0, 3, 9]],
    ['four, the last one late', [0, 1, 2, 40]],
  ])('%s: exactly one works, every other is skipped with an email naming it, and the lease is released', async (_, offsets) => {
    await inbox();
    const ids = offsets.map(() => newRunId());
    let prepared = 0;
    let allPrepared!: () => void;
    const gate = new Promise<void>((resolve) => (allPrepared = resolve));
    const counted = async (task: unknown) => {
      try {
        return await lambda(prepare)(task);
      } finally {
        if (++prepared === ids.length) allPrepared();
      }
    };
    const outcomes = await Promise.all(
      ids.map(async (id, i) => {
        await new Promise((r) => setTimeout(r, offsets[i]));
        return executeWorkflow(definition, { ...handlersFor(id, { plan: () => gate }), [STATE.prepare]: counted }, {}, id);
      }),
    );
    const worked = ids.filter((_, i) => outcomes[i]!.history.includes('Plan'));
    expect(worked).toHaveLength(1);
    expect(outcomes.map((o) => o.history)).toEqual(ids.map((id) => (id === worked[0] ? WORKED : SKIPPED)));
    const emails = await inbox();
    const skippedEmails = emails.filter((e) => e.Subject.includes('skipped'));
    expect(skippedEmails).toHaveLength(ids.length - 1);
    for (const e of skippedEmails) {
      expect(e.Subject).toContain(`skipped, run ${worked[0]} in progress`);
      expect(e.Message).toMatch(new RegExp(`^Skipped: run ${worked[0]} was still in progress`));
    }
    expect(await lease()).toBeUndefined(); // released by NotifyNothingToDo
  }, 60_000);
});

describe('a lease another execution wrote', () => {
  const other = (expiresInMs: number): RunLease => ({ executionArn: arnOf('local-20261121T020000Z-old0'), runId: 'local-20261121T020000Z-old0', takenAt: new Date(Date.now() - 3_600_000).toISOString(), expiresAt: new Date(Date.now() + expiresInMs).toISOString() });

  it('unexpired: the run is skipped, its email naming the holder, and the lease stays the holder\'s', async () => {
    await inbox();
    const held = other(3_600_000);
    await putJson(server.s3, LOCAL_BUCKETS.work, LEASE_KEY, held);
    const outcome = await run(newRunId());
    expect(outcome.history).toEqual(SKIPPED);
    const [email] = await inbox();
    expect(email?.Subject).toContain(`skipped, run ${held.runId} in progress`);
    expect(await lease()).toEqual(held);
  });

  it('held by an AWS execution: the email says a stopped run keeps its lease, until when, and which object to delete', async () => {
    await inbox();
    const name = '9ed4bc0a-1c71-4c33-9f8d-1f8c31f2c9d1';
    const held: RunLease = { ...other(3_600_000), executionArn: `arn:aws:states:us-east-1:000000000000:execution:nightshift:${name}`, runId: name };
    await putJson(server.s3, LOCAL_BUCKETS.work, LEASE_KEY, held);
    expect((await run(newRunId())).history).toEqual(SKIPPED);
    const [email] = await inbox();
    expect(email?.Message).toContain(`stop-execution --execution-arn ${held.executionArn}), then delete its run lease s3://${LOCAL_BUCKETS.work}/${LEASE_KEY} (a stopped run does not release it; it expires ${held.expiresAt.slice(0, 16).replace('T', ' ')}`);
    await server.s3.send(new DeleteObjectCommand({ Bucket: LOCAL_BUCKETS.work, Key: LEASE_KEY }));
  });

  it('expired: the run takes it over (If-Match), holds it while it works, and releases it at the end', async () => {
    await putJson(server.s3, LOCAL_BUCKETS.work, LEASE_KEY, other(-1000));
    const runId = newRunId();
    let during: RunLease | undefined;
    const outcome = await run(runId, { plan: async () => void (during = await lease()) });
    expect(outcome.history).toEqual(WORKED);
    expect(during).toMatchObject({ executionArn: arnOf(runId), runId });
    expect(await lease()).toBeUndefined();
  });
});

describe('the lease is released on every path that ends a run', () => {
  it('after success (Notify), having lasted the plan\'s budget while the array jobs ran', async () => {
    const runId = newRunId();
    let during: RunLease | undefined;
    const outcome = await run(runId, { shardCount: 2, backup: async () => void (during = await lease()) });
    expect(outcome.history.slice(-3)).toEqual(['Aggregate', 'Notify', 'Done']);
    // ScopeWork renewed it for the backup state's timeout from the plan and the states after it.
    const budget = BACKUP_ONLY_TIMEOUTS.backup + LEASE_TAIL_SECONDS; // resize does not run: its longer timeout does not count
    expect(during?.executionArn).toBe(arnOf(runId));
    const left = (Date.parse(during!.expiresAt) - Date.now()) / 1000;
    expect(left).toBeGreaterThan(budget - 600);
    expect(left).toBeLessThanOrEqual(budget);
    expect(await lease()).toBeUndefined();
  });

  it('after nothing to do (NotifyNothingToDo)', async () => {
    const runId = newRunId();
    let during: RunLease | undefined;
    expect((await run(runId, { plan: async () => void (during = await lease()) })).history).toEqual(WORKED);
    expect(during?.executionArn).toBe(arnOf(runId));
    expect(await lease()).toBeUndefined();
  });

  it('after a failure (NotifyFailure), and a redrive takes it again and releases it at its end', async () => {
    const runId = newRunId();
    let attempts = 0;
    let afterFailure: RunLease | undefined | null = null;
    let redriven: RunLease | undefined;
    const outcome = await run(runId, {
      shardCount: 2,
      backup: async () => {
        if (attempts++ === 0) throw Object.assign(new Error('{"StatusReason":"1 of 2 backup job(s) failed"}'), { name: 'States.TaskFailed' });
        redriven = await lease();
      },
      // The real NotifyFailure (it emails and releases the lease, then fails the execution); then
      // the redrive: NotifyFailure runs again with a grown redrive count and answers where to resume.
      notifyFailure: async (task: unknown) => {
        const payload = (task as { Payload: Parameters<typeof notifyFailure>[0] }).Payload;
        await expect(notifyFailure(payload)).rejects.toMatchObject({ name: 'RunFailed' });
        afterFailure = await lease();
        return { Payload: await notifyFailure({ ...payload, redriveCount: 1 }), StatusCode: 200 };
      },
    });
    expect(afterFailure).toBeUndefined();
    expect(outcome.history.slice(outcome.history.indexOf('Failed in Work'))).toEqual(['Failed in Work', 'NotifyFailure', 'ResumeAt', 'ScopeWork', 'Work', 'BackupRequested', 'ResizeRequested', 'Backup', 'ResizeNotRequested', 'Aggregate', 'Notify', 'Done']);
    expect(redriven?.executionArn).toBe(arnOf(runId));
    expect(await lease()).toBeUndefined();
  });

  it('a redrive that finds another run holding the lease fails in ScopeWork, naming it, and leaves its lease alone', async () => {
    const runId = newRunId();
    const holder: RunLease = { executionArn: arnOf('local-20261122T030000Z-0new'), runId: 'local-20261122T030000Z-0new', takenAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
    const failures: { state: string; error: { Error?: string; Cause?: string } }[] = [];
    const outcome = await run(runId, {
      shardCount: 2,
      backup: async () => {
        if (failures.length === 0) throw Object.assign(new Error('{"StatusReason":"1 of 2 backup job(s) failed"}'), { name: 'States.TaskFailed' });
      },
      notifyFailure: async (task: unknown) => {
        const payload = (task as { Payload: Parameters<typeof notifyFailure>[0] }).Payload;
        failures.push(payload);
        await expect(notifyFailure(payload)).rejects.toMatchObject({ name: 'RunFailed' });
        if (failures.length > 1) throw Object.assign(new Error('failed again'), { name: 'RunFailed' });
        await putJson(server.s3, LOCAL_BUCKETS.work, LEASE_KEY, holder); // tonight's run started meanwhile
        return { Payload: await notifyFailure({ ...payload, redriveCount: 1 }), StatusCode: 200 };
      },
    });
    expect(outcome.status).toBe('FAILED');
    expect(failures.map((f) => [f.state, f.error.Error])).toEqual([
      [STATE.work, 'BackupFailed'],
      [STATE.scopeWork, 'AnotherRunActive'],
    ]);
    expect(failures[1]!.error.Cause).toContain(`run ${holder.runId} holds the run lease`);
    expect(await lease()).toEqual(holder);
    await server.s3.send(new DeleteObjectCommand({ Bucket: LOCAL_BUCKETS.work, Key: LEASE_KEY }));
  });
});

describe('the same execution', () => {
  it('a retried Prepare (or a redrive through it) finds its own lease and goes ahead', async () => {
    const runId = newRunId();
    const execution = { Id: arnOf(runId), Name: runId, StartTime: new Date().toISOString() };
    const first = await prepare({ input: {}, execution, running: [] });
    const again = await prepare({ input: {}, execution, running: [] });
    expect([first.skip, again.skip]).toEqual([undefined, undefined]);
    expect((await lease())?.takenAt).toBeDefined();
    const other = await prepare({ input: {}, execution: { ...execution, Id: arnOf('local-20261122T020000Z-ffff'), Name: 'local-20261122T020000Z-ffff' }, running: [] });
    expect(other.skip).toMatchObject({ activeRun: runId, activeArn: arnOf(runId) });
    await server.s3.send(new DeleteObjectCommand({ Bucket: LOCAL_BUCKETS.work, Key: LEASE_KEY })); // no lease left to the next test
  });
});

describe('S3\'s answer to two conditional writes racing on the lease', () => {
  // S3 user guide, "Conditional writes": concurrent conditional writes to one key can get 409
  // ConditionalRequestConflict, and the request must be retried. Here the proxy answers the first
  // write of the lease so, as S3 would to the loser of such a race.
  it('409 ConditionalRequestConflict: Prepare reads the lease again and takes it, not failing the run', async () => {
    let conflicts = 0;
    const proxy = await startFaultProxy({
      target: server.endpoint,
      rate: 0,
      answer: (req) => (req.method === 'PUT' && req.url?.includes(LEASE_KEY) && conflicts++ === 0 ? { status: 409, code: 'ConditionalRequestConflict', message: 'A conflicting conditional operation is currently in progress against this resource. Please try again.' } : undefined),
    });
    process.env.AWS_ENDPOINT_URL_S3 = proxy.endpoint;
    resetFunctionContext();
    try {
      const runId = newRunId();
      const prepared = await prepare({ input: {}, execution: { Id: arnOf(runId), Name: runId, StartTime: new Date().toISOString() }, running: [] });
      expect(conflicts).toBeGreaterThan(1);
      expect(prepared.skip).toBeUndefined();
      expect((await lease())?.executionArn).toBe(arnOf(runId));
    } finally {
      process.env.AWS_ENDPOINT_URL_S3 = server.endpoint;
      resetFunctionContext();
      await proxy.close();
      await server.s3.send(new DeleteObjectCommand({ Bucket: LOCAL_BUCKETS.work, Key: LEASE_KEY }));
    }
  });
});

describe('the lease\'s tail', () => {
  it('covers the task timeouts of the states after the array jobs and around them', () => {
    const states = synthesizeDefinition(config, join(tmp, 'deployed')).States;
    const after = [STATE.scopeWork, STATE.aggregate, STATE.notify].map((s) => states[s]!.TimeoutSeconds ?? 0);
    const nothing = [STATE.readPlan, STATE.promoteCatalogue, STATE.notifyNothingToDo].map((s) => states[s]!.TimeoutSeconds ?? 0);
    expect(after.reduce((a, b) => a + b)).toBeLessThan(LEASE_TAIL_SECONDS);
    expect(nothing.reduce((a, b) => a + b)).toBeLessThan(LEASE_TAIL_SECONDS);
  });
});

describe('local runs that ended without a failure path (killed, Ctrl-C)', () => {
  it('leave a lease the next run\'s CheckActiveRuns releases: their marker is gone', async () => {
    await putJson(server.s3, LOCAL_BUCKETS.work, LEASE_KEY, { executionArn: arnOf('local-20261122T010000Z-dead'), runId: 'local-20261122T010000Z-dead', takenAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3_600_000).toISOString() } satisfies RunLease);
    expect(await localListExecutionsReleasingLease(server.s3, LOCAL_BUCKETS.work, 'arn:sm')).toEqual([]);
    expect(await lease()).toBeUndefined();
  });
});
