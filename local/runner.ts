/**
 * The embedded runtime: one complete run of the real workflow on this machine. The definition is
 * synthesized from the CDK stack and executed by aws-local-stepfunctions; Batch tasks run the
 * jobs' entry point as child processes, Lambda tasks call the real handlers, the S3 task reads
 * from the embedded server, and emails go through its SNS topic into .nightshift/outbox/.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { LOCAL_EVENTS_ENV } from '../core/run-event';
import { parsePipelineConfig, type PipelineConfig, type PipelineConfigInput } from '../core/config';
import { pipelineConfigKey, runKeys, STATE_PRESETS_KEY } from '../core/keys';
import { type PresetsState, removalRefusal, unconfirmedRemovals } from '../core/explain';
import { LEASE_KEY, type RunLease } from '../core/lease';
import { showValue, UsageError, ValidationError } from '../core/validation';
import { LOCAL_MARKER_EXPIRY_MINUTES, LOCAL_IMPORT_ENV } from '../core/email';
import { bytes, n, count } from '../core/format';
import { outcomeOf, planRunCounts, type Report, type RunCounts, runCounts, runMetrics } from '../core/report';
import type { Plan } from '../core/plan';
import type { ListedExecution } from '../core/trigger';
import { createS3Client, getJson, getJsonIfExists, isNotFound, isPreconditionFailed, listPages, putJson } from '../adapters/s3';
// The functions' Lambda entries (functions/entry/): each reads the configuration from the work bucket first, as in AWS.
import { handler as aggregate } from '../functions/entry/aggregate';
import { handler as scopeWork } from '../functions/entry/scope-work';
import { withFunctionEnvironment } from '../functions/context';
import { handler as notify } from '../functions/entry/notify';
import { handler as notifyFailure } from '../functions/entry/notify-failure';
import { handler as prepare } from '../functions/entry/prepare';
import { buildJobBundle, LOCAL_JOB_BUNDLE } from '../jobs/build';
import type { AslDefinition } from '../infra/asl';
import { STATE } from '../infra/workflow';
import { hostileCorpus } from './sample/corpus';
import { photoJpeg, photoPng } from './sample/images';
import type { JobName } from '../core/jobs';
import { runBatchJob } from './batch';
import { LOCAL_EMAIL, synthesizeLocalDefinition } from './definition';
import { ExecutionAbortedError, ExecutionError, StateMachine } from './embedded/index';
import { type Outbox, openOutbox } from './outbox';
import { ProgressDisplay } from './progress';
import { claimDataDir, dataDirOwner } from './data-dir';
import { isAlive, type LocalRunRecord, newRunRecord, type RunSummary, writeRunRecord } from './run-records';
import { type EmbeddedS3, startEmbeddedS3 } from './s3-server';
import { dynamoDataDir, ensureImageTable, startEmbeddedDynamo } from './dynamodb-server';
import { createDynamoClient } from '../adapters/dynamodb';
import { IMAGES_TABLE_ENV, IMAGES_TABLE_NAME } from '../core/records/table';

export const LOCAL_BUCKETS = { corpus: 'nightshift-corpus', renditions: 'nightshift-renditions', backup: 'nightshift-backup', work: 'nightshift-work' } as const;

export interface LocalRunOptions {
  /** Where the embedded server's data, logs, reports and emails live. Default: .nightshift */
  readonly dataDir?: string;
  /** The run input, as the console would give it. */
  readonly input?: Record<string, unknown>;
  /** Copy this folder's files into the corpus first (keys are the relative paths). */
  readonly importDir?: string;
  /** Use this S3-compatible endpoint instead of the embedded server's S3. */
  readonly endpoint?: string;
  /** Seed the sample corpus when the corpus bucket is empty. Default: true. */
  readonly seed?: boolean;
  /** Pipeline configuration beyond the local buckets (presets, filter…). */
  readonly config?: Omit<PipelineConfigInput, 'buckets'>;
  /** Concurrent job children. Default: the number of cores. */
  readonly concurrency?: number;
  /** Where people read progress and the summary (default stderr / stdout). */
  readonly progress?: (text: string) => void;
  readonly out?: (text: string) => void;
  readonly tty?: boolean;
  /** Hook for fault tests: each job child as it starts. */
  readonly onSpawn?: Parameters<typeof runBatchJob>[1]['onSpawn'];
  /** Aborting stops the run as StopExecution does in AWS: job children get SIGTERM, no email is sent. */
  readonly signal?: AbortSignal;
}

