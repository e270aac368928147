/**
 * The local runtime executes the definition synthesized from the CDK construct, not a copy: a
 * state renamed in the construct shows up in the local execution history. The task handlers here
 * return canned outputs; what is under test is where the definition comes from and how the
 * interpreter walks it (the full local pipeline has its own end-to-end test).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePipelineConfig } from '../core/config';
import { STATE } from '../infra/workflow';
import { synthesizeDefinition, synthesizeLocalDefinition } from './definition';
import { executeWorkflow, LOCAL_BUCKETS } from './runner';
import { workScope } from '../core/work-scope';

const config = parsePipelineConfig({ buckets: LOCAL_BUCKETS });
const tmp = mkdtempSync(join(tmpdir(), 'nightshift-def-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const lambda = (payload: unknown) => async () => ({ Payload: payload, StatusCode: 200 });
/** The plan ReadPlan last answered: the canned ScopeWork scopes Work by it, every shard to run. */
let planned = { shardCount: 2, arrayJobs: { backup: true, resize: false } };
const plan = (shardCount: number, arrayJobs = { backup: true, resize: false }) => async () => {
  planned = { shardCount, arrayJobs };
  return { Body: JSON.stringify({ shardCount, arrayJobs, timeouts: { backup: 3600, resize: 3600 } }) };
};
const none = new Set<number>();

function handlers(names: Record<keyof typeof STATE, string>, overrides: Record<string, (input: unknown) => Promise<unknown>> = {}) {
  return {
    [names.checkActiveRuns]: async () => ({ Executions: [] }),
    [names.prepare]: lambda({ runId: 'local-test', trigger: 'local', startedAt: '2026-11-22T02:00:00Z', executionArn: 'arn', input: {} }),
    [names.plan]: async () => ({ Status: 'SUCCEEDED' }),
    [names.readPlan]: plan(2),
    [names.scopeWork]: async () => ({ Payload: workScope(planned, { backup: none, resize: none }, () => '').scope, StatusCode: 200 }),
    [names.backup]: async () => ({ Status: 'SUCCEEDED' }),
    [names.resize]: async () => ({ Status: 'SUCCEEDED' }),
    [names.aggregate]: lambda({}),
    [names.promoteCatalogue]: lambda({}),
    [names.notify]: lambda({ sent: true }),
    [names.notifyNothingToDo]: lambda({ sent: true }),
    [names.notifySkipped]: lambda({ sent: true }),
    [names.notifyFailure]: async () => {
      throw Object.assign(new Error('Failed in a state'), { name: 'RunFailed' });
    },
    ...overrides,
  };
}

it('runs a state renamed in the construct under its new name', async () => {
  const names = { ...STATE };
  const mutable = STATE as { aggregate: string };
  mutable.aggregate = 'AggregateAndReport';
  let definition;
  try {
    definition = synthesizeLocalDefinition(config, join(tmp, 'renamed'));
  } finally {
    mutable.aggregate = names.aggregate;
  }
  const outcome = await executeWorkflow(definition, handlers({ ...names, aggregate: 'AggregateAndReport' }), {}, 'local-test');
  expect(outcome.status).toBe('SUCCEEDED');
  expect(outcome.history).toEqual(['CheckActiveRuns', 'Prepare', 'AnotherRunActive', 'Plan', 'ReadPlan', 'HasWork', 'ScopeWork', 'Work', 'BackupRequested', 'ResizeRequested', 'Backup', 'ResizeNotRequested', 'AggregateAndReport', 'Notify', 'Done']);
});

it('differs from the deployed definition only where the interpreter resolves TimeoutSecondsPath differently', () => {
  const deployed = synthesizeDefinition(config, join(tmp, 'deployed'));
  const local = synthesizeLocalDefinition(config, join(tmp, 'local'));
  const arrayJobs = (d: typeof deployed) => (d.States[STATE.work]!.Branches ?? []).flatMap((b) => Object.entries(b.States)).filter(([name]) => name === STATE.backup || name === STATE.resize);
  expect(arrayJobs(deployed).map(([name, s]) => [name, s.TimeoutSecondsPath, s.TimeoutSeconds])).toEqual([
    [STATE.backup, '$.plan.value.timeouts.backup', undefined],
    [STATE.resize, '$.plan.value.timeouts.resize', undefined],
  ]);
  expect(arrayJobs(local).map(([name, s]) => [name, s.TimeoutSecondsPath, s.TimeoutSeconds])).toEqual([
    [STATE.backup, undefined, 24 * 3600],
    [STATE.resize, undefined, 24 * 3600],
  ]);
  // Without those two fields of those two states, the definitions are the same.
  const without = (d: typeof deployed) =>
    JSON.parse(JSON.stringify(d, function (this: Record<string, unknown>, k, v) {
      return (k === 'TimeoutSeconds' || k === 'TimeoutSecondsPath') && this.Resource === 'arn:aws:states:::batch:submitJob.sync' && this.Parameters && (this.Parameters as Record<string, unknown>).ArrayProperties ? undefined : v;
    }));
  expect(without(local)).toEqual(without(deployed));
  expect(local).not.toEqual(deployed);
});

it('resolves the work bucket to the local one in the S3 task', () => {
  const definition = synthesizeLocalDefinition(config, join(tmp, 'plain'));
  expect(definition.States[STATE.readPlan]!.Parameters).toMatchObject({ Bucket: LOCAL_BUCKETS.work, 'Key.$': "States.Format('runs/{}/plan.json', $.run.runId)" });
});

