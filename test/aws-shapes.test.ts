/**
 * The synthesized workflow fed the answers AWS documents, not answers the project invented: the
 * lesson of a guard that never fired in AWS because the local stand-in and prepare agreed on a
 * camelCase shape that Step Functions does not send.
 *
 * - CheckActiveRuns (`aws-sdk:sfn:listExecutions`): the ExecutionListItem members, PascalCase as
 *   every AWS SDK integration returns them. Step Functions API reference, ListExecutions and
 *   ExecutionListItem (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html);
 *   Step Functions developer guide, "AWS SDK service integrations" ("Parameters in Step Functions
 *   are expressed in PascalCase", https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
 *   `startDate` is a Timestamp: the API's JSON wire form is epoch seconds (e.g. 1.487536617E9);
 *   the SDK integration serialises it as an ISO 8601 string. Both must work.
 * - ReadPlan (`aws-sdk:s3:getObject`): GetObject's output members (Body as a string, ContentType,
 *   ETag…). Amazon S3 API reference, GetObject (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
 * - Lambda invoke (`lambda:invoke`): `{ExecutedVersion, Payload, StatusCode, SdkHttpMetadata…}`.
 *   Step Functions developer guide, "Invoke an AWS Lambda function with Step Functions".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePipelineConfig } from '../core/config';
import { createS3Client, listPages, putJson } from '../adapters/s3';
import { activeExecutions, parseTimestamp } from '../core/trigger';
import { resetFunctionContext } from '../functions/context';
import { handler as prepare } from '../functions/prepare';
import { STATE } from '../infra/workflow';
import type { AslDefinition } from '../infra/asl';
import { synthesizeDefinition, synthesizeLocalDefinition } from '../local/definition';
import { executeWorkflow, LOCAL_BUCKETS, localGetObject, localListExecutions, MARKER_EXPIRY_MS } from '../local/runner';
import { startFaultProxy } from './support/fault-proxy';
import { runCli } from './support/cli';
import { startTestS3 } from './support/processes';

const config = parsePipelineConfig({ buckets: LOCAL_BUCKETS });
const tmp = mkdtempSync(join(tmpdir(), 'nightshift-shapes-'));
const saved = { ...process.env };
// Prepare keeps the run ledger in the work bucket: a real S3 server on loopback.
let ledger: Awaited<ReturnType<typeof startTestS3>>;
beforeAll(async () => {
  ledger = await startTestS3([LOCAL_BUCKETS.work]);
  Object.assign(process.env, { NIGHTSHIFT_CONFIG: JSON.stringify(config), NIGHTSHIFT_LOG_LEVEL: 'error', NIGHTSHIFT_METRICS: 'off', AWS_ENDPOINT_URL_S3: ledger.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
  resetFunctionContext();
});
afterAll(async () => {
  await ledger?.stop();
  process.env = saved;
  resetFunctionContext();
  rmSync(tmp, { recursive: true, force: true });
});

const SM = 'arn:aws:states:us-east-1:000000000000:stateMachine:nightshift-local';
const THIS_RUN = 'local-20261122T020000Z-aaaa';
// The interpreter stamps $$.Execution.StartTime with the time it starts, as Step Functions does:
// the other executions' start dates are placed around now.
const THIS_START = new Date().toISOString();
const EARLIER = new Date(Date.now() - 60_000).toISOString();
const LATER = new Date(Date.now() + 60_000).toISOString();

/** A ListExecutions(RUNNING) answer through the SDK integration: this run, and one started a minute earlier. */
const listExecutionsAnswer = (earlierStart: string | number) => ({
  Executions: [
    { ExecutionArn: `arn:aws:states:us-east-1:000000000000:execution:nightshift-local:${THIS_RUN}`, StateMachineArn: SM, Name: THIS_RUN, Status: 'RUNNING', StartDate: THIS_START },
    { ExecutionArn: 'arn:aws:states:us-east-1:000000000000:execution:nightshift-local:9ed4bc0a-1c71-4c33-9f8d-1f8c31f2c9d1', StateMachineArn: SM, Name: '9ed4bc0a-1c71-4c33-9f8d-1f8c31f2c9d1', Status: 'RUNNING', StartDate: earlierStart },
  ],
  NextToken: null,
});