export interface LocalRunResult {
  readonly runId: string;
  readonly status: WorkflowOutcome['status'];
  /** report.html on disk, when the run got that far. */
  readonly report?: string;
  /** The run's email as an .eml file. */
  readonly email?: string;
  readonly emailText?: string;
  /** The run's counts (core/report.ts runCounts), the same the email and report.html say. */
  readonly counts?: RunCounts;
  /** States entered, in order (the execution history). */
  readonly history: readonly string[];
  readonly error?: { readonly Error: string; readonly Cause: string };
}

/** `local-20261122T020000Z-3f9a`: sortable by time, unique even for runs started in the same second. */
export function localRunId(now = new Date()): string {
  return `local-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`;
}

export async function runLocal(options: LocalRunOptions = {}): Promise<LocalRunResult> {
  const dataDir = resolve(options.dataDir ?? '.nightshift');
  const out = options.out ?? ((t: string) => process.stdout.write(t));
  const progressOut = options.progress ?? ((t: string) => process.stderr.write(t));
  const runId = localRunId();
  const startTime = new Date().toISOString();
  mkdirSync(dataDir, { recursive: true });
  let record = newRunRecord(runId, startTime);
  const note = (change: Partial<LocalRunRecord>) => writeRunRecord(dataDir, (record = { ...record, ...change }));
  // The embedded server keeps its objects in one SQLite file that one process may open at a time
  // (local/data-dir.ts), as the records' LevelDB is: a running `nightshift local serve` owns both, and the run uses its endpoints.
  // With --endpoint (or through the serve) this process's server only carries the emails (SNS).
  const owner = options.endpoint ? undefined : dataDirOwner(dataDir);
  if (owner?.role === 'serve' && !(owner.endpoint && owner.dynamodb)) throw new Error(`nightshift local serve (pid ${owner.pid}) is starting on ${dataDir}, or is of an earlier version: try again in a few seconds, else stop it (Ctrl-C) and start it again`);
  const served = owner?.role === 'serve' ? { s3: owner.endpoint!, dynamodb: owner.dynamodb! } : undefined;
  const claim = options.endpoint || served ? undefined : claimDataDir(dataDir, 'run');
  note({});
  if (served) progressOut(`Using the S3 data of nightshift local serve (pid ${owner!.pid}) on ${served.s3}, and its image records on ${served.dynamodb}\n`);
  const server = await startEmbeddedS3({ dataDir: claim ? join(dataDir, 's3') : undefined });
  const s3Endpoint = options.endpoint ?? served?.s3 ?? server.endpoint;
  const s3 = createS3Client({ endpoint: s3Endpoint, maxAttempts: 8 }, {});
  const outbox = await openOutbox(server.endpoint, join(dataDir, 'outbox'));
  let records: LocalRecords | undefined;
  try {
    records = await openRecords(served?.dynamodb, claim ? dynamoDataDir(dataDir) : undefined);
    const config = parsePipelineConfig({ ...options.config, buckets: LOCAL_BUCKETS });
    const run: LocalRun = { runId, startTime, dataDir, config, s3, s3Endpoint, dynamoEndpoint: records.endpoint, server, outbox, options, progressOut };
    await prepareCorpus(run);
    await refuseUnconfirmedRemovals(run);
    const configPointer = await publishConfig(run);
    const definition = synthesizeLocalDefinition(config, join(dataDir, 'cdk.out'));
    await buildJobBundle(LOCAL_JOB_BUNDLE);
    const tasks = localTasks(run, configPointer);
    const checkActiveRuns = async () => ({ Executions: await localListExecutionsReleasingLease(s3, config.buckets.work, localStateMachineArn(server.region)) });
    // The execution starts now, after the start-up (servers, corpus, synth, bundle): its start is
    // what the report, the email, `status` and `history` time the run from, as in AWS. (The
    // interpreter stamps $$.Execution.StartTime itself as it starts: the report's start replaces
    // this one once there is a report.)
    const execution = { startedAt: new Date().toISOString() };
    note({ execution });
    const outcome = await withRunMarker({ ...run, startTime: execution.startedAt }, async () => {
      const ended = await executeWorkflow(definition, { ...tasks.handlers, [STATE.checkActiveRuns]: checkActiveRuns }, options.input ?? {}, runId, server.region, execution.startedAt, {
        signal: options.signal,
        onState: (state) => note({ state }),
      });
      // Stopped: the job children finish stopping before the servers they write to go.
      if (ended.status === 'ABORTED') await tasks.settled();
      return ended;
    });
    const executionEnd = new Date().toISOString();
    note({ execution: { ...execution, finishedAt: executionEnd } });
    const { status, history, error: failure } = outcome;
    if (status === 'ABORTED') {
      const reason = String(options.signal?.reason ?? 'aborted');
      note({ status, finishedAt: new Date().toISOString(), reason });
      out(`\n${stoppedLine(runId, reason, record.state, tasks.done())}\n`);
      return { runId, status, history, error: failure };
    }
    const result = await summarise(run, outcome, tasks.plan(), out);
    note({ status, finishedAt: new Date().toISOString(), subject: result.emailSubject, email: result.email, report: result.report, ...result.summary, execution: { startedAt: result.executionStartedAt ?? execution.startedAt, finishedAt: executionEnd }, ...(failure ? { reason: `${failure.Error}: ${failure.Cause}` } : {}) });
    return { runId, status, report: result.report, email: result.email, emailText: result.emailText, counts: result.counts, history, error: failure };
  } catch (error) {
    note({ status: 'FAILED', finishedAt: new Date().toISOString(), reason: (error as Error).message });
    throw error;
  } finally {
    outbox.close();
    s3.destroy();
    await records?.stop();
    await server.stop();
    claim?.release();
  }
}