it('routes a failed task through its Catch to NotifyFailure and fails the run', async () => {
  const definition = synthesizeLocalDefinition(config, join(tmp, 'failing'));
  const failing = async () => {
    throw Object.assign(new Error('{"StatusReason":"1 of 2 resize job(s) failed"}'), { name: 'States.TaskFailed' });
  };
  const outcome = await executeWorkflow(definition, handlers(STATE, { [STATE.readPlan]: plan(2, { backup: false, resize: true }), [STATE.resize]: failing }), {}, 'local-test');
  expect(outcome).toMatchObject({ status: 'FAILED', error: { Error: 'RunFailed' } });
  // The execution ends failed at NotifyFailure, a Task: what a redrive reruns.
  expect(outcome.history.slice(-3)).toEqual(['ResizeFailed', 'Failed in Work', 'NotifyFailure']);
});

it('resumes at the failed state when NotifyFailure runs again after a redrive', async () => {
  const definition = synthesizeLocalDefinition(config, join(tmp, 'redrive'));
  let aggregateCalls = 0;
  const flaky = async () => {
    // A Lambda task fails with the function's error type (the Lambda runtime's errorType, the JS
    // error's name): an S3 500 inside aggregate surfaces as InternalError, not as an S3.* name.
    if (aggregateCalls++ === 0) throw Object.assign(new Error('report write failed'), { name: 'InternalError' });
    return { Payload: {}, StatusCode: 200 };
  };
  // What a redriven NotifyFailure answers (its redrive count has grown): where to resume.
  const redriven = async (input: unknown) => ({ Payload: { resumeAt: (input as { Payload: { state: string } }).Payload.state }, StatusCode: 200 });
  const outcome = await executeWorkflow(definition, handlers(STATE, { [STATE.aggregate]: flaky, [STATE.notifyFailure]: redriven }), {}, 'local-test');
  expect(outcome.status).toBe('SUCCEEDED');
  expect(outcome.history.slice(-7)).toEqual(['Aggregate', 'Failed in Aggregate', 'NotifyFailure', 'ResumeAt', 'Aggregate', 'Notify', 'Done']);
});

it('resumes a failed Work through ScopeWork, whose scope sizes each array job and names its shard list', async () => {
  const definition = synthesizeLocalDefinition(config, join(tmp, 'redrive-work'));
  const submitted: unknown[] = [];
  let resizeCalls = 0;
  const resize = async (input: unknown) => {
    submitted.push(input);
    if (resizeCalls++ === 0) throw Object.assign(new Error('{"StatusReason":"1 of 500 resize job(s) failed"}'), { name: 'States.TaskFailed' });
    return { Status: 'SUCCEEDED' };
  };
  let scopes = 0;
  // The first pass runs all 500 shards; the redrive's scope (functions/scope-work.ts) only shard 17, padded to 2 children.
  const scopeWork = async () => ({
    Payload: workScope({ shardCount: 500, arrayJobs: { backup: true, resize: true } }, scopes++ === 0 ? { backup: none, resize: none } : { backup: new Set(Array.from({ length: 500 }, (_, i) => i)), resize: new Set(Array.from({ length: 500 }, (_, i) => i).filter((i) => i !== 17)) }, (op) => `runs/local-test/scope/${op}-1.json`).scope,
    StatusCode: 200,
  });
  const redriven = async (input: unknown) => ({ Payload: { resumeAt: (input as { Payload: { state: string } }).Payload.state }, StatusCode: 200 });
  const outcome = await executeWorkflow(definition, handlers(STATE, { [STATE.readPlan]: plan(500, { backup: true, resize: true }), [STATE.scopeWork]: scopeWork, [STATE.resize]: resize, [STATE.notifyFailure]: redriven }), {}, 'local-test');
  expect(outcome.status).toBe('SUCCEEDED');
  expect(outcome.history.slice(outcome.history.indexOf('Failed in Work'))).toEqual(['Failed in Work', 'NotifyFailure', 'ResumeAt', 'ScopeWork', 'Work', 'BackupRequested', 'ResizeRequested', 'BackupNotRequested', 'Resize', 'Aggregate', 'Notify', 'Done']);
  const env = (s: unknown) => Object.fromEntries((s as { ContainerOverrides: { Environment: { Name: string; Value: string }[] } }).ContainerOverrides.Environment.map((e) => [e.Name, e.Value]));
  expect(submitted.map((s) => [(s as { ArrayProperties: { Size: number } }).ArrayProperties.Size, env(s).NIGHTSHIFT_SHARDS])).toEqual([
    [500, 'all'],
    [2, 'runs/local-test/scope/resize-1.json'],
  ]);
});

it('gives way to another active run: NotifySkipped, nothing else', async () => {
  const definition = synthesizeLocalDefinition(config, join(tmp, 'skipped'));
  const skipping = lambda({ runId: 'local-test', trigger: 'local', startedAt: '2026-11-22T02:00:00Z', executionArn: 'arn', input: {}, skip: { activeRun: 'local-older', activeSince: '2026-11-22T01:59:00Z' } });
  const outcome = await executeWorkflow(definition, handlers(STATE, { [STATE.prepare]: skipping }), {}, 'local-test');
  expect(outcome.history).toEqual(['CheckActiveRuns', 'Prepare', 'AnotherRunActive', 'NotifySkipped', 'Done']);
});

it('goes straight to the nothing-to-do email when the plan has no shards', async () => {
  const definition = synthesizeLocalDefinition(config, join(tmp, 'nothing'));
  const outcome = await executeWorkflow(definition, handlers(STATE, { [STATE.readPlan]: plan(0) }), {}, 'local-test');
  expect(outcome.history).toEqual(['CheckActiveRuns', 'Prepare', 'AnotherRunActive', 'Plan', 'ReadPlan', 'HasWork', 'PromoteCatalogue', 'NotifyNothingToDo', 'Done']);
});
