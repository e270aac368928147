/** `nightshift run` and `nightshift status`: the deployed workflow, through the Step Functions API. */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, DescribeStateMachineCommand, ListExecutionsCommand, ListStateMachinesCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { runSubject } from '../../core/email';
import { runKeys } from '../../core/keys';
import { outcomeOf, type Report, runCounts } from '../../core/report';
import { historyLine, type RunLine, statusLines } from '../../core/run-status';
import { createS3Client, getJsonIfExists } from '../../adapters/s3';
import { STATE } from '../../infra/workflow';
import { duration } from '../../core/format';
import { stateMachineNameOf } from '../../infra/stack';
import { readRunRecord, runLineOf, runRecordIds } from '../../local/run-records';
import { UsageError } from '../../core/validation';
import { checkFlags } from '../lib/flags';
import { projectConfig } from '../lib/project-config';

function client(): SFNClient {
  return new SFNClient({ maxAttempts: 5 });
}

/** AWS errors, said as what to do. A missing region or credentials is the caller's to fix: exit 2. */
function explain(error: unknown): Error {
  const e = error as { name?: string; message?: string; code?: string };
  if (e.message === 'Region is missing') {
    return new UsageError('no AWS region: set AWS_REGION (e.g. AWS_REGION=eu-west-1), or AWS_PROFILE naming a profile with a region in ~/.aws/config');
  }
  if (e.name === 'CredentialsProviderError' || /Could not load credentials|credential/i.test(e.message ?? '')) {
    return new UsageError('no AWS credentials: run aws configure (or aws sso login), set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and try again');
  }
  if (e.name === 'UnrecognizedClientException' || e.name === 'InvalidSignatureException') return new Error(`AWS rejected the credentials (${e.name}): check AWS_PROFILE and the keys`);
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND' || /ECONNREFUSED|ENOTFOUND|getaddrinfo/.test(e.message ?? '')) return new Error(`cannot reach the Step Functions API (${e.message}): check the network and AWS_REGION`);
  if (e.name === 'ExecutionDoesNotExist') return new Error('no such execution: check the ARN (nightshift status latest shows the newest)');
  return error instanceof Error ? error : new Error(String(error));
}

async function findStateMachine(sfn: SFNClient, values: Record<string, unknown>): Promise<string> {
  if (typeof values['state-machine-arn'] === 'string') return values['state-machine-arn'];
  const name = stateMachineNameOf((values.stack as string | undefined) ?? 'Nightshift');
  let token: string | undefined;
  do {
    const page = await sfn.send(new ListStateMachinesCommand({ nextToken: token }));
    const found = page.stateMachines?.find((m) => m.name === name);
    if (found) return found.stateMachineArn!;
    token = page.nextToken;
  } while (token);
  throw new Error(`no state machine named ${name} in this account and region: deploy the stack first (npm run deploy), or pass --state-machine-arn`);
}

const consoleLink = (arn: string) => {
  const region = arn.split(':')[3];
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${arn}`;
};

export async function runCommand(values: Record<string, unknown>, input: Record<string, unknown>): Promise<number> {
  // The deployed stack reads the same cdk.json: a preset it does not know fails here, not in AWS.
  checkFlags(input, projectConfig());
  const sfn = client();
  try {
    const stateMachineArn = await findStateMachine(sfn, values);
    const name = `cli-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`;
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    process.stdout.write(`Started ${name}\n  ${consoleLink(executionArn!)}\n`);
    if (!values.wait) return 0;
    let last = '';
    for (;;) {
      const e = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      const line = `${e.status} after ${duration(Date.now() - e.startDate!.getTime())}`;
      if (line !== last && process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${line}`);
      last = line;
      if (e.status !== 'RUNNING' && e.status !== 'PENDING_REDRIVE') {
        process.stderr.write('\n');
        process.stdout.write(`${e.status}${e.error ? `: ${e.error}: ${e.cause ?? ''}` : ''}\n`);
        return e.status === 'SUCCEEDED' ? 0 : 1;
      }
      await new Promise((r) => setTimeout(r, 5_000));
    }
  } catch (error) {
    throw explain(error);
  } finally {
    sfn.destroy();
  }
}

export async function statusCommand(values: Record<string, unknown>, which: string): Promise<number> {
  if (values.local) return printRuns(localRun(dataDirOf(values), which), values, statusLines);
  if (which !== 'latest' && !which.startsWith('arn:')) throw new UsageError(`expected an execution ARN or "latest" (or, with --local, a local run id), received "${which}"`);
  const sfn = client();
  const s3 = createS3Client();
  try {
    let executionArn = which;
    const stateMachineArn = which === 'latest' ? await findStateMachine(sfn, values) : undefined;
    if (stateMachineArn) {
      const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1 }));
      if (!executions?.length) throw new Error('the state machine has no executions yet: start one with nightshift run');
      executionArn = executions[0]!.executionArn!;
    }
    const e = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    const bucket = await workBucketOf(sfn, values, e.stateMachineArn!);
    const line = await deployedRun(s3, bucket, { ...e, executionArn, error: e.error, cause: e.cause });
    return printRuns(line, values, (r) => [...statusLines(r), `  ${consoleLink(executionArn)}`]);
  } catch (error) {
    throw explain(error);
  } finally {
    sfn.destroy();
    s3.destroy();
  }
}