/**
 * The one line a stopped run prints: where it stopped, what it kept (each output is written whole,
 * so whatever a job finished stays), and that the next run resumes from there.
 */
export function stoppedLine(runId: string, reason: string, state: string | undefined, done: ReturnType<ProgressDisplay['done']>): string {
  const by = reason === 'SIGINT' ? 'Ctrl-C (SIGINT)' : reason;
  const finished = (['backup', 'resize'] as const).filter((job) => done[job]).map((job) => `${job} ${n(done[job]!.done)} of ${count(done[job]!.items, 'object')}`);
  const kept = finished.length > 0 ? `kept what its jobs finished (${finished.join(', ')})` : 'no image work had started, nothing to keep';
  return `Run ${runId} stopped by ${by} in ${state ?? 'its start'}: ${kept}; no email was sent. The next run resumes it: nightshift local redoes only what this one did not finish.`;
}

/** Where the run's image records are: a DynamoDB endpoint, with the table there, and how to let it go. */
interface LocalRecords {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * The serve's DynamoDB when it serves (the table made again if someone dropped it), else this
 * process's embedded server: on the data directory's `dynamodb/` when the run owns the directory,
 * in memory when its S3 data is elsewhere (--endpoint).
 */
async function openRecords(served: string | undefined, dataDir: string | undefined): Promise<LocalRecords> {
  if (!served) {
    const dynamo = await startEmbeddedDynamo({ dataDir });
    return { endpoint: dynamo.endpoint, stop: () => dynamo.stop() };
  }
  const client = createDynamoClient({ endpoint: served, maxAttempts: 3 }, {});
  try {
    await ensureImageTable(client, IMAGES_TABLE_NAME);
  } finally {
    client.destroy();
  }
  return { endpoint: served, stop: async () => undefined };
}

/** What the parts of one local run share. */
interface LocalRun {
  readonly runId: string;
  readonly startTime: string;
  readonly dataDir: string;
  readonly config: PipelineConfig;
  readonly s3: S3Client;
  /** Where the run's S3 data is: the embedded server, a serve's, or --endpoint. */
  readonly s3Endpoint: string;
  /** Where the run's image records are: the embedded DynamoDB server, or a serve's. */
  readonly dynamoEndpoint: string;
  /** This process's server: SNS (the emails) always, S3 unless s3Endpoint is elsewhere. */
  readonly server: EmbeddedS3;
  readonly outbox: Outbox;
  readonly options: LocalRunOptions;
  readonly progressOut: (text: string) => void;
}

/**
 * A configuration that drops presets that still have renditions is refused here, in one line
 * (exit 2), before anything runs: locally the operator is there to confirm it or undo it. A
 * deployed run holds those renditions instead and says so in its email.
 */
async function refuseUnconfirmedRemovals({ s3, config }: LocalRun): Promise<void> {
  const state = (await getJsonIfExists<PresetsState>(s3, config.buckets.work, STATE_PRESETS_KEY))?.value;
  const refusal = removalRefusal(unconfirmedRemovals(state, config));
  if (refusal) throw new UsageError(refusal);
}

/** The buckets, and the corpus: a folder imported, or the sample seeded into an empty one. */
async function prepareCorpus({ s3, s3Endpoint, options, progressOut }: LocalRun): Promise<void> {
  // On an external endpoint the corpus is the user's data: it must exist; the rest is created.
  for (const bucket of Object.values(LOCAL_BUCKETS).filter((b) => !(options.endpoint && b === LOCAL_BUCKETS.corpus))) await ensureBucket(s3, bucket, s3Endpoint);
  if (options.importDir) progressOut(`Imported ${await importFolder(s3, options.importDir)} file(s) from ${options.importDir}\n`);
  else if (options.seed !== false && !options.endpoint && (await isEmpty(s3, LOCAL_BUCKETS.corpus))) {
    progressOut('Seeding a sample corpus (first run)...\n');
    progressOut(`Seeded ${await seedSampleCorpus(s3)} objects into s3://${LOCAL_BUCKETS.corpus}\n`);
  }
}

/**
 * The configuration where a deployment puts it (infra/pipeline-config.ts): an object in the work
 * bucket named by its digest, which the functions read through NIGHTSHIFT_CONFIG_S3. Its address.
 */
async function publishConfig({ s3, config }: LocalRun): Promise<string> {
  const body = JSON.stringify(config);
  const key = pipelineConfigKey(body);
  await s3.send(new PutObjectCommand({ Bucket: config.buckets.work, Key: key, Body: body, ContentType: 'application/json' }));
  return `s3://${config.buckets.work}/${key}`;
}

interface LocalTasks {
  readonly handlers: Record<string, (task: unknown) => Promise<unknown>>;
  plan(): Plan | undefined;
  /** Resolves when no task call is running any more. */
  settled(): Promise<void>;
  /** Objects each job finished, as its children last reported. */
  done(): ReturnType<ProgressDisplay['done']>;
}

/**
 * The workflow's task states, run here: Batch tasks as child processes of the job bundle, Lambda
 * tasks as calls of the real handlers in the environment Lambda would give them, and the S3 read
 * of the plan. Also keeps the plan, for the progress display and the summary.
 */
function localTasks(run: LocalRun, configPointer: string): LocalTasks {
  const { dataDir, s3, s3Endpoint, server, outbox } = run;
  // The functions' environment, as Lambda would set it: given to each handler call, not to the process.
  const { NIGHTSHIFT_CONFIG: _inline, ...inherited } = process.env;
  const functionEnv: NodeJS.ProcessEnv = {
    ...inherited,
    NIGHTSHIFT_CONFIG_S3: configPointer,
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    AWS_ENDPOINT_URL_SNS: server.endpoint,
    ...recordsEnvironment(run),
    AWS_REGION: server.region,
    NIGHTSHIFT_TOPIC_ARN: outbox.topicArn,
    NIGHTSHIFT_LINKS: 'local',
    NIGHTSHIFT_LOCAL_REPORTS: join(dataDir, 'reports'),
    // A skipped run that imported files says they are in the corpus, and how to render them.
    ...(run.options.importDir ? { [LOCAL_IMPORT_ENV]: run.options.importDir } : {}),
    NIGHTSHIFT_METRICS: 'off',
    NIGHTSHIFT_LOG_LEVEL: process.env.NIGHTSHIFT_LOG_LEVEL ?? 'warn',
    NIGHTSHIFT_TMPDIR: join(dataDir, 'tmp'),
    // The Run Completed event's stand-in: each run's PutEvents request in events/<runId>.json.
    [LOCAL_EVENTS_ENV]: join(dataDir, 'events'),
  };
  mkdirSync(join(dataDir, 'tmp'), { recursive: true });
  const display = new ProgressDisplay(run.progressOut, run.options.tty ?? Boolean(process.stderr.isTTY));
  let plan: Plan | undefined;
  const batch = (job: JobName) => batchTask(run, job, display, () => plan);
  const lambda = (fn: (payload: never) => Promise<unknown>) => async (task: unknown) => ({ Payload: await withFunctionEnvironment(functionEnv, () => fn((task as { Payload: never }).Payload)), StatusCode: 200, ExecutedVersion: '$LATEST' });
  const getObject = localGetObject(s3);
  const readPlan = async (task: unknown) => {
    const got = await getObject(task);
    plan = JSON.parse(got.Body) as Plan;
    return got;
  };
  const handlers = {
    [STATE.prepare]: lambda(prepare),
    [STATE.plan]: batch('catalog'),
    [STATE.readPlan]: readPlan,
    [STATE.scopeWork]: lambda(scopeWork),
    [STATE.backup]: batch('backup'),
    [STATE.resize]: batch('resize'),
    [STATE.aggregate]: lambda(aggregate),
    [STATE.promoteCatalogue]: lambda(aggregate),
    [STATE.notify]: lambda(notify),
    [STATE.notifyNothingToDo]: lambda(notify),
    [STATE.notifySkipped]: lambda(notify),
    [STATE.notifyFailure]: lambda(notifyFailure),
  };
  // A stopped execution leaves its task calls running (job children being stopped): the run waits
  // for them before it lets its servers go, so that no child outlives the run.
  const pending = new Set<Promise<unknown>>();
  const tracked = Object.fromEntries(
    Object.entries(handlers).map(([state, handler]) => [
      state,
      (task: unknown) => {
        const call = handler(task);
        pending.add(call);
        void call.catch(() => undefined).finally(() => pending.delete(call));
        return call;
      },
    ]),
  );
  return { handlers: tracked, plan: () => plan, settled: async () => void (await Promise.allSettled([...pending])), done: () => display.done() };
}

/** The image records' table and its endpoint, for the jobs and the functions alike. */
const recordsEnvironment = (run: LocalRun) => ({ AWS_ENDPOINT_URL_DYNAMODB: run.dynamoEndpoint, [IMAGES_TABLE_ENV]: IMAGES_TABLE_NAME });

/**
 * The local stand-in for `arn:aws:states:::aws-sdk:s3:getObject`: GetObject's output members, and
 * its failures under the names the integration gives them (sdkIntegrationError).
 */
export function localGetObject(s3: S3Client) {
  return async (task: unknown) => {
    const { Bucket, Key } = task as { Bucket: string; Key: string };
    try {
      const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
      return { Body: await got.Body!.transformToString(), ContentType: got.ContentType, ETag: got.ETag };
    } catch (error) {
      throw sdkIntegrationError('S3', error);
    }
  };
}

/**
 * An SDK error as an AWS SDK service integration names it: the service, a dot, and the error name
 * with the `Exception` suffix, added where the API reference has none (Step Functions developer
 * guide, "AWS SDK service integrations": S3's BucketAlreadyExists is `S3.BucketAlreadyExistsException`).
 * Errors the SDK has no exception for (S3's 500 InternalError, 503 SlowDown) are the service's base
 * exception, `S3.S3Exception`; a request that got no answer is the client's, `S3.SdkClientException`.
 */
export function sdkIntegrationError(service: 'S3', error: unknown): Error {
  const e = error as Error;
  const modelled = error instanceof S3ServiceException && Object.getPrototypeOf(error) !== S3ServiceException.prototype;
  const name = !(error instanceof S3ServiceException) ? 'SdkClientException' : modelled ? (e.name.endsWith('Exception') ? e.name : `${e.name}Exception`) : `${service}Exception`;
  return Object.assign(new Error(e.message), { name: `${service}.${name}` });
}

/** A Batch SubmitJob task (`.sync`): the job's children as processes of the bundle, their progress drawn. */
function batchTask(run: LocalRun, job: JobName, display: ProgressDisplay, plan: () => Plan | undefined) {
  const { config, dataDir, s3Endpoint, options } = run;
  return async (task: unknown) => {
    const t = task as { JobQueue?: string; JobDefinition?: string; ContainerOverrides?: { Environment?: { Name: string; Value: string }[] }; ArrayProperties?: { Size: number } };
    const environment = Object.fromEntries((t.ContainerOverrides?.Environment ?? []).map((e) => [e.Name, e.Value]));
    display.start(job, t.ArrayProperties?.Size ?? 0, job === 'catalog' ? 0 : (plan()?.counts.work ?? 0));
    try {
      const result = await runBatchJob(
        { job, environment, arraySize: t.ArrayProperties?.Size, jobQueue: t.JobQueue, jobDefinition: t.JobDefinition },
        {
          entry: LOCAL_JOB_BUNDLE,
          baseEnvironment: {
            NIGHTSHIFT_CONFIG: JSON.stringify(config),
            AWS_ENDPOINT_URL_S3: s3Endpoint,
            ...recordsEnvironment(run),
            NIGHTSHIFT_TMPDIR: join(dataDir, 'tmp'),
            NIGHTSHIFT_PROGRESS_MS: '250',
            ...(process.env.NIGHTSHIFT_S3_MAX_ATTEMPTS ? { NIGHTSHIFT_S3_MAX_ATTEMPTS: process.env.NIGHTSHIFT_S3_MAX_ATTEMPTS } : {}),
          },
          logDir: join(dataDir, 'logs', run.runId),
          concurrency: options.concurrency ?? availableParallelism(),
          attempts: { catalog: 3, backup: 3, resize: 3 },
          onProgress: (p) => display.update(p),
          onSpawn: options.onSpawn,
          signal: options.signal,
        },
      );
      display.finish(job, true);
      return result;
    } catch (error) {
      // A job stopped with the run did not fail: the run's one line says what happened.
      if (!options.signal?.aborted) display.finish(job, false);
      throw error;
    }
  };
}

/**
 * Runs `execute` with a marker of this run for CheckActiveRuns, from the moment the execution
 * starts to its end, and a heartbeat: a run on another host (a shared --endpoint) that died stops
 * beating. The marker goes whatever the outcome.
 */
async function withRunMarker<T>({ s3, config, runId, server, startTime }: LocalRun, execute: () => Promise<T>): Promise<T> {
  const executionArn = `arn:aws:states:${server.region}:000000000000:execution:nightshift-local:${runId}`;
  const marker = `${RUNNING_PREFIX}${runId}.json`;
  const beat = () => putJson(s3, config.buckets.work, marker, { executionArn, name: runId, startDate: startTime, pid: process.pid, host: hostname(), heartbeatAt: new Date().toISOString() } satisfies RunMarker);
  await beat();
  const heartbeat = setInterval(() => void beat().catch(() => undefined), MARKER_HEARTBEAT_MS).unref();
  try {
    return await execute();
  } finally {
    clearInterval(heartbeat);
    await s3.send(new DeleteObjectCommand({ Bucket: config.buckets.work, Key: marker }));
  }
}

/** After a run that was not stopped: its email and report written to disk, and printed with its figures. */
async function summarise(run: LocalRun, outcome: WorkflowOutcome, plan: Plan | undefined, out: (text: string) => void) {
  const { runId, dataDir } = run;
  const emails = await run.outbox.drain(runId, [LOCAL_EMAIL]);
  const reportDir = join(dataDir, 'reports', runId);
  const report = await copyReport(run.s3, run.config, runId, reportDir);
  // The counts every summary says, computed once from report.json (copied beside report.html just now).
  const r = report ? (JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8')) as Report) : undefined;
  const metrics = r && runMetrics(r);
  const counts = r ? runCounts(r) : plan && planRunCounts(plan);
  const summary: RunSummary | undefined = r && counts ? { counts, outcome: outcomeOf(r, counts), durationMs: r.durationMs } : undefined;

  const email = emails.at(-1);
  const failure = outcome.error;
  out(`\n${email ? `${'-'.repeat(72)}\nSubject: ${email.subject}\n\n${email.text}${'-'.repeat(72)}\n` : 'No email was sent.\n'}`);
  if (email) out(`Email:  ${relative(process.cwd(), email.path)}\n`);
  if (report) out(`Report: ${relative(process.cwd(), report)}\n`);
  if (metrics) out(`Metrics (as published to CloudWatch in AWS): ${Object.entries(metrics).map(([name, m]) => `${name} ${m.unit === 'Bytes' ? bytes(m.value) : m.unit === 'Seconds' ? `${m.value} s` : n(m.value)}`).join(', ')}\n`);
  if (failure) out(`Run ${runId} FAILED: ${failure.Error}: ${failure.Cause}\nJob logs: ${relative(process.cwd(), join(dataDir, 'logs', runId))}\n`);
  return { report, email: email?.path, emailSubject: email?.subject, emailText: email?.text, counts, summary, executionStartedAt: r?.startedAt };
}

/**
 * Creates a bucket, or finds it already ours. S3 answers 409 BucketAlreadyOwnedByYou for our own
 * bucket (200 in us-east-1) and 409 BucketAlreadyExists for somebody else's (S3 API reference,
 * CreateBucket): that one must stop the run, or it would write into another account's bucket.
 */
async function ensureBucket(s3: S3Client, bucket: string, endpoint: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'BucketAlreadyOwnedByYou') return;
    if (name === 'BucketAlreadyExists') {
      throw new ValidationError('option', [{ field: '--endpoint', received: showValue(endpoint), expected: `an endpoint where the bucket ${bucket} is yours or free (S3 says it belongs to someone else)` }], `nightshift local uses the buckets ${Object.values(LOCAL_BUCKETS).join(', ')}: point --endpoint at a server or account where those names are yours.`);
    }
    throw error;
  }
}