const lambdaAnswer = (payload: unknown) => ({
  ExecutedVersion: '$LATEST',
  Payload: payload,
  SdkHttpMetadata: { HttpHeaders: { 'Content-Type': 'application/json' }, HttpStatusCode: 200 },
  SdkResponseMetadata: { RequestId: '88fba57b-adbe-467f-abf4-daca36fc9028' },
  StatusCode: 200,
});

/** The workflow up to the first Batch job, with the real prepare handler. */
async function runWith(listed: unknown, readPlanBody = JSON.stringify({ shardCount: 0, arrayJobs: { backup: false, resize: false } })) {
  const definition = synthesizeLocalDefinition(config, join(tmp, `cdk-${Math.random().toString(36).slice(2)}`));
  const notified: unknown[] = [];
  const notify = async (task: unknown) => {
    notified.push((task as { Payload: unknown }).Payload);
    return lambdaAnswer({ sent: true });
  };
  const outcome = await executeWorkflow(
    definition,
    {
      [STATE.checkActiveRuns]: async () => listed,
      [STATE.prepare]: async (task: unknown) => lambdaAnswer(await prepare((task as { Payload: never }).Payload)),
      [STATE.plan]: async () => ({ Status: 'SUCCEEDED' }),
      [STATE.readPlan]: async () => ({ AcceptRanges: 'bytes', Body: readPlanBody, ContentLength: readPlanBody.length, ContentType: 'application/json; charset=utf-8', ETag: '"6805f2cfc46c0f04559748bb039d69ae"', LastModified: '2026-11-22T02:01:00Z', Metadata: {} }),
      [STATE.notifySkipped]: notify,
      [STATE.promoteCatalogue]: async () => lambdaAnswer({ catalogPromoted: false }),
      [STATE.notifyNothingToDo]: notify,
      [STATE.notifyFailure]: async () => {
        throw Object.assign(new Error('unexpected failure path'), { name: 'RunFailed' });
      },
    },
    {},
    THIS_RUN,
    'us-east-1',
    THIS_START,
  );
  return { outcome, notified };
}

describe('CheckActiveRuns → Prepare with the ListExecutions answer AWS sends', () => {
  it.each([
    ['an ISO 8601 string', EARLIER],
    ['epoch seconds (the API wire form)', Date.parse(EARLIER) / 1000],
    ['epoch milliseconds', Date.parse(EARLIER)],
  ])('gives way to an earlier run whose StartDate is %s', async (_, startDate) => {
    const { outcome, notified } = await runWith(listExecutionsAnswer(startDate));
    expect(outcome.history).toEqual(['CheckActiveRuns', 'Prepare', 'AnotherRunActive', 'NotifySkipped', 'Done']);
    expect(notified[0]).toMatchObject({ kind: 'skipped', skip: { activeRun: '9ed4bc0a-1c71-4c33-9f8d-1f8c31f2c9d1', activeSince: EARLIER } });
  });

  it('goes ahead when it is the oldest running execution', async () => {
    const { outcome } = await runWith(listExecutionsAnswer(LATER));
    expect(outcome.history).toEqual(['CheckActiveRuns', 'Prepare', 'AnotherRunActive', 'Plan', 'ReadPlan', 'HasWork', 'PromoteCatalogue', 'NotifyNothingToDo', 'Done']);
  });

  it('fails loudly, naming the item, on an answer in a shape AWS does not send', async () => {
    await expect(prepare({ input: {}, execution: { Id: 'arn', Name: THIS_RUN, StartTime: THIS_START }, running: [{ executionArn: 'arn', name: 'x', startDate: THIS_START } as never] })).rejects.toThrow(/ListExecutions item 0: expected \{ExecutionArn, Name, StartDate\}/);
  });
});

/**
 * The errors of an AWS SDK integration task: Step Functions developer guide, "AWS SDK service
 * integrations" (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html):
 * the error is the service name and the error name, separated by a period, both PascalCase, and the
 * error name always carries the `Exception` suffix, even where the service's API reference lists
 * the error without it (S3's BucketAlreadyExists is `S3.BucketAlreadyExistsException`). S3 errors the
 * SDK models no exception for (500 InternalError, 503 SlowDown) are the service's base exception,
 * `S3.S3Exception`. Seen in AWS execution histories: a getObject of a missing key fails with
 * `S3.NoSuchKeyException`, cause "(Service: S3, Status Code: 404 …)" (localstack/localstack#12139),
 * and a throttled listObjectsV2 with `S3.S3Exception` (cdklabs/construct-hub#1904).
 */