/** `nightshift history`: the last runs, newest first, one line each (or a JSON array). */
export async function historyCommand(values: Record<string, unknown>): Promise<number> {
  const limit = values.limit === undefined ? 10 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit must be a whole number from 1 to 1000, received "${String(values.limit)}"`);
  if (values.local) {
    const dataDir = dataDirOf(values);
    const ids = runRecordIds(dataDir).slice(-limit).reverse();
    return printRuns(ids.map((id) => runLineOf(readRunRecord(dataDir, id)!)), values, (r) => [historyLine(r)]);
  }
  const sfn = client();
  const s3 = createS3Client();
  try {
    const stateMachineArn = await findStateMachine(sfn, values);
    const bucket = await workBucketOf(sfn, values, stateMachineArn);
    // ListExecutions lists newest first (Step Functions API reference, ListExecutions).
    const { executions = [] } = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: limit }));
    // ExecutionListItem has no error or cause: a run that did not succeed is described for its reason.
    const facts = (e: (typeof executions)[number]) => (e.status === 'SUCCEEDED' || e.status === 'RUNNING' ? e : sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn })));
    const lines = await Promise.all(executions.map(async (e) => deployedRun(s3, bucket, { ...(await facts(e)), executionArn: e.executionArn! })));
    return printRuns(lines, values, (r) => [historyLine(r)]);
  } catch (error) {
    throw explain(error);
  } finally {
    sfn.destroy();
    s3.destroy();
  }
}

const dataDirOf = (values: Record<string, unknown>) => resolve((values['data-dir'] as string | undefined) ?? '.nightshift');

/** Prints runs as text, or with --json as one JSON value: an object for `status` (one run), an array for `history`. */
function printRuns(runs: RunLine | RunLine[], values: Record<string, unknown>, text: (r: RunLine) => string[]): number {
  const list = Array.isArray(runs) ? runs : [runs];
  if (values.json) process.stdout.write(`${JSON.stringify(runs)}\n`);
  else process.stdout.write(list.length ? `${list.flatMap(text).join('\n')}\n` : 'no runs yet\n');
  return 0;
}

/** A local run from its record (local/run-records.ts): any outcome, interrupted ones included. */
function localRun(dataDir: string, which: string): RunLine {
  const ids = runRecordIds(dataDir);
  if (ids.length === 0) throw new Error(`no local run yet in ${dataDir}: run nightshift local (or npm start)`);
  const runId = which === 'latest' ? ids.at(-1)! : which;
  const record = readRunRecord(dataDir, runId);
  if (!record) throw new UsageError(`no local run ${JSON.stringify(which)} in ${dataDir}: give a run id such as ${ids.at(-1)} (the latest), or "latest"`);
  return runLineOf(record);
}

/**
 * The work bucket of the deployed stack: --work-bucket, else the bucket its ReadPlan state reads
 * the plan from, in the definition DescribeStateMachine answers (Step Functions API reference,
 * DescribeStateMachine: `definition`, the Amazon States Language as a string).
 */
async function workBucketOf(sfn: SFNClient, values: Record<string, unknown>, stateMachineArn: string): Promise<string> {
  if (typeof values['work-bucket'] === 'string') return values['work-bucket'];
  const { definition } = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
  const bucket = findStateBucket(JSON.parse(definition ?? '{}') as AslStates, STATE.readPlan);
  if (!bucket) throw new UsageError(`cannot find the work bucket in the definition of ${stateMachineArn}: pass --work-bucket (the stack's WorkBucket output)`);
  return bucket;
}

interface AslStates {
  readonly States?: Record<string, { readonly Parameters?: { readonly Bucket?: unknown }; readonly Branches?: AslStates[]; readonly Iterator?: AslStates; readonly ItemProcessor?: AslStates }>;
}

function findStateBucket(asl: AslStates, name: string): string | undefined {
  for (const [stateName, state] of Object.entries(asl.States ?? {})) {
    if (stateName === name && typeof state.Parameters?.Bucket === 'string') return state.Parameters.Bucket;
    for (const inner of [...(state.Branches ?? []), ...(state.Iterator ? [state.Iterator] : []), ...(state.ItemProcessor ? [state.ItemProcessor] : [])]) {
      const found = findStateBucket(inner, name);
      if (found) return found;
    }
  }
  return undefined;
}

interface ExecutionFacts {
  readonly executionArn: string;
  readonly name?: string;
  readonly status?: string;
  readonly startDate?: Date;
  readonly stopDate?: Date;
  readonly error?: string;
  readonly cause?: string;
}

/** A deployed run: the execution, and the counts and duration of its report in the work bucket (runs/<name>/report.json). */
async function deployedRun(s3: S3Client, bucket: string, e: ExecutionFacts): Promise<RunLine> {
  const runId = e.name!;
  const keys = runKeys(runId);
  const report = (await getJsonIfExists<Report>(s3, bucket, keys.report))?.value;
  const counts = report ? runCounts(report) : null;
  const status = e.status ?? 'UNKNOWN';
  return {
    runId,
    where: 'aws',
    status,
    outcome: report && counts && status === 'SUCCEEDED' ? outcomeOf(report, counts) : status,
    startedAt: (report?.startedAt ? new Date(report.startedAt) : e.startDate!).toISOString(),
    finishedAt: e.stopDate?.toISOString() ?? null,
    durationMs: report?.durationMs ?? (e.stopDate && e.startDate ? e.stopDate.getTime() - e.startDate.getTime() : null),
    counts,
    subject: report && counts ? runSubject(report, counts) : null,
    report: report ? `s3://${bucket}/${keys.reportHtml}` : null,
    reason: e.error ? `${e.error}: ${e.cause ?? ''}` : null,
  };
}