/**
 * The local stand-in for CheckActiveRuns (`aws-sdk:sfn:listExecutions`, StatusFilter RUNNING):
 * markers of local runs whose process is alive, answered in the integration's shape — the
 * ExecutionListItem members in PascalCase, newest first (Step Functions API reference,
 * ListExecutions) — so that prepare reads the same fields here as in AWS.
 */
export const RUNNING_PREFIX = 'running/';

/** How often a local run rewrites its marker, and how long after the last beat a marker is stale. */
export const MARKER_HEARTBEAT_MS = 30_000;
export const MARKER_EXPIRY_MS = LOCAL_MARKER_EXPIRY_MINUTES * 60_000;

export interface RunMarker {
  readonly executionArn: string;
  readonly name: string;
  readonly startDate: string;
  readonly pid: number;
  readonly host: string;
  /** Markers written before heartbeats existed have none: their start counts as the last beat. */
  readonly heartbeatAt?: string;
}

/**
 * A marker is live while its process runs: on this host, while the pid is alive; on another host
 * (a shared --endpoint), while it beats. A stale marker is deleted, so that a killed run never
 * blocks the runs after it.
 */
export function markerIsLive(marker: RunMarker, now = Date.now()): boolean {
  if (marker.host === hostname()) return isAlive(marker.pid);
  return now - Date.parse(marker.heartbeatAt ?? marker.startDate) < MARKER_EXPIRY_MS;
}