describe('errors of the AWS SDK integration tasks, named as Step Functions names them', () => {
  const SERVICE: Record<string, string> = { s3: 'S3', sfn: 'Sfn' };
  /** Every ErrorEquals of every Retry and Catch of an aws-sdk task, with the task's service. */
  const sdkErrorNames = (d: AslDefinition): { state: string; service: string; error: string }[] =>
    Object.entries(d.States).flatMap(([state, s]) => {
      const nested = (s.Branches ?? []).flatMap(sdkErrorNames);
      const match = /^arn:aws:states:::aws-sdk:([a-z0-9]+):/.exec(String(s.Resource ?? ''));
      if (!match) return nested;
      const handlers = [...((s as { Retry?: { ErrorEquals: string[] }[] }).Retry ?? []), ...((s as { Catch?: { ErrorEquals: string[] }[] }).Catch ?? [])];
      return [...nested, ...handlers.flatMap((h) => h.ErrorEquals.map((error) => ({ state, service: SERVICE[match[1]!] ?? match[1]!, error })))];
    });

  it('retries and catches only <Service>.<Name>Exception (or a States.* error) in the synthesized definition', () => {
    const names = sdkErrorNames(synthesizeDefinition(config, join(tmp, 'sdk-errors')));
    expect(names.map((n) => n.state)).toEqual(expect.arrayContaining([STATE.readPlan, STATE.checkActiveRuns]));
    const invented = names.filter(({ service, error }) => !error.startsWith('States.') && !new RegExp(`^${service}\\.[A-Z][A-Za-z0-9]*Exception$`).test(error));
    expect(invented).toEqual([]);
    // A 500 or 503 on the plan's read is retried: it arrives as S3.S3Exception.
    expect(names.filter((n) => n.state === STATE.readPlan).map((n) => n.error)).toContain('S3.S3Exception');
  });

  it('the local getObject stand-in fails with those names: S3.NoSuchKeyException for a missing plan, S3.S3Exception for a 500', async () => {
    const missing = localGetObject(ledger.s3)({ Bucket: LOCAL_BUCKETS.work, Key: 'runs/none/plan.json' });
    await expect(missing).rejects.toMatchObject({ name: 'S3.NoSuchKeyException' });
    const outage = await startFaultProxy({ target: ledger.endpoint, rate: 0, fail: () => true });
    const s3 = createS3Client({ endpoint: outage.endpoint, maxAttempts: 1 }, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' });
    try {
      await expect(localGetObject(s3)({ Bucket: LOCAL_BUCKETS.work, Key: 'runs/any/plan.json' })).rejects.toMatchObject({ name: 'S3.S3Exception' });
    } finally {
      s3.destroy();
      await outage.close();
    }
  });

  it('a missing plan reaches NotifyFailure as S3.NoSuchKeyException, not retried', async () => {
    const definition = synthesizeLocalDefinition(config, join(tmp, 'sdk-missing-plan'));
    const failures: unknown[] = [];
    const outcome = await executeWorkflow(
      definition,
      {
        [STATE.checkActiveRuns]: async () => ({ Executions: [] }),
        [STATE.prepare]: async () => lambdaAnswer({ runId: 'local-missing-plan', trigger: 'local', startedAt: THIS_START, executionArn: 'arn', input: {} }),
        [STATE.plan]: async () => ({ Status: 'SUCCEEDED' }),
        [STATE.readPlan]: localGetObject(ledger.s3),
        [STATE.notifyFailure]: async (task: unknown) => {
          failures.push((task as { Payload: unknown }).Payload);
          throw Object.assign(new Error('failed'), { name: 'RunFailed' });
        },
      },
      {},
      'local-missing-plan',
    );
    expect(outcome.history).toEqual(['CheckActiveRuns', 'Prepare', 'AnotherRunActive', 'Plan', 'ReadPlan', 'Failed in ReadPlan', 'NotifyFailure']);
    expect(failures).toMatchObject([{ state: STATE.readPlan, error: { Error: 'S3.NoSuchKeyException' } }]);
  });
});

describe('timestamps', () => {
  it('reads ISO strings, epoch seconds and epoch milliseconds as the same instant', () => {
    const iso = '2017-02-19T20:36:57.713Z';
    expect([parseTimestamp(iso), parseTimestamp(1487536617.713), parseTimestamp(1487536617713), parseTimestamp('1.487536617713E9')]).toEqual([iso, iso, iso, iso]);
    expect(parseTimestamp('yesterday')).toBeUndefined();
    expect(parseTimestamp(undefined)).toBeUndefined();
  });
});

describe('the local stand-in for ListExecutions', () => {
  it('answers with the ExecutionListItem members in PascalCase, which prepare reads', async () => {
    const server = await startTestS3([LOCAL_BUCKETS.work]);
    try {
      await putJson(server.s3, LOCAL_BUCKETS.work, 'running/local-a.json', { executionArn: 'arn:a', name: 'local-a', startDate: THIS_START, pid: process.pid, host: hostname() });
      const listed = await localListExecutions(server.s3, LOCAL_BUCKETS.work, SM);
      expect(listed).toEqual([{ ExecutionArn: 'arn:a', StateMachineArn: SM, Name: 'local-a', Status: 'RUNNING', StartDate: THIS_START }]);
      expect(activeExecutions(listed)).toEqual([{ executionArn: 'arn:a', name: 'local-a', startDate: THIS_START }]);
    } finally {
      await server.stop();
    }
  });
});

describe('markers of local runs on another host (a shared --endpoint)', () => {
  it('count while they beat, and expire (and are deleted) once they stop', async () => {
    const server = await startTestS3([LOCAL_BUCKETS.work]);
    try {
      const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
      const marker = (name: string, heartbeatAt: string) => ({ executionArn: `arn:${name}`, name, startDate: ago(3_600_000), pid: 1, host: 'another-host', heartbeatAt });
      await putJson(server.s3, LOCAL_BUCKETS.work, 'running/local-beating.json', marker('local-beating', ago(10_000)));
      await putJson(server.s3, LOCAL_BUCKETS.work, 'running/local-dead.json', marker('local-dead', ago(MARKER_EXPIRY_MS + 1_000)));
      expect((await localListExecutions(server.s3, LOCAL_BUCKETS.work, SM)).map((e) => e.Name)).toEqual(['local-beating']);
      const left: string[] = [];
      for await (const page of listPages(server.s3, { bucket: LOCAL_BUCKETS.work, prefix: 'running/' })) left.push(...page.objects.map((o) => o.Key!));
      expect(left).toEqual(['running/local-beating.json']);
    } finally {
      await server.stop();
    }
  });
});

describe('nightshift local --endpoint against a bucket owned by someone else', () => {
  // S3 API reference, CreateBucket, Errors: "BucketAlreadyExists — The requested bucket name is
  // not available. The bucket namespace is shared by all users of the system." (HTTP 409).
  const alreadyExists = (bucket: string) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>BucketAlreadyExists</Code><Message>The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.</Message><BucketName>${bucket}</BucketName><RequestId>4442587FB7D0A2F9</RequestId><HostId>x</HostId></Error>`;

  it('stops before writing anything, naming the bucket', async () => {
    const requests: string[] = [];
    const server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      const bucket = decodeURIComponent((req.url ?? '/').split(/[/?]/)[1] ?? '');
      res.writeHead(409, { 'content-type': 'application/xml', 'x-amz-request-id': '4442587FB7D0A2F9' }).end(alreadyExists(bucket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const run = await runCli(['local', '--endpoint', endpoint, '--data-dir', join(tmp, 'taken')], { cwd: tmp });
      expect({ code: run.code, stderr: run.stderr.trim() }).toEqual({
        code: 2,
        stderr: `nightshift: Invalid option: --endpoint: expected an endpoint where the bucket ${LOCAL_BUCKETS.renditions} is yours or free (S3 says it belongs to someone else), received "${endpoint}" nightshift local uses the buckets ${Object.values(LOCAL_BUCKETS).join(', ')}: point --endpoint at a server or account where those names are yours.`,
      });
      expect(requests).toEqual([`PUT /${LOCAL_BUCKETS.renditions}/`]);
    } finally {
      server.close();
    }
  });
});
