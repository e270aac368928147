/**
 * The end of a run, downstream (issue 28): aggregate concatenates the shards' change files into
 * runs/<runId>/changes.jsonl and counts the records' changes into the report; the email,
 * report.html and the Run Completed event say the same numbers; a failed event or invalidation
 * never fails the run. Fabricated plans, shard results and change files on the embedded S3
 * server; the functions run in-process; emails come back through SNS into an SQS queue.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { runKeys } from '../core/keys';
import type { Plan } from '../core/plan';
import type { ChangeLine } from '../core/records/changes';
import type { Report } from '../core/report';
import type { ShardResult } from '../core/results';
import { getJson, getText, putJson, putText } from '../adapters/s3';
import { handler as aggregate } from '../functions/aggregate';
import { resetFunctionContext } from '../functions/context';
import { handler as notify } from '../functions/notify';
import { handler as notifyFailure } from '../functions/notify-failure';
import { samplePlan } from './support/fixtures';
import { startEmailInbox } from './support/inbox';
import { startTestS3, type TestS3 } from './support/processes';

const buckets = { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' };
const config = { buckets, presets: [{ name: 'thumb', width: 160, formats: ['webp'] }] };
let server: TestS3;
let sqs: SQSClient;
let queueUrl: string;
let tmp: string;
let refusing: Server;
/** What the stand-ins for EventBridge and CloudFront on loopback were asked, by target/path. */
const asked: string[] = [];
const saved = { ...process.env };

/**
 * EventBridge and CloudFront on loopback, answering as each does when it takes nothing:
 * PutEvents with HTTP 200 and a failed entry (EventBridge API reference, PutEvents, Response
 * Elements: FailedEntryCount, Entries with ErrorCode and ErrorMessage); CreateInvalidation with
 * 400 TooManyInvalidationsInProgress (CloudFront API reference, CreateInvalidation, Errors;
 * REST-XML error body). No request leaves the machine.
 */