export async function localListExecutions(s3: S3Client, bucket: string, stateMachineArn: string): Promise<ListedExecution[]> {
  const out: ListedExecution[] = [];
  for await (const page of listPages(s3, { bucket, prefix: RUNNING_PREFIX })) {
    for (const o of page.objects) {
      const marker = await getJson<RunMarker>(s3, bucket, o.Key!).catch(() => undefined);
      if (marker && markerIsLive(marker)) out.push({ ExecutionArn: marker.executionArn, StateMachineArn: stateMachineArn, Name: marker.name, Status: 'RUNNING', StartDate: marker.startDate });
      else await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key!, ...(o.ETag ? { IfMatch: o.ETag } : {}) })).catch(() => undefined);
    }
  }
  return out.sort((a, b) => Date.parse(String(b.StartDate)) - Date.parse(String(a.StartDate)));
}

/**
 * localListExecutions, and the run lease of a local run that ended without reaching a failure path
 * (killed, or stopped with Ctrl-C) is released: its marker is gone, so it is not listed. The lease
 * is read before the markers are listed: a run writes its marker before it takes the lease, so a
 * lease read first belongs to a run whose marker the listing sees, while that run lives. In AWS a
 * stopped or timed-out execution's lease lasts until its budget runs out (core/lease.ts).
 */
