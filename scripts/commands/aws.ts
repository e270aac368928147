/** `nightshift run` and `nightshift status`: the deployed workflow, through the Step Functions API. */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { DescribeExecutionCommand, ListExecutionsCommand, ListStateMachinesCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { duration, utcMinute } from '../../core/format';
import { stateMachineNameOf } from '../../infra/stack';
import { interrupted, readRunRecord, runRecordIds } from '../../local/run-records';
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
  throw new Error(`no state machine named ${name} in this account and region: deploy the stack first (npx cdk deploy), or pass --state-machine-arn`);
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
  if (values.local) return localStatus(resolve((values['data-dir'] as string | undefined) ?? '.nightshift'), which);
  if (which !== 'latest' && !which.startsWith('arn:')) throw new UsageError(`expected an execution ARN or "latest" (or, with --local, a local run id), received "${which}"`);
  const sfn = client();
  try {
    let executionArn = which;
    if (which === 'latest') {
      const stateMachineArn = await findStateMachine(sfn, values);
      const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1 }));
      if (!executions?.length) throw new Error('the state machine has no executions yet: start one with nightshift run');
      executionArn = executions[0]!.executionArn!;
    }
    const e = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    process.stdout.write(`${e.name}  ${e.status}  started ${e.startDate?.toISOString()}${e.stopDate ? `, ${duration(e.stopDate.getTime() - e.startDate!.getTime())}` : ''}\n  ${consoleLink(executionArn)}\n`);
    if (e.error) process.stdout.write(`  ${e.error}: ${e.cause ?? ''}\n`);
    return 0;
  } catch (error) {
    throw explain(error);
  } finally {
    sfn.destroy();
  }
}

/** A local run from its record (local/run-records.ts): any outcome, interrupted ones included. */
function localStatus(dataDir: string, which: string): number {
  const ids = runRecordIds(dataDir);
  if (ids.length === 0) throw new Error(`no local run yet in ${dataDir}: run nightshift local (or npm start)`);
  const runId = which === 'latest' ? ids.at(-1)! : which;
  const record = readRunRecord(dataDir, runId);
  if (!record) throw new UsageError(`no local run ${JSON.stringify(which)} in ${dataDir}: give a run id such as ${ids.at(-1)} (the latest), or "latest"`);
  const lost = interrupted(record);
  const status = lost ? 'INTERRUPTED' : record.status;
  const took = record.finishedAt ? `, ${duration(Date.parse(record.finishedAt) - Date.parse(record.startedAt))}` : '';
  const lines = [`${record.runId}  ${status}${record.state && record.status !== 'SUCCEEDED' ? ` in ${record.state}` : ''}  started ${utcMinute(record.startedAt)}${took}`];
  if (lost) lines.push(`  Its process (pid ${record.pid}) is gone: it was killed or crashed, and sent no email. The next run says so and redoes what it did not finish.`);
  else if (record.status === 'RUNNING') lines.push(`  Running now (pid ${record.pid} on ${record.host}).`);
  if (record.reason) lines.push(`  ${record.status === 'ABORTED' ? 'Stopped by' : 'Reason'}: ${record.reason}`);
  if (record.subject) lines.push(`  Email: ${record.subject}`);
  if (record.report) lines.push(`  Report: ${record.report}`);
  if (record.email) lines.push(`  ${record.email}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
