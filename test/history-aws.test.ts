/**
 * `nightshift status --json` and `nightshift history` for deployed runs: the executions from the
 * Step Functions API, the counts and duration from each run's report.json in the work bucket.
 *
 * Step Functions answers here in the shapes of the Step Functions API reference, Response Syntax of
 * ListStateMachines, ListExecutions (ExecutionListItem), DescribeExecution and DescribeStateMachine
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html and
 * siblings): the AWS JSON 1.0 protocol (POST /, X-Amz-Target: AWSStepFunctions.<Action>), with
 * Timestamps as epoch seconds on the wire. ListExecutions lists "the most recent execution first".
 * The work bucket is the embedded S3 server, not a stand-in.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKeys } from '../core/keys';
import { buildReport, ReportFold } from '../core/report';
import type { ShardResult } from '../core/results';
import type { RunLine } from '../core/run-status';
import { putJson } from '../adapters/s3';
import { runCli } from './support/cli';
import { samplePlan } from './support/fixtures';
import { startTestS3, type TestS3 } from './support/processes';

const WORK = 'nightshift-work-123456789012';
const SM = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Nightshift-workflow';
const exec = (name: string) => `arn:aws:states:eu-west-1:123456789012:execution:Nightshift-workflow:${name}`;
const at = (iso: string) => Date.parse(iso) / 1000;

/** Three nights, newest first: one with failures, one with nothing to do, one that failed in Plan (no report). */
const EXECUTIONS = [
  { executionArn: exec('sched-3'), stateMachineArn: SM, name: 'sched-3', status: 'SUCCEEDED', startDate: at('2026-11-24T02:00:00Z'), stopDate: at('2026-11-24T02:09:30Z') },
  { executionArn: exec('sched-2'), stateMachineArn: SM, name: 'sched-2', status: 'SUCCEEDED', startDate: at('2026-11-23T02:00:00Z'), stopDate: at('2026-11-23T02:01:05Z') },
  { executionArn: exec('sched-1'), stateMachineArn: SM, name: 'sched-1', status: 'FAILED', startDate: at('2026-11-22T02:00:00Z'), stopDate: at('2026-11-22T02:03:00Z') },
];

/** The deployed definition's ReadPlan state, as synthesized (infra/workflow.ts): the work bucket is its Bucket. */
const DEFINITION = JSON.stringify({ StartAt: 'ReadPlan', States: { ReadPlan: { Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:s3:getObject', Parameters: { Bucket: WORK, 'Key.$': "States.Format('runs/{}/plan.json', $.run.runId)" }, End: true } } });

function answer(action: string, body: Record<string, unknown>): [number, unknown] {
  switch (action) {
    case 'ListStateMachines':
      return [200, { stateMachines: [{ stateMachineArn: SM, name: 'Nightshift-workflow', type: 'STANDARD', creationDate: at('2026-11-01T10:00:00Z') }] }];
    case 'DescribeStateMachine':
      return [200, { stateMachineArn: SM, name: 'Nightshift-workflow', status: 'ACTIVE', definition: DEFINITION, roleArn: 'arn:aws:iam::123456789012:role/Nightshift-workflow-role', type: 'STANDARD', creationDate: at('2026-11-01T10:00:00Z') }];
    case 'ListExecutions':
      return [200, { executions: EXECUTIONS.slice(0, (body.maxResults as number | undefined) || EXECUTIONS.length) }];
    case 'DescribeExecution': {
      const e = EXECUTIONS.find((x) => x.executionArn === body.executionArn);
      if (!e) return [400, { __type: 'ExecutionDoesNotExist', message: `Execution Does Not Exist: '${String(body.executionArn)}'` }];
      return [200, { ...e, input: '{}', ...(e.status === 'FAILED' ? { error: 'States.TaskFailed', cause: 'Plan: the catalog job failed' } : { output: '{}' }) }];
    }
    default:
      return [400, { __type: 'UnknownOperationException', message: action }];
  }
}

let s3: TestS3;
let sfn: Server;
let sfnEndpoint: string;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nightshift-history-'));
  s3 = await startTestS3([WORK]);
  sfn = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      const [code, out] = answer(String(req.headers['x-amz-target']).replace('AWSStepFunctions.', ''), JSON.parse(text || '{}') as Record<string, unknown>);
      res.writeHead(code, { 'Content-Type': 'application/x-amz-json-1.0' }).end(JSON.stringify(out));
    });
  });
  await new Promise<void>((done) => sfn.listen(0, '127.0.0.1', done));
  sfnEndpoint = `http://127.0.0.1:${(sfn.address() as AddressInfo).port}`;
  // sched-3: 4 images rendered, one failed; its report says 9 min 30 s less the Notify state's seconds.
  const plan3 = samplePlan({ runId: 'sched-3', shardCount: 1 });
  const result = (operation: 'backup' | 'resize', failed: number): ShardResult => ({
    runId: 'sched-3', operation, shard: 0, attempt: 1, dryRun: false, startedAt: '', finishedAt: '', durationMs: 1000,
    counts: { items: 5, processed: 5 - failed, skipped: 0, failed }, bytesRead: 0, bytesWritten: 0, skipped: [],
    failures: Array.from({ length: failed }, () => ({ key: 'photos/cut.jpg', code: 'decode-failed' as const, message: 'VipsJpeg: premature end of JPEG image', retryable: false })),
  });
  const r3 = buildReport(plan3, [result('backup', 0), result('resize', 1)], { trigger: 'schedule', startedAt: '2026-11-24T02:00:00.000Z', finishedAt: '2026-11-24T02:09:20.000Z', catalogPromoted: true });
  await putJson(s3.s3, WORK, runKeys('sched-3').report, r3);
  const plan2 = samplePlan({ runId: 'sched-2', shardCount: 0, nothingToDo: true, counts: { ...plan3.counts, new: 0, changed: 0, work: 0 } });
  await putJson(s3.s3, WORK, runKeys('sched-2').report, new ReportFold(plan2).report({ trigger: 'schedule', startedAt: '2026-11-23T02:00:00.000Z', finishedAt: '2026-11-23T02:01:00.000Z', catalogPromoted: true }));
}, 120_000);