export async function localListExecutionsReleasingLease(s3: S3Client, bucket: string, stateMachineArn: string): Promise<ListedExecution[]> {
  const lease = await getJsonIfExists<RunLease>(s3, bucket, LEASE_KEY);
  const listed = await localListExecutions(s3, bucket, stateMachineArn);
  if (lease && !listed.some((e) => e.ExecutionArn === lease.value.executionArn)) {
    // If-Match: a lease taken since the read is another run's, and stays.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: LEASE_KEY, IfMatch: lease.etag })).catch((error: unknown) => {
      if (!isPreconditionFailed(error) && !isNotFound(error) && (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 409) throw error;
    });
  }
  return listed;
}

const localStateMachineArn = (region: string) => `arn:aws:states:${region}:000000000000:stateMachine:nightshift-local`;

export interface WorkflowOutcome {
  /** ABORTED: stopped through the signal, as StopExecution stops an execution in AWS. */
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  /** States entered, in order. */
  readonly history: readonly string[];
  readonly error?: { readonly Error: string; readonly Cause: string };
}

/** Runs a definition with aws-local-stepfunctions, the given task handlers (by state name) and a Step Functions-like context. */
export async function executeWorkflow(
  definition: AslDefinition,
  handlers: Record<string, (input: unknown) => Promise<unknown>>,
  input: Record<string, unknown>,
  runId: string,
  region = 'us-east-1',
  startTime = new Date().toISOString(),
  watch: { readonly signal?: AbortSignal; readonly onState?: (state: string) => void } = {},
): Promise<WorkflowOutcome> {
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never },
    context: {
      Execution: { Id: `arn:aws:states:${region}:000000000000:execution:nightshift-local:${runId}`, Name: runId, StartTime: startTime, Input: input as never, RoleArn: 'local', RedriveCount: 0 },
      StateMachine: { Id: localStateMachineArn(region), Name: 'nightshift-local' },
    },
  });
  const history: string[] = [];
  const watching = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type !== 'StateEntered') continue;
      history.push(event.state.name);
      watch.onState?.(event.state.name);
    }
  })();
  const abort = () => execution.abort();
  if (watch.signal?.aborted) abort();
  watch.signal?.addEventListener('abort', abort, { once: true });
  try {
    await execution.result;
    await watching;
    return { status: 'SUCCEEDED', history };
  } catch (error) {
    if (error instanceof ExecutionAbortedError) return { status: 'ABORTED', history, error: { Error: 'ExecutionAborted', Cause: String(watch.signal?.reason ?? 'aborted') } };
    await watching;
    const e = error as Error & { cause?: Error };
    const cause = e instanceof ExecutionError ? e.cause : undefined;
    return { status: 'FAILED', history, error: { Error: cause?.name ?? e.name, Cause: cause?.message ?? e.message } };
  } finally {
    watch.signal?.removeEventListener('abort', abort);
  }
}