function startRefusingAws(): Promise<string> {
  refusing = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      asked.push(target || `${req.method} ${req.url}`);
      if (target === 'AWSEvents.PutEvents') {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'The event could not be put.' }] }));
        return;
      }
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end('<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>TooManyInvalidationsInProgress</Code><Message>Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations.</Message></Error><RequestId>4d1f2e9c-0000-4000-8000-000000000000</RequestId></ErrorResponse>');
    });
  });
  return new Promise((resolve) => refusing.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(refusing.address() as AddressInfo).port}`)));
}

async function inbox(): Promise<{ Subject: string; Message: string }[]> {
  const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
  for (const m of out.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  return (out.Messages ?? []).map((m) => JSON.parse(m.Body!) as { Subject: string; Message: string });
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nightshift-feed-'));
  server = await startTestS3(Object.values(buckets));
  const inboxOf = await startEmailInbox(server.endpoint);
  ({ sqs, queueUrl } = inboxOf);
  const TopicArn = inboxOf.topicArn;
  const aws = await startRefusingAws();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_EVENTBRIDGE: aws,
    AWS_ENDPOINT_URL_CLOUDFRONT: aws,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    NIGHTSHIFT_CONFIG: JSON.stringify(config),
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ENDPOINT_URL_SNS: server.endpoint,
    AWS_REGION: 'us-east-1',
    NIGHTSHIFT_TOPIC_ARN: TopicArn,
    NIGHTSHIFT_TMPDIR: tmp,
    NIGHTSHIFT_LOG_LEVEL: 'error',
    NIGHTSHIFT_METRICS: 'off',
    NIGHTSHIFT_LOCAL_EVENTS: join(tmp, 'events'),
  });
  resetFunctionContext();
}, 120_000);

afterAll(async () => {
  process.env = saved;
  resetFunctionContext();
  sqs?.destroy();
  refusing?.close();
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const line = (change: ChangeLine['change'], key: string, renditions: string[]): ChangeLine => ({ key, change, etag: `"${key.length}"`, renditions });

/**
 * Four resize shards: 0 and 2 with change lines; 1 changed nothing and wrote no file; 3 is a
 * result from before the records existed (no counts, no file).
 */
const shardLines: Record<number, ChangeLine[]> = {
  0: [line('added', 'a/1.jpg', ['thumb/a/1.webp']), line('updated', 'a/2.jpg', ['thumb/a/2.webp', 'large/a/2.webp']), line('failed', 'a/3.jpg', [])],
  2: [line('removed', 'c/9.jpg', ['thumb/c/9.webp']), line('added', 'c/\u00e9 \u00fc+%"q".jpg', ['thumb/c/\u00e9 \u00fc+%"q".webp'])],
};
const shardRecords: Record<number, ShardResult['records']> = { 0: { written: 3, superseded: 0, requests: 1 }, 1: { written: 0, superseded: 2, requests: 1 }, 2: { written: 1, superseded: 0, requests: 2 } };
const ITEMS_PER_SHARD = 3;

function count(lines: readonly ChangeLine[]): Record<ChangeLine['change'], number> {
  const c = { added: 0, updated: 0, removed: 0, failed: 0 };
  for (const l of lines) c[l.change]++;
  return c;
}

/** A run's plan, its catalogue, and each shard's result and change file, as the jobs leave them. */
async function fabricateRun(runId: string): Promise<void> {
  const keys = runKeys(runId);
  const plan: Plan = samplePlan({ runId, operations: ['resize'], shardOperations: ['resize'], arrayJobs: { backup: false, resize: true }, shardCount: 4, counts: { ...samplePlan().counts, work: 4 * ITEMS_PER_SHARD } });
  await putJson(server.s3, 'work', keys.plan, plan);
  await putText(server.s3, 'work', keys.catalog, '', 'application/x-ndjson');
  for (let shard = 0; shard < 4; shard++) {
    const lines = shardLines[shard];
    if (lines) await putText(server.s3, 'work', keys.changes(shard), lines.map((l) => `${JSON.stringify(l)}\n`).join(''), 'application/x-ndjson');
    const counted = shard === 3 ? {} : { records: shardRecords[shard], changes: count(lines ?? []) };
    const result: ShardResult = { runId, operation: 'resize', shard, attempt: 1, dryRun: false, startedAt: '2026-12-04T02:00:00.000Z', finishedAt: '2026-12-04T02:01:00.000Z', durationMs: 60_000, counts: { items: ITEMS_PER_SHARD, processed: ITEMS_PER_SHARD, skipped: 0, failed: 0 }, bytesRead: 0, bytesWritten: 0, skipped: [], failures: [], ...counted };
    await putJson(server.s3, 'work', keys.result('resize', shard), result);
  }
}

const allLines = [...shardLines[0]!, ...shardLines[2]!];
const expectedCounts = count(allLines);

describe('the change feed', () => {
  const runId = 'feed-1';
  let report: Report;
  beforeAll(async () => {
    await fabricateRun(runId);
    await aggregate({ runId, trigger: 'schedule', startedAt: '2026-12-04T02:00:00.000Z' });
    report = await getJson<Report>(server.s3, 'work', runKeys(runId).report);
  }, 60_000);

  it('is every shard\'s change lines in shard order, a shard without a change file read as empty', async () => {
    const feed = await getText(server.s3, 'work', runKeys(runId).changeFeed);
    expect(feed).toBe(allLines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  });

  it('is counted in the report from the shard results (older results count 0), with its key', () => {
    expect(expectedCounts).toEqual({ added: 2, updated: 1, removed: 1, failed: 1 });
    expect(report.records).toEqual({ changes: expectedCounts, written: 4, superseded: 2, requests: 4, feed: runKeys(runId).changeFeed });
  });

  it('tells one story: report.json, the email, report.html and the Run Completed event give the same numbers', async () => {
    await inbox();
    expect(await notify({ runId, trigger: 'schedule', startedAt: '2026-12-04T02:00:00.000Z', kind: 'report' })).toMatchObject({ sent: true });
    const [email] = await inbox();
    const numbers = (text: string) => {
      const m = /(\d+) records changed: (\d+) added, (\d+) updated, (\d+) removed, (\d+) failed/.exec(text);
      expect(m).not.toBeNull();
      return { total: Number(m![1]), added: Number(m![2]), updated: Number(m![3]), removed: Number(m![4]), failed: Number(m![5]) };
    };
    const fromReport = { total: 5, ...report.records!.changes };
    const records = email!.Message.split('\n').filter((l) => l.startsWith('Records'));
    expect(records).toEqual(['Records    5 records changed: 2 added, 1 updated, 1 removed, 1 failed; change feed s3://work/runs/feed-1/changes.jsonl']);
    expect(numbers(email!.Message)).toEqual(fromReport);
    const html = await getText(server.s3, 'work', runKeys(runId).reportHtml);
    expect(numbers(html)).toEqual(fromReport);
    expect(html).toContain('<a href="changes.jsonl">changes.jsonl</a>');
    // The local stand-in records the PutEvents request exactly: Entries of Source, DetailType and Detail (a JSON string).
    const request = JSON.parse(readFileSync(join(tmp, 'events', `${runId}.json`), 'utf8')) as { Entries: { Source: string; DetailType: string; Detail: string }[] };
    expect(request).toEqual({ Entries: [{ Source: 'nightshift', DetailType: 'Run Completed', Detail: expect.any(String) }] });
    expect(JSON.parse(request.Entries[0]!.Detail)).toEqual({ runId, status: 'SUCCEEDED', counts: report.records!.changes, changes: { bucket: 'work', key: 'runs/feed-1/changes.jsonl', uri: 's3://work/runs/feed-1/changes.jsonl' } });
  });

  it('a failed run still announces its end: FAILED, with no feed before Aggregate, and the report\'s counts and feed after it', async () => {
    await inbox();
    await expect(notifyFailure({ runId: 'feed-2', state: 'Resize', error: { Error: 'States.TaskFailed' }, startedAt: '2026-12-04T03:00:00.000Z' })).rejects.toMatchObject({ name: 'RunFailed' });
    const detail = (id: string) => JSON.parse((JSON.parse(readFileSync(join(tmp, 'events', `${id}.json`), 'utf8')) as { Entries: { Detail: string }[] }).Entries[0]!.Detail) as unknown;
    expect(detail('feed-2')).toEqual({ runId: 'feed-2', status: 'FAILED', counts: { added: 0, updated: 0, removed: 0, failed: 0 } });
    // Failed in Notify, before its email: the records did change, and the event says where.
    await fabricateRun('feed-late');
    await aggregate({ runId: 'feed-late', trigger: 'schedule', startedAt: '2026-12-04T03:30:00.000Z' });
    await expect(notifyFailure({ runId: 'feed-late', state: 'Notify', error: { Error: 'Lambda.Unknown' }, startedAt: '2026-12-04T03:30:00.000Z' })).rejects.toMatchObject({ name: 'RunFailed' });
    expect(detail('feed-late')).toEqual({ runId: 'feed-late', status: 'FAILED', counts: expectedCounts, changes: { bucket: 'work', key: 'runs/feed-late/changes.jsonl', uri: 's3://work/runs/feed-late/changes.jsonl' } });
    expect(await inbox()).toHaveLength(2);
  });

  it('a run with nothing to do announces it with zero counts and no feed', async () => {
    await putJson(server.s3, 'work', runKeys('feed-quiet').plan, samplePlan({ runId: 'feed-quiet', nothingToDo: true, shardCount: 0, shardOperations: [], arrayJobs: { backup: false, resize: false } }));
    await notify({ runId: 'feed-quiet', trigger: 'schedule', startedAt: '2026-12-04T04:00:00.000Z', kind: 'nothing-to-do' });
    const request = JSON.parse(readFileSync(join(tmp, 'events', 'feed-quiet.json'), 'utf8')) as { Entries: { Detail: string }[] };
    expect(JSON.parse(request.Entries[0]!.Detail)).toEqual({ runId: 'feed-quiet', status: 'NOTHING_TO_DO', counts: { added: 0, updated: 0, removed: 0, failed: 0 } });
    await inbox();
  });
});

describe('a large change feed', () => {
  it('is streamed through a multipart upload, never held whole, byte for byte the shards\' files in order', async () => {
    const runId = 'feed-big';
    const keys = runKeys(runId);
    const shards = 3;
    const perShard = 30_000;
    await fabricateRun(runId);
    await putJson(server.s3, 'work', keys.plan, samplePlan({ runId, operations: ['resize'], shardOperations: ['resize'], arrayJobs: { backup: false, resize: true }, shardCount: shards, counts: { ...samplePlan().counts, work: shards * ITEMS_PER_SHARD } }));
    const files: string[] = [];
    for (let shard = 0; shard < shards; shard++) {
      const lines = Array.from({ length: perShard }, (_, i) => line('updated', `big/${shard}/${String(i).padStart(6, '0')}.jpg`, [`thumb/big/${shard}/${String(i).padStart(6, '0')}.webp`]));
      files.push(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
      await putText(server.s3, 'work', keys.changes(shard), files[shard]!, 'application/x-ndjson');
      const result = await getJson<ShardResult>(server.s3, 'work', keys.result('resize', shard));
      await putJson(server.s3, 'work', keys.result('resize', shard), { ...result, changes: count(lines), records: { written: perShard, superseded: 0, requests: perShard / 25 } });
    }
    // Shard 3's result of the fabricated run is left over: outside this plan's 3 shards, it is not read.
    await aggregate({ runId, trigger: 'schedule', startedAt: '2026-12-04T07:00:00.000Z' });
    const got = await server.s3.send(new GetObjectCommand({ Bucket: 'work', Key: keys.changeFeed }));
    expect(got.ETag).toMatch(/-\d+"$/); // S3's multipart ETag: sent in parts as it was read
    expect(got.ContentType).toBe('application/x-ndjson');
    const text = await got.Body!.transformToString();
    expect(text.length).toBeGreaterThan(8 * 1024 * 1024);
    expect(text === files.join('')).toBe(true);
    const report = await getJson<Report>(server.s3, 'work', keys.report);
    expect(report.records!.changes).toEqual({ added: 0, updated: shards * perShard, removed: 0, failed: 0 });
  }, 120_000);
});

describe('what cannot be delivered never fails the run', () => {
  afterEach(() => {
    process.env.NIGHTSHIFT_LOCAL_EVENTS = join(tmp, 'events');
    delete process.env.NIGHTSHIFT_DISTRIBUTION_ID;
    delete process.env.NIGHTSHIFT_MAX_INVALIDATION_PATHS;
  });

  it('an event EventBridge did not take: the email is sent, with a warning line', async () => {
    // Without the local stand-in the AWS path is taken: EventBridge on loopback refuses the entry.
    await fabricateRun('feed-noevent');
    await aggregate({ runId: 'feed-noevent', trigger: 'schedule', startedAt: '2026-12-04T05:00:00.000Z' });
    delete process.env.NIGHTSHIFT_LOCAL_EVENTS;
    await inbox();
    expect(await notify({ runId: 'feed-noevent', trigger: 'schedule', startedAt: '2026-12-04T05:00:00.000Z', kind: 'report' })).toMatchObject({ sent: true });
    const [email] = await inbox();
    expect(email!.Message).toMatch(/\nWARNING    the Run Completed event was not put on EventBridge \([^\n]+\); applications subscribed to it did not hear of this run\.\n$/);
    expect(email!.Message).toContain('InternalFailure: The event could not be put.');
    expect(asked).toContain('AWSEvents.PutEvents');
    expect(existsSync(join(tmp, 'events', 'feed-noevent.json'))).toBe(false);
  });

  it('a CDN invalidation CloudFront did not create: the run completes, and the report and email say which paths were due', async () => {
    // Cap 2: the 3 replaced or removed renditions are too many paths, and so are their 3 folders (/large/a/*, /thumb/a/*, /thumb/c/*): /*.
    Object.assign(process.env, { NIGHTSHIFT_DISTRIBUTION_ID: 'E2EXAMPLE', NIGHTSHIFT_MAX_INVALIDATION_PATHS: '2' });
    await fabricateRun('feed-cdn');
    expect(await aggregate({ runId: 'feed-cdn', trigger: 'schedule', startedAt: '2026-12-04T06:00:00.000Z' })).toMatchObject({ status: 'SUCCEEDED', catalogPromoted: true });
    const report = await getJson<Report>(server.s3, 'work', runKeys('feed-cdn').report);
    expect(report.records!.invalidation).toEqual({ scope: 'everything', renditions: 3, cap: 2, paths: 1, sample: ['/*'], error: expect.stringContaining('TooManyInvalidationsInProgress') });
    expect(asked).toContain('POST /2020-05-31/distribution/E2EXAMPLE/invalidation');
    await inbox();
    await notify({ runId: 'feed-cdn', trigger: 'schedule', startedAt: '2026-12-04T06:00:00.000Z', kind: 'report' });
    const [email] = await inbox();
    expect(email!.Message).toContain('CDN        3 replaced or removed renditions, in more folders than can be invalidated one by one: the whole distribution (/*) NOT invalidated: TooManyInvalidationsInProgress (HTTP 400): Processing your request');
    const html = await getText(server.s3, 'work', runKeys('feed-cdn').reportHtml);
    expect(html).toContain('CDN: 3 replaced or removed renditions, in more folders');
  });
});