afterAll(async () => {
  await new Promise((done) => sfn?.close(done));
  await s3?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[]) =>
  runCli(args, { cwd: dir, env: { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_ENDPOINT_URL_SFN: sfnEndpoint, AWS_ENDPOINT_URL_S3: s3.endpoint } });

describe('status and history of deployed runs', () => {
  it('history --json: the last runs, newest first, with the outcome, counts and duration of each report', async () => {
    const run = await cli(['history', '--json', '--limit', '3']);
    expect(run.stderr).toBe('');
    const lines = JSON.parse(run.stdout) as RunLine[];
    expect(lines.map((l) => [l.runId, l.status, l.outcome, l.durationMs])).toEqual([
      ['sched-3', 'SUCCEEDED', 'SUCCEEDED with 1 failed', 560_000],
      ['sched-2', 'SUCCEEDED', 'NOTHING TO DO', 60_000],
      ['sched-1', 'FAILED', 'FAILED', 180_000],
    ]);
    expect(lines[0]).toMatchObject({ where: 'aws', startedAt: '2026-11-24T02:00:00.000Z', finishedAt: '2026-11-24T02:09:30.000Z', subject: 'nightshift: 4 rendered, 1 failed', report: `s3://${WORK}/${runKeys('sched-3').reportHtml}`, counts: { rendered: 4, backedUp: 5, failed: 1 } });
    expect(lines[2]).toMatchObject({ counts: null, report: null, reason: 'States.TaskFailed: Plan: the catalog job failed' });
  });

  it('history in words: one line a run', async () => {
    const run = await cli(['history', '--limit', '2']);
    expect(run.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^2026-11-24 02:00 UTC {2}SUCCEEDED with 1 failed +4 rendered, 1 failed +9 min {2}sched-3$/),
      expect.stringMatching(/^2026-11-23 02:00 UTC {2}NOTHING TO DO +nothing to do +1 min {2}sched-2$/),
    ]);
  });

  it('status latest --json: the newest run, as history shows it', async () => {
    const [status, history] = await Promise.all([cli(['status', 'latest', '--json']), cli(['history', '--json', '--limit', '1'])]);
    expect(JSON.parse(status.stdout)).toEqual((JSON.parse(history.stdout) as RunLine[])[0]);
    expect((JSON.parse(status.stdout) as RunLine).outcome).toBe('SUCCEEDED with 1 failed');
  });
});