async function isEmpty(s3: S3Client, bucket: string): Promise<boolean> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }));
  return (page.KeyCount ?? 0) === 0;
}

/** report.html, report.json, failures.csv and the change feed copied to disk, so the report opens from a file and links them. */
async function copyReport(s3: S3Client, config: PipelineConfig, runId: string, dir: string): Promise<string | undefined> {
  const keys = runKeys(runId);
  let html: string | undefined;
  for (const [key, file] of [
    [keys.reportHtml, 'report.html'],
    [keys.report, 'report.json'],
    [keys.failuresCsv, 'failures.csv'],
    [keys.changeFeed, 'changes.jsonl'],
  ] as const) {
    try {
      const got = await s3.send(new GetObjectCommand({ Bucket: config.buckets.work, Key: key }));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, file), Buffer.from(await got.Body!.transformToByteArray()));
      if (file === 'report.html') html = join(dir, file);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  return html;
}

const CONTENT_TYPES: Record<string, string> = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', tif: 'image/tiff', tiff: 'image/tiff', avif: 'image/avif', heic: 'image/heic', heif: 'image/heif' };

/** Uploads every file under `dir` (keys: relative paths with "/"), skipping dot-files. */
export async function importFolder(s3: S3Client, dir: string): Promise<number> {
  const root = resolve(dir);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`--import: ${dir} is not a folder.`);
  let count = 0;
  const walk = async (folder: string): Promise<void> => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const key = relative(root, path).split(sep).join('/');
        const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
        await new Upload({ client: s3, params: { Bucket: LOCAL_BUCKETS.corpus, Key: key, Body: createReadStream(path), ContentType: CONTENT_TYPES[ext] }, partSize: 8 * 1024 * 1024 }).done();
        count++;
      }
    }
  };
  await walk(root);
  return count;
}

/** The sample corpus: photos of several sizes and formats, plus the hostile objects a real bucket collects. */
export async function seedSampleCorpus(s3: S3Client): Promise<number> {
  const objects = [
    ...(await hostileCorpus({ photos: 6, photoWidth: 2400, photoHeight: 1600, seed: 7 })),
    { key: 'photos/2026/10/harbour.jpg', body: await photoJpeg(4000, 3000, 71), contentType: 'image/jpeg' },
    { key: 'photos/2026/10/portrait.jpg', body: await photoJpeg(1800, 2700, 72), contentType: 'image/jpeg' },
    { key: 'graphics/diagram.png', body: await photoPng(1600, 900, 73), contentType: 'image/png' },
  ];
  for (const o of objects) await s3.send(new PutObjectCommand({ Bucket: LOCAL_BUCKETS.corpus, Key: o.key, Body: o.body, ContentType: o.contentType }));
  return objects.length;
}
