/**
 * What matters in the synthesized template (never a whole-template snapshot: asset hashes change
 * with every edit): the schedule, the jobs' retry strategies and timeouts, bucket hardening, IAM
 * scope, the topic's TLS policy, the alarms, cdk-nag, and the workflow's definition.
 */
import { type Dirent, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { App, Aspects, Size, Stack, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import aslValidator = require('asl-validator');
import { AwsSolutionsChecks } from 'cdk-nag';
import { type AslDefinition, allStates, definitionFromTemplate, successors } from './asl';
import { FEATURE_FLAGS } from './feature-flags';
import { keepingStderr } from '../test/support/stderr';
import { parseStackConfig, type StackConfig } from './config';
import { AwsLimits, LAMBDA_ENVIRONMENT_LIMIT_BYTES } from './limits';
import { NightlySchedule } from './schedule';
import { NightshiftStack } from './stack';
import { STATE } from './workflow';


interface Synthesized {
  template: Template;
  json: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
  definition: AslDefinition;
  report: { pluginReports: { pluginName: string; conclusion: string; violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[] } | undefined;
  outdir: string;
}

function synth(overrides: Partial<Record<keyof StackConfig, unknown>> = {}, context: Record<string, unknown> = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'nightshift-cdk-'));
  const app = new App({ outdir, context: { ...FEATURE_FLAGS, ...context } });
  const config = parseStackConfig({ notificationEmails: ['ops@example.com', 'oncall@example.com'], ...overrides });
  // Assets are bundled as the constructs are made (CDK's "Bundling asset" lines), and checked as the app synthesizes.
  const stack = keepingStderr(() => new NightshiftStack(app, 'Nightshift', { config, env: { account: '123456789012', region: 'eu-west-1' } }));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    keepingStderr(() => app.synth());
  } catch (error) {
    if (!/Validation failed/.test((error as Error).message)) throw error;
  }
  const reportPath = join(outdir, 'validation-report.json');
  const template = Template.fromJSON(JSON.parse(readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8')));
  const json = template.toJSON() as Synthesized['json'];
  return { template, json, definition: definitionFromTemplate(json), report: existsSync(reportPath) ? JSON.parse(readFileSync(reportPath, 'utf8')) : undefined, outdir };
}

let s: Synthesized;
beforeAll(() => {
  s = synth();
}, 120_000);
afterAll(() => rmSync(s.outdir, { recursive: true, force: true }));

const statementsOf = (logicalIdPrefix: string) =>
  Object.entries(s.json.Resources)
    .filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith(logicalIdPrefix))
    .flatMap(([, r]) => (r.Properties!.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown; Sid?: string }[] }).Statement);
const actionsOf = (st: { Action: string | string[] }) => (Array.isArray(st.Action) ? st.Action : [st.Action]);
/** The pipeline configuration as the deployment writes it to the work bucket: the asset Source.jsonData staged (deploy-time values as its markers). */
const deployedConfig = (synthesized: Synthesized): Record<string, any> => {
  // Some assets are files (the AWS CLI layer's .zip): only folders are listed.
  const asset = readdirSync(synthesized.outdir, { withFileTypes: true }).find((d) => d.isDirectory() && d.name.startsWith('asset.') && readdirSync(join(synthesized.outdir, d.name)).some((f) => /^pipeline-[0-9a-f]{16}\.json$/.test(f)))!.name;
  const file = readdirSync(join(synthesized.outdir, asset)).find((f) => f.startsWith('pipeline-'))!;
  return JSON.parse(readFileSync(join(synthesized.outdir, asset, file), 'utf8'));
};

describe('cdk-nag (AwsSolutions)', () => {
  it('has zero unacknowledged findings', () => {
    const plugin = s.report?.pluginReports.find((p) => p.pluginName === 'AwsSolutions');
    const open = plugin?.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)) ?? [];
    expect(open).toEqual([]);
    expect(plugin?.conclusion ?? 'success').toBe('success');
  });

  it('gives every acknowledgement a reason', () => {
    const metadata = readFileSync(join(s.outdir, 'Nightshift.template.json'), 'utf8');
    expect(metadata).not.toMatch(/"reason":\s*""/);
  });
});

describe('schedule', () => {
  it('starts the state machine with {} on the configured cron (UTC)', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 2 * * ? *)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('WorkflowStateMachine') }, Input: '{}' })],
    });
  });

  it('uses EventBridge Scheduler when a time zone is configured', () => {
    const zoned = synth({ schedule: { cron: 'cron(30 1 * * ? *)', timeZone: 'Europe/Paris' } });
    try {
      zoned.template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: 'cron(30 1 * * ? *)',
        ScheduleExpressionTimezone: 'Europe/Paris',
        Target: Match.objectLike({ Input: '{}' }),
      });
      zoned.template.resourcePropertiesCountIs('AWS::Events::Rule', { ScheduleExpression: Match.anyValue() }, 0);
    } finally {
      rmSync(zoned.outdir, { recursive: true, force: true });
    }
  });
});

describe('schedule across daylight saving time', () => {
  // EventBridge Scheduler skips a run whose local time daylight saving skips, and runs once at a
  // repeated time (EventBridge Scheduler user guide, "Daylight saving time"). Synth says so.
  const warningsFor = (cron: string, timeZone: string) => {
    const app = new App();
    const stack = new Stack(app, 'ScheduleOnly');
    const stateMachine = new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Start')) });
    new NightlySchedule(stack, 'Nightly', { stateMachine, cron, timeZone });
    return Annotations.fromStack(stack).findWarning('*', Match.anyValue()).map((w) => String(w.entry.data));
  };

  it('warns at synth when a scheduled local time is skipped or repeated', () => {
    const [warning, ...more] = warningsFor('cron(0 2 * * ? *)', 'Europe/Paris');
    expect(more).toEqual([]);
    expect(warning).toMatch(/^schedule cron\(0 2 \* \* \? \*\) in Europe\/Paris: \d{4}-03-\d\d 02:00 does not exist \(no run that night\); \d{4}-10-\d\d 02:00 happens twice \(one run\)\. .*pick a time outside the change/);
  });

  it('says nothing for a time no change touches', () => {
    expect(warningsFor('cron(0 4 * * ? *)', 'Europe/Paris')).toEqual([]);
  });
});

describe('Batch', () => {
  it.each([
    ['catalog', 1, 4096, 120, 100],
    ['backup', 0.5, 1024, 120, undefined],
    ['resize', 2, 4096, 240, undefined],
  ])('%s job: Fargate size, timeout, attempts, storage, and retries only what a retry can fix', (job, vcpu, memory, minutes, storageGiB) => {
    s.template.hasResourceProperties('AWS::Batch::JobDefinition', {
      PlatformCapabilities: ['FARGATE'],
      ContainerProperties: Match.objectLike({
        Command: [job],
        // The catalog's sort spills about 400 bytes an object to /tmp: Fargate's default 20 GiB holds some 50 M.
        EphemeralStorage: storageGiB ? { SizeInGiB: storageGiB } : Match.absent(),
        ResourceRequirements: [{ Type: 'MEMORY', Value: String(memory) }, { Type: 'VCPU', Value: String(vcpu) }],
        // The job stops itself before this timeout, since Batch does not retry a timed-out attempt;
        // the resize job budgets images from the task's memory, which only the job definition knows.
        Environment: Match.arrayWith([{ Name: 'NIGHTSHIFT_ATTEMPT_TIMEOUT_SECONDS', Value: String(minutes * 60) }, { Name: 'NIGHTSHIFT_JOB_MEMORY_MIB', Value: String(memory) }]),
        // An init as PID 1 forwards SIGTERM (AWS Batch API reference, LinuxParameters,
        // initProcessEnabled): node as PID 1 would not see one before its handler is installed.
        LinuxParameters: { InitProcessEnabled: true },
      }),
      Timeout: { AttemptDurationSeconds: minutes * 60 },
      RetryStrategy: {
        Attempts: 3,
        EvaluateOnExit: [
          { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
          { Action: 'RETRY', OnStatusReason: 'Your Spot Task was interrupted*' },
          { Action: 'RETRY', OnExitCode: '1*' }, // 1, 137 (SIGKILL), 143 (SIGTERM); not 2
          { Action: 'RETRY', OnStatusReason: 'Task failed to start*' },
          { Action: 'EXIT', OnReason: '*' }, // unmatched failures would otherwise be retried
        ],
      },
    });
  });

  it('queues on Fargate Spot first and on-demand Fargate second', () => {
    const envs = s.template.findResources('AWS::Batch::ComputeEnvironment');
    const spot = Object.keys(envs).find((id) => (envs[id]!.Properties.ComputeResources as { Type: string }).Type === 'FARGATE_SPOT')!;
    const onDemand = Object.keys(envs).find((id) => (envs[id]!.Properties.ComputeResources as { Type: string }).Type === 'FARGATE')!;
    s.template.hasResourceProperties('AWS::Batch::JobQueue', {
      ComputeEnvironmentOrder: [
        { ComputeEnvironment: { 'Fn::GetAtt': [spot, 'ComputeEnvironmentArn'] }, Order: 1 },
        { ComputeEnvironment: { 'Fn::GetAtt': [onDemand, 'ComputeEnvironmentArn'] }, Order: 2 },
      ],
    });
  });

  it('gives every job the address of the pipeline configuration, which holds the deployed bucket names', () => {
    const defs = s.template.findResources('AWS::Batch::JobDefinition');
    expect(Object.keys(defs)).toHaveLength(3);
    for (const def of Object.values(defs)) {
      const env = (def.Properties.ContainerProperties as { Environment: { Name: string; Value: unknown }[] }).Environment;
      expect(env.find((e) => e.Name === 'NIGHTSHIFT_CONFIG')).toBeUndefined();
      expect(JSON.stringify(env.find((e) => e.Name === 'NIGHTSHIFT_CONFIG_S3')!.Value)).toMatch(/s3:\/\/.*StorageWork.*\/config\/pipeline-[0-9a-f]{16}\.json/);
    }
    // Bucket names are deploy-time values: the deployment fills them in (SourceMarkers) as it writes the object.
    const markers = Object.values(s.template.findResources('Custom::CDKBucketDeployment'))[0]!.Properties.SourceMarkers[0] as Record<string, { Ref: string }>;
    const buckets = deployedConfig(s).buckets as Record<string, string>;
    expect(Object.fromEntries(Object.entries(buckets).map(([name, marker]) => [name, markers[marker]?.Ref.replace(/[0-9A-F]{8}$/, '')]))).toEqual({ corpus: 'StorageCorpus', renditions: 'StorageRenditions', backup: 'StorageBackup', work: 'StorageWork' });
  });
});

describe('storage', () => {
  it('hardens every bucket: public access blocked, encrypted, TLS required, access logs on', () => {
    const buckets = s.template.findResources('AWS::S3::Bucket');
    expect(Object.keys(buckets)).toHaveLength(5); // corpus, renditions, backup, work, access logs
    for (const [id, b] of Object.entries(buckets)) {
      expect(b.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(b.Properties.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
      if (!id.startsWith('StorageAccessLogs')) expect(b.Properties.LoggingConfiguration).toMatchObject({ DestinationBucketName: { Ref: expect.stringMatching(/^StorageAccessLogs/) } });
    }
    const policies = s.template.findResources('AWS::S3::BucketPolicy');
    expect(Object.keys(policies)).toHaveLength(5);
    for (const p of Object.values(policies)) {
      expect((p.Properties.PolicyDocument as { Statement: unknown[] }).Statement).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    }
  });

  it('versions the backup bucket and expires old versions and run artefacts', () => {
    s.template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 90 }, Status: 'Enabled' })]) },
    });
    s.template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Prefix: 'runs/', ExpirationInDays: 90 })]) },
    });
  });

  it('retains the data buckets when the stack is deleted', () => {
    for (const [id, b] of Object.entries(s.template.findResources('AWS::S3::Bucket'))) if (!id.startsWith('StorageAccessLogs')) expect(b.DeletionPolicy).toBe('Retain');
  });

  it('can turn on Object Lock for backups', () => {
    const locked = synth({ backupObjectLock: { mode: 'GOVERNANCE', days: 30 } });
    try {
      locked.template.hasResourceProperties('AWS::S3::Bucket', { ObjectLockEnabled: true, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 30 } } } });
    } finally {
      rmSync(locked.outdir, { recursive: true, force: true });
    }
  });
});

describe('IAM: least privilege', () => {
  const job = () => statementsOf('ComputeJobRole');
  const bucketRef = (prefix: string) => expect.objectContaining({ 'Fn::GetAtt': [expect.stringMatching(new RegExp(`^${prefix}`)), 'Arn'] });

  it('lets the jobs read the corpus but never write or delete it', () => {
    const onCorpus = job().filter((st) => JSON.stringify(st.Resource).includes('StorageCorpus'));
    expect(onCorpus.flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:GetObjectTagging', 's3:ListBucket']);
  });

  it('lets the jobs put renditions and backups, and delete only renditions and their image records (pruning), of nothing else', () => {
    const deleting = job().filter((st) => actionsOf(st).some((a) => /Delete|\*/.test(a)));
    expect(deleting.map((st) => ({ sid: st.Sid, deletes: actionsOf(st).filter((a) => /Delete|\*/.test(a)), resource: st.Resource }))).toEqual([
      // DeleteObject If-Match needs s3:GetObject beside it (S3 user guide, "How to perform conditional deletes").
      { sid: 'WriteRenditions', deletes: ['s3:DeleteObject'], resource: { 'Fn::Join': ['', [bucketRef('StorageRenditions'), '/*']] } },
      // A pruned original's record goes in the same step as its renditions (issue 28; infra/images.test.ts pins the rest).
      { sid: undefined, deletes: ['dynamodb:DeleteItem'], resource: { 'Fn::GetAtt': [expect.stringMatching(/^ImagesTable/), 'Arn'] } },
    ]);
    expect(actionsOf(deleting[0]!).sort()).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:PutObject']);
    const backup = job().find((st) => st.Sid === 'WriteBackups')!;
    // PutObjectTagging: a copy that keeps its source's tags (S3 API reference, CopyObject, "Permissions").
    expect(actionsOf(backup).sort()).toEqual(['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject', 's3:PutObjectTagging']);
    expect(backup.Resource).toEqual({ 'Fn::Join': ['', [bucketRef('StorageBackup'), '/*']] });
  });

  it('lets the jobs read exactly the inventory deliveries when the catalogue comes from S3 Inventory, and passes cdk-nag', () => {
    const inv = synth({ corpus: { bucketName: 'photos', inventory: { bucketName: 'photos-inventory', prefix: 'inventory/photos/nightly/' } } });
    try {
      const statements = Object.entries(inv.template.findResources('AWS::IAM::Policy'))
        .filter(([id]) => id.startsWith('ComputeJobRole'))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown }[]);
      const list = statements.find((st) => st.Sid === 'ListInventory')!;
      const read = statements.find((st) => st.Sid === 'ReadInventory')!;
      // ListObjectsV2 with a prefix is authorized by s3:ListBucket and its s3:prefix condition key (S3 API reference, ListObjectsV2, "Permissions").
      expect(list).toMatchObject({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['inventory/photos/nightly/*'] } } });
      expect(JSON.stringify(list.Resource)).toContain(':s3:::photos-inventory"');
      expect(read.Action).toBe('s3:GetObject');
      expect(JSON.stringify(read.Resource)).toContain(':s3:::photos-inventory/inventory/photos/nightly/*');
      const plugin = inv.report?.pluginReports.find((p) => p.pluginName === 'AwsSolutions');
      expect(plugin?.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)) ?? []).toEqual([]);
      // The jobs receive where to read it: in the configuration object the deployment writes.
      expect(deployedConfig(inv)).toMatchObject({ corpus: { inventory: { bucket: 'photos-inventory', prefix: 'inventory/photos/nightly/', maxAgeHours: 48 } } });
    } finally {
      rmSync(inv.outdir, { recursive: true, force: true });
    }
  });

  it('lets the resize job delete renditions when a preset removal is confirmed, even with pruning off', () => {
    const removing = synth({ presets: [{ name: 'web', width: 1280, formats: ['jpeg'] }], renditions: { pruneDeleted: false, removePresets: ['small'] } });
    try {
      const role = Object.entries(removing.template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('ComputeJobRole'));
      const actions = role.flatMap(([, p]) => (p.Properties.PolicyDocument.Statement as { Action: string | string[] }[]).flatMap((st) => [st.Action].flat()));
      expect(actions).toContain('s3:DeleteObject');
    } finally {
      rmSync(removing.outdir, { recursive: true, force: true });
    }
  });

  it('lets aggregate read and write state/presets.json beside the catalogue it promotes', () => {
    const statements = Object.entries(s.json.Resources)
      .filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('Functionsaggregate'))
      .flatMap(([, r]) => (r.Properties!.PolicyDocument as { Statement: { Sid?: string; Action: string | string[]; Resource: unknown }[] }).Statement);
    expect(statements.find((st) => st.Sid === 'PromotedPresets')).toMatchObject({ Action: ['s3:GetObject', 's3:PutObject'], Resource: { 'Fn::Join': ['', [expect.anything(), '/state/presets.json']] } });
  });

  it('grants no delete at all when pruning is off (renditions.pruneDeleted: false)', () => {
    const keep = synth({ renditions: { pruneDeleted: false } });
    try {
      const role = Object.entries(keep.template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('ComputeJobRole'));
      const actions = role.flatMap(([, p]) => (p.Properties.PolicyDocument.Statement as { Action: string | string[] }[]).flatMap((st) => [st.Action].flat()));
      expect(actions.length).toBeGreaterThan(0);
      expect(actions.filter((a) => /Delete|\*/.test(a))).toEqual([]);
    } finally {
      rmSync(keep.outdir, { recursive: true, force: true });
    }
  });

  // A multipart upload that fails is aborted by lib-storage, which needs s3:AbortMultipartUpload on
  // the key or S3 answers 403 and the parts stay billed (S3 API reference, AbortMultipartUpload;
  // S3 user guide, "Uploading and copying objects using multipart upload"). Aggregate is the one
  // function that writes with uploadStream/uploadFile: runs/<runId>/ (failures.csv, report.json,
  // planned.jsonl) and the promoted catalogue, state/catalog.jsonl; no other function, no other key.
  it('lets aggregate abort the multipart uploads it starts, on exactly runs/ and state/catalog.jsonl, and no other function', () => {
    const aborting = Object.entries(s.json.Resources)
      .filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('Functions'))
      .flatMap(([id, r]) => (r.Properties!.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement.filter((st) => actionsOf(st).includes('s3:AbortMultipartUpload')).map((st) => ({ fn: id.replace(/ServiceRoleDefaultPolicy.*$/, ''), st })));
    const work = (suffix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^StorageWork/), 'Arn'] }, suffix]] });
    expect(aborting.map(({ fn, st }) => ({ fn, actions: actionsOf(st).sort(), resource: st.Resource }))).toEqual([
      { fn: 'Functionsaggregate', actions: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'], resource: [work('/runs/*'), work('/state/catalog.jsonl')] },
    ]);
  });

  it('lets Prepare keep the run ledger (state/last-run.json, runs/) and the notify functions close it, and nothing else of state/ but the run lease', () => {
    const ledger = (fn: string) => statementsOf(fn).filter((st) => JSON.stringify(st.Resource).includes('/state/') && !JSON.stringify(st.Resource).includes('/state/lease.json'));
    for (const fn of ['FunctionsprepareServiceRole', 'FunctionsnotifyServiceRole', 'FunctionsnotifyfailureServiceRole']) {
      expect({ fn, resources: ledger(fn).map((st) => JSON.stringify(st.Resource)) }).toEqual({ fn, resources: [expect.stringContaining('/state/last-run.json')] });
      expect(ledger(fn).flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:PutObject']);
    }
    // Prepare reads the previous run's plan and report and lists its results; writes its run.json.
    const runs = statementsOf('Functionsprepare').find((st) => JSON.stringify(st.Resource).includes('/runs/*'));
    expect(actionsOf(runs!).sort()).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(statementsOf('Functionsprepare').flatMap(actionsOf)).toContain('s3:ListBucket');
  });

  it('lets Prepare and ScopeWork write the run lease, Notify and NotifyFailure delete it, and no one else touch it', () => {
    // A statement of its own (a Sid: CDK merges no statement that has one). Conditional writes need
    // s3:PutObject, a conditional delete s3:DeleteObject (S3 user guide,
    // "Conditional writes"; S3 API reference, PutObject and DeleteObject).
    const leaseResource = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^StorageWork'), 'Arn'] }, '/state/lease.json']] };
    const grants = { prepare: 's3:PutObject', scopework: 's3:PutObject', notify: 's3:DeleteObject', notifyfailure: 's3:DeleteObject' };
    for (const [fn, write] of Object.entries(grants)) {
      s.template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: Match.stringLikeRegexp(`^Functions${fn}ServiceRole`) }],
        PolicyDocument: { Statement: Match.arrayWith([{ Sid: 'RunLease', Effect: 'Allow', Action: ['s3:GetObject', write].sort(), Resource: leaseResource }]) },
      });
    }
    const touching = Object.entries(s.json.Resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties).includes('/state/lease.json'))
      .map(([id]) => id.replace(/ServiceRoleDefaultPolicy.*$/, ''))
      .sort();
    expect(touching).toEqual(['Functionsnotify', 'Functionsnotifyfailure', 'Functionsprepare', 'Functionsscopework']);
  });

  it('lets aggregate read renditions (for the report gallery) and write none', () => {
    const onRenditions = statementsOf('Functionsaggregate').filter((st) => JSON.stringify(st.Resource).includes('StorageRenditions'));
    expect(onRenditions.flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
  });

  it('scopes the work bucket to runs/ (read-write) and state/ (read-only) for the jobs', () => {
    const run = job().find((st) => st.Sid === 'RunArtefacts')!;
    const state = job().find((st) => st.Sid === 'ReadLastCatalogue')!;
    expect(run.Resource).toEqual({ 'Fn::Join': ['', [bucketRef('StorageWork'), '/runs/*']] });
    expect(actionsOf(state)).toEqual(['s3:GetObject']);
  });

  it('has no s3:* and no Resource "*" except for APIs without resource-level permissions', () => {
    const allowedOnAnyResource = /^(xray:|logs:(Create|Delete|Get|Update)LogDelivery|logs:ListLogDeliveries|logs:Describe|logs:PutResourcePolicy|logs:DeleteResourcePolicy|ecr:GetAuthorizationToken|batch:DescribeJobs$|kms:)/;
    for (const [id, r] of Object.entries(s.json.Resources).filter(([, r]) => r.Type === 'AWS::IAM::Policy')) {
      for (const st of (r.Properties!.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement) {
        expect({ id, star: actionsOf(st).filter((a) => a === 's3:*' || a === '*') }).toEqual({ id, star: [] });
        if (st.Resource === '*') expect({ id, actions: actionsOf(st).filter((a) => !allowedOnAnyResource.test(a)) }).toEqual({ id, actions: [] });
      }
    }
  });
});

describe('notifications', () => {
  it('requires TLS to publish, encrypts the topic, and subscribes every configured address', () => {
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    for (const email of ['ops@example.com', 'oncall@example.com']) s.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: email });
  });

  it('alarms to the topic on failed, timed-out and aborted executions and on failed Batch jobs', () => {
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted', 'BatchJobsFailed']) {
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metric,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: Match.stringLikeRegexp('NotificationsTopic') }],
      });
    }
    s.template.hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.objectLike({ source: ['aws.batch'], detail: Match.objectLike({ status: ['FAILED'] }) }) });
  });
});

/**
 * What AWS needs at run time, which cdk-nag does not check: each case names the AWS page that
 * says why, and fails on a template that would deploy and then break on the first night.
 */
describe('what AWS needs at run time', () => {
  const policyStatements = (type: string) =>
    Object.values(s.template.findResources(type)).flatMap((r) => (r.Properties.PolicyDocument ?? r.Properties.KeyPolicy).Statement as { Effect: string; Principal?: { Service?: string | string[] }; Action: string | string[]; Condition?: Record<string, Record<string, unknown>> }[]);

  // A multipart upload the job abandons (an error, a signal) bills its parts until it is aborted
  // (S3 user guide, "Uploading and copying objects using multipart upload": "you must either
  // complete or abort"); aborting needs s3:AbortMultipartUpload (S3 API reference,
  // AbortMultipartUpload). The jobs start them in the backup bucket (UploadPartCopy) and in the
  // work bucket's runs/ (lib-storage's Upload of a large catalogue); the lifecycle rule
  // AbortIncompleteMultipartUpload removes whatever a killed process could not abort.
  it('lets the jobs abort the multipart uploads they start, and keeps AbortIncompleteMultipartUpload on every bucket they write', () => {
    const job = statementsOf('ComputeJobRole');
    const multipart = job.filter((st) => st.Sid === 'WriteBackups' || st.Sid === 'RunArtefacts');
    expect(multipart.map((st) => ({ sid: st.Sid, abort: actionsOf(st).includes('s3:AbortMultipartUpload') }))).toEqual([
      { sid: 'WriteBackups', abort: true },
      { sid: 'RunArtefacts', abort: true },
    ]);
    const buckets = s.template.findResources('AWS::S3::Bucket');
    const written = job.filter((st) => actionsOf(st).includes('s3:PutObject')).map((st) => Object.keys(buckets).find((id) => JSON.stringify(st.Resource).includes(`"${id}"`))!);
    expect(written.map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(['StorageBackup', 'StorageRenditions', 'StorageWork']);
    for (const id of written) {
      expect({ id, rules: buckets[id]!.Properties.LifecycleConfiguration.Rules }).toEqual({ id, rules: expect.arrayContaining([expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: 'Enabled' })]) });
    }
  });

  it('lets CloudWatch alarms publish to the topic whose policy enforceSSL replaced (CloudWatch user guide, "Using Amazon CloudWatch alarms")', () => {
    const topicPolicy = policyStatements('AWS::SNS::TopicPolicy');
    const allow = topicPolicy.find((st) => st.Effect === 'Allow' && st.Principal?.Service === 'cloudwatch.amazonaws.com');
    expect(allow).toBeDefined();
    expect(actionsOf(allow!)).toEqual(['sns:Publish']);
    expect(allow!.Condition).toEqual({ StringEquals: { 'aws:SourceAccount': '123456789012' }, ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*' } });
    // ...and the topic's key lets CloudWatch encrypt what it publishes (SNS developer guide, "Key management": CloudWatch alarms).
    const key = policyStatements('AWS::KMS::Key').find((st) => st.Effect === 'Allow' && st.Principal?.Service === 'cloudwatch.amazonaws.com');
    expect(actionsOf(key!).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
  });

  it('lets the state machine watch and cancel its Batch jobs (Step Functions developer guide, "IAM policies for AWS Batch", Run a Job .sync)', () => {
    const sm = statementsOf('WorkflowStateMachineRole');
    const can = (action: string) => sm.filter((st) => actionsOf(st).includes(action)).map((st) => st.Resource);
    expect(can('batch:DescribeJobs')).toEqual(['*']);
    expect(can('batch:TerminateJob')).toEqual(['arn:aws:batch:eu-west-1:123456789012:job/*']);
    expect(can('batch:SubmitJob').length).toBeGreaterThan(0);
  });

  it.each([
    ['x86_64', 'linux/amd64', 'X86_64'],
    ['arm64', 'linux/arm64', 'ARM64'],
  ] as const)('pins the job image and the jobs to one architecture (%s), whatever machine builds it', (architecture, platform, cpu) => {
    const synthesized = architecture === 'x86_64' ? s : synth({ compute: { architecture } });
    try {
      const assets = JSON.parse(readFileSync(join(synthesized.outdir, 'Nightshift.assets.json'), 'utf8')) as { dockerImages: Record<string, { source: { platform?: string; dockerFile?: string } }> };
      const images = Object.values(assets.dockerImages);
      expect(images.map((i) => i.source)).toEqual([expect.objectContaining({ dockerFile: 'jobs/Dockerfile', platform })]);
      const defs = Object.values(synthesized.template.findResources('AWS::Batch::JobDefinition'));
      expect(defs).toHaveLength(3);
      for (const d of defs) expect(d.Properties.ContainerProperties.RuntimePlatform).toEqual({ CpuArchitecture: cpu, OperatingSystemFamily: 'LINUX' });
    } finally {
      if (synthesized !== s) rmSync(synthesized.outdir, { recursive: true, force: true });
    }
  });

  it("builds the job image from its inputs only: a README or infra change leaves the image asset (and the job definitions) as they are", () => {
    const assets = JSON.parse(readFileSync(join(s.outdir, 'Nightshift.assets.json'), 'utf8')) as { dockerImages: Record<string, { source: { directory: string } }> };
    const [image] = Object.values(assets.dockerImages);
    // The staged build context is what the asset's hash is computed over and what docker build receives.
    const context = join(s.outdir, image!.source.directory);
    const files = (readdirSync(context, { recursive: true, withFileTypes: true }) as Dirent[]).filter((f) => f.isFile()).map((f) => relative(context, join(f.parentPath, f.name)));
    const inputs = /^(package\.json|package-lock\.json|tsconfig\.json|\.dockerignore|(core|adapters)\/([^/]+\/)?[^/]+\.ts|jobs\/(Dockerfile|build\.ts|runtime-lock\.ts|src\/[^/]+\.ts))$/;
    expect(files.filter((f) => !inputs.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.test.ts'))).toEqual([]);
    // Everything jobs/Dockerfile copies and bundles is there.
    expect(files).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'jobs/Dockerfile', 'jobs/build.ts', 'jobs/src/main.ts', 'core/config.ts', 'adapters/s3.ts']));
    for (const line of readFileSync(join(context, 'jobs', 'Dockerfile'), 'utf8').split('\n')) {
      const copied = /^COPY (?!--from)(.+) \S+$/.exec(line)?.[1];
      for (const path of copied?.split(' ') ?? []) expect(existsSync(join(context, path))).toBe(true);
    }
  });

  it('lets the jobs decrypt an SSE-KMS corpus in another region, through S3 only (S3 user guide, "Using server-side encryption with AWS KMS keys": permissions)', () => {
    const key = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const kmsCorpus = synth({ corpus: { bucketName: 'photos-archive', region: 'us-west-2', kmsKeyArn: key } });
    try {
      const statements = Object.entries(kmsCorpus.json.Resources)
        .filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('ComputeJobRole'))
        .flatMap(([, r]) => (r.Properties!.PolicyDocument as { Statement: { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown }[] }).Statement);
      expect(statements.find((st) => st.Sid === 'DecryptCorpus')).toEqual({ Sid: 'DecryptCorpus', Effect: 'Allow', Action: 'kms:Decrypt', Resource: key, Condition: { StringEquals: { 'kms:ViaService': 's3.us-west-2.amazonaws.com' } } });
    } finally {
      rmSync(kmsCorpus.outdir, { recursive: true, force: true });
    }
    // Without a key, no KMS access at all.
    expect(statementsOf('ComputeJobRole').flatMap(actionsOf).filter((a) => a.startsWith('kms:'))).toEqual([]);
  });

  it('keeps the execution logs under /aws/vendedlogs/states/ (Step Functions developer guide, "Logging using CloudWatch Logs")', () => {
    s.template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/vendedlogs/states/Nightshift-workflow' });
    s.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: Match.objectLike({ Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('WorkflowExecutionLogs'), 'Arn'] } } }] }),
    });
  });
});

describe('functions', () => {
  it('run on Node.js 24 (nodejs22.x is deprecated from 2027-04-30) with JSON logs and tracing', () => {
    const fns = Object.values(s.template.findResources('AWS::Lambda::Function')).filter((f) => JSON.stringify(f.Properties.Environment ?? {}).includes('NIGHTSHIFT_CONFIG'));
    expect(fns).toHaveLength(5); // prepare, scope-work, aggregate, notify, notify-failure
    for (const f of fns) expect(f.Properties).toMatchObject({ Runtime: 'nodejs24.x', LoggingConfig: { LogFormat: 'JSON' }, TracingConfig: { Mode: 'Active' } });
  });
});

describe('configuration size: what CloudFormation would refuse at deploy time', () => {
  // Lambda: "Function environment variables: 4 KB, for all environment variables associated with
  // the function, in aggregate" (Lambda developer guide, "Lambda quotas"). AWS Batch: "Maximum job
  // definition size (for RegisterJobDefinition API operations): 24 KiB" (AWS Batch user guide,
  // "AWS Batch service quotas"). Synth said nothing about either; the deploy failed.
  const prefixes = (n: number, length: number) => Array.from({ length: n }, (_, i) => `${'p'.repeat(length - 6)}${String(i).padStart(5, '0')}/`);

  it('synthesizes 500 excludePrefixes with every function\'s environment under 4 KB, the configuration in the work bucket', () => {
    const big = synth({ filter: { excludePrefixes: prefixes(500, 24) } });
    try {
      const fns = Object.entries(big.template.findResources('AWS::Lambda::Function'));
      expect(fns.length).toBeGreaterThanOrEqual(6); // the five handlers and the deployment's
      const over = fns.map(([id, f]) => ({ id, bytes: Buffer.byteLength(JSON.stringify(f.Properties.Environment?.Variables ?? {})) })).filter((f) => f.bytes >= LAMBDA_ENVIRONMENT_LIMIT_BYTES);
      expect(over).toEqual([]);
      const handlers = fns.filter(([, f]) => JSON.stringify(f.Properties.Environment ?? {}).includes('NIGHTSHIFT_CONFIG_S3'));
      expect(handlers).toHaveLength(5);
      for (const [, f] of handlers) {
        const pointer = JSON.stringify(f.Properties.Environment.Variables.NIGHTSHIFT_CONFIG_S3);
        expect(pointer).toMatch(/s3:\/\/.*StorageWork.*\/config\/pipeline-[0-9a-f]{16}\.json/);
        expect(f.Properties.Environment.Variables.NIGHTSHIFT_CONFIG).toBeUndefined();
        expect(f.DependsOn?.some((d: string) => d.startsWith('PipelineConfigDeployment'))).toBe(true); // written before a function reads it
      }
      // The jobs too: the address in a small environment, read with exactly s3:GetObject on that
      // key, each job definition registered after the object is written.
      const defs = Object.entries(big.template.findResources('AWS::Batch::JobDefinition'));
      expect(defs).toHaveLength(3);
      const pointers = new Set(handlers.map(([, f]) => JSON.stringify(f.Properties.Environment.Variables.NIGHTSHIFT_CONFIG_S3)));
      for (const [id, def] of defs) {
        const env = Object.fromEntries((def.Properties.ContainerProperties.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]));
        expect({ id, inline: env.NIGHTSHIFT_CONFIG }).toEqual({ id, inline: undefined });
        expect(pointers.has(JSON.stringify(env.NIGHTSHIFT_CONFIG_S3))).toBe(true);
        expect({ id, bytes: Buffer.byteLength(JSON.stringify(env)) < 2048 }).toEqual({ id, bytes: true });
        expect(def.DependsOn?.some((d: string) => d.startsWith('PipelineConfigDeployment'))).toBe(true);
      }
      expect(deployedConfig(big).filter.excludePrefixes).toHaveLength(500);
      const jobReads = Object.entries(big.json.Resources)
        .filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('ComputeJobRole'))
        .flatMap(([, r]) => (r.Properties!.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement)
        .filter((st) => JSON.stringify(st.Resource).includes('/config/'));
      expect(jobReads.map((st) => ({ actions: actionsOf(st), resource: st.Resource }))).toEqual([
        { actions: ['s3:GetObject'], resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^StorageWork/), 'Arn'] }, expect.stringMatching(/^\/config\/pipeline-[0-9a-f]{16}\.json$/)]] } },
      ]);
      // The deployment writes it under config/, never deleting older ones (a starting container of the previous version still reads its own).
      big.template.hasResourceProperties('Custom::CDKBucketDeployment', { DestinationBucketName: { Ref: Match.stringLikeRegexp('StorageWork') }, DestinationBucketKeyPrefix: 'config/', Prune: false });
      const plugin = big.report?.pluginReports.find((p) => p.pluginName === 'AwsSolutions');
      expect(plugin?.violations ?? []).toEqual([]);
    } finally {
      rmSync(big.outdir, { recursive: true, force: true });
    }
  }, 180_000);

  it('lets each function read exactly the configuration object, nothing else under config/', () => {
    const reads = statementsOf('Functions').filter((st) => JSON.stringify(st.Resource).includes('/config/'));
    expect(reads.length).toBe(5);
    for (const st of reads) {
      expect(actionsOf(st)).toEqual(['s3:GetObject']);
      expect(JSON.stringify(st.Resource)).toMatch(/\/config\/pipeline-[0-9a-f]{16}\.json"/);
    }
  });

  it('stops synth in one line naming a job definition over 24 KiB', () => {
    const app = new App();
    const stack = new Stack(app, 'Limits');
    const image = ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:24');
    const definition = (id: string, bytes: number) =>
      new batch.EcsJobDefinition(stack, id, { container: new batch.EcsFargateContainerDefinition(stack, `${id}Container`, { image, cpu: 1, memory: Size.mebibytes(2048), environment: { LARGE: 'y'.repeat(bytes) } }) });
    definition('Small', 20_000);
    definition('Big', 25_000);
    Aspects.of(stack).add(new AwsLimits());
    expect(() => app.synth()).toThrow(/^Batch job definition Limits\/Big\/Resource: 25\d\d\d bytes, over AWS Batch's 24 KiB \(24576 bytes\) per job definition: move the large value out of its environment \(the pipeline configuration travels in the work bucket, NIGHTSHIFT_CONFIG_S3\)\.$/);
  });

  it('stops synth in one line naming a function whose environment exceeds 4 KB', () => {
    const app = new App();
    const stack = new Stack(app, 'Limits');
    new lambda.Function(stack, 'Big', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}'), environment: { SMALL: 'x', LARGE: 'y'.repeat(4100) } });
    new lambda.Function(stack, 'Small', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}'), environment: { SMALL: 'x'.repeat(4000) } });
    Aspects.of(stack).add(new AwsLimits());
    expect(() => app.synth()).toThrow(/^Lambda function Limits\/Big\/Resource: its environment variables take 41\d\d bytes, over Lambda's 4 KB \(4096 bytes\) for all of them together: [^\n]+$/);
  });
});

describe('workflow definition (synthesized ASL)', () => {
  it('is valid Amazon States Language', () => {
    const { isValid, errorsText } = aslValidator(s.definition as never);
    expect(errorsText()).toBe('');
    expect(isValid).toBe(true);
  });

  it('runs in the order docs/design.md draws', () => {
    const d = s.definition.States;
    expect(s.definition.StartAt).toBe(STATE.checkActiveRuns);
    expect([d[STATE.checkActiveRuns]!.Next, d[STATE.prepare]!.Next]).toEqual([STATE.prepare, STATE.anotherRunActive]);
    expect(d[STATE.anotherRunActive]!.Choices![0]).toMatchObject({ Variable: '$.run.skip', IsPresent: true, Next: STATE.notifySkipped });
    expect(d[STATE.anotherRunActive]!.Default).toBe(STATE.plan);
    expect(d[STATE.checkActiveRuns]).toMatchObject({ Resource: 'arn:aws:states:::aws-sdk:sfn:listExecutions', Parameters: { 'StateMachineArn.$': '$$.StateMachine.Id', StatusFilter: 'RUNNING' } });
    expect([d[STATE.plan]!.Next, d[STATE.readPlan]!.Next]).toEqual([STATE.readPlan, STATE.hasWork]);
    expect(d[STATE.hasWork]!.Choices![0]).toMatchObject({ Variable: '$.plan.value.shardCount', NumericEquals: 0, Next: STATE.promoteCatalogue });
    // A night without work promotes its catalogue (the aggregate function, promoteOnly) before its email.
    expect(d[STATE.promoteCatalogue]).toMatchObject({ Next: STATE.notifyNothingToDo, Parameters: { Payload: { promoteOnly: true } } });
    expect(d[STATE.hasWork]!.Default).toBe(STATE.scopeWork);
    expect(d[STATE.scopeWork]).toMatchObject({ Next: STATE.work, ResultPath: '$.scope', Parameters: { Payload: { 'runId.$': '$.run.runId', 'redriveCount.$': '$$.Execution.RedriveCount' } } });
    expect([d[STATE.work]!.Next, d[STATE.aggregate]!.Next, d[STATE.notify]!.Next]).toEqual([STATE.aggregate, STATE.notify, STATE.done]);
    expect(d[STATE.work]!.Branches!.map((b) => b.StartAt)).toEqual([STATE.backupRequested, STATE.resizeRequested]);
    expect(d[STATE.plan]!.Resource).toBe('arn:aws:states:::batch:submitJob.sync');
  });

  it('gives every Task a Retry, a Catch and its own timeout (never the 60 s default of a local interpreter)', () => {
    const tasks = allStates(s.definition).filter(({ state }) => state.Type === 'Task');
    expect(tasks.length).toBeGreaterThanOrEqual(8);
    for (const { name, state } of tasks) {
      // NotifyFailure catches only errors of its own (its RunFailed must fail the execution: the redrive gate).
      const catchesAll = name === STATE.notifyFailure ? (state.Catch ?? []).length > 0 && !state.Catch!.some((c) => c.ErrorEquals.includes('States.ALL')) : (state.Catch ?? []).some((c) => c.ErrorEquals.includes('States.ALL'));
      expect({ name, retry: (state.Retry ?? []).length > 0, catch: catchesAll, timeout: (state.TimeoutSeconds ?? 0) > 0 || typeof state.TimeoutSecondsPath === 'string' }).toEqual({ name, retry: true, catch: true, timeout: true });
    }
    for (const name of [STATE.checkActiveRuns, STATE.prepare, STATE.notifySkipped, STATE.plan, STATE.readPlan, STATE.work, STATE.aggregate, STATE.promoteCatalogue, STATE.notify, STATE.notifyNothingToDo]) {
      expect(s.definition.States[name]!.Catch![0]!.Next).toBe(`Failed in ${name}`);
      expect(s.definition.States[`Failed in ${name}`]!.Next).toBe(STATE.notifyFailure);
    }
    expect(s.definition.States[STATE.notifyFailure]!.Next).toBe(STATE.resumeAt);
  });

  it('is redrivable: a failure records where, and a redriven NotifyFailure resumes there', () => {
    const d = s.definition.States;
    expect(d[`Failed in ${STATE.aggregate}`]!.Parameters).toEqual({ state: STATE.aggregate, 'redriveCount.$': '$$.Execution.RedriveCount' });
    expect(d[STATE.notifyFailure]!.Parameters!.Payload).toMatchObject({ 'failedAtRedrive.$': '$.failedIn.redriveCount', 'redriveCount.$': '$$.Execution.RedriveCount' });
    const resume = Object.fromEntries(d[STATE.resumeAt]!.Choices!.map((c) => [(c as unknown as { StringEquals: string }).StringEquals, c.Next]));
    for (const name of [STATE.checkActiveRuns, STATE.prepare, STATE.plan, STATE.readPlan, STATE.scopeWork, STATE.aggregate, STATE.promoteCatalogue, STATE.notify, STATE.notifyNothingToDo, STATE.notifySkipped]) expect(resume[name]).toBe(name);
    // A failed Work resumes through ScopeWork, which reruns only the shards without a result.
    expect(resume[STATE.work]).toBe(STATE.scopeWork);
    expect(d[STATE.resumeAt]!.Default).toBe(STATE.failed);
  });

  it('ends every path in Succeed or Fail, and reaches every state', () => {
    for (const scope of [s.definition, ...s.definition.States[STATE.work]!.Branches!]) {
      const seen = new Set<string>();
      const stack = [scope.StartAt];
      while (stack.length) {
        const name = stack.pop()!;
        if (seen.has(name)) continue;
        seen.add(name);
        const state = scope.States[name];
        expect(state).toBeDefined();
        const next = successors(state!);
        if (next.length === 0) expect(['Succeed', 'Fail'].includes(state!.Type) || state!.End === true).toBe(true);
        if (state!.Type !== 'Succeed' && state!.Type !== 'Fail' && !state!.End) expect(next.length).toBeGreaterThan(0);
        stack.push(...next);
      }
      expect([...seen].sort()).toEqual(Object.keys(scope.States).sort());
    }
  });

  it('leaves each Batch attempt to its job definition\'s timeout; the catalog state allows all its attempts plus queueing', () => {
    const states = Object.fromEntries(allStates(s.definition).map(({ name, state }) => [name, state]));
    expect(states[STATE.plan]!.Parameters!.Timeout).toBeUndefined();
    expect(states[STATE.plan]!.TimeoutSeconds).toBe((120 * 3 + 60) * 60);
  });

  it('bounds the array job states by the plan, which sizes them to the work (core/timing.ts)', () => {
    const states = Object.fromEntries(allStates(s.definition).map(({ name, state }) => [name, state]));
    for (const [name, job] of [[STATE.backup, 'backup'], [STATE.resize, 'resize']] as const) {
      expect(states[name]!.Parameters!.Timeout).toBeUndefined();
      expect(states[name]!.TimeoutSeconds).toBeUndefined();
      expect(states[name]!.TimeoutSecondsPath).toBe(`$.plan.value.timeouts.${job}`);
    }
  });

  it('sizes the backup and resize array jobs by ScopeWork\'s scope, and tells each child its shard list', () => {
    const states = Object.fromEntries(allStates(s.definition).map(({ name, state }) => [name, state]));
    for (const [name, job] of [[STATE.backup, 'backup'], [STATE.resize, 'resize']] as const) {
      expect(states[name]!.Resource).toBe('arn:aws:states:::batch:submitJob.sync');
      expect(states[name]!.Parameters).toMatchObject({
        ArrayProperties: { 'Size.$': `$.scope.value.${job}.arraySize` },
        ContainerOverrides: { Environment: [{ Name: 'NIGHTSHIFT_RUN_ID', 'Value.$': '$.run.runId' }, { Name: 'NIGHTSHIFT_SHARDS', 'Value.$': `$.scope.value.${job}.shards` }] },
      });
    }
    const choices = Object.fromEntries([STATE.backupRequested, STATE.resizeRequested].map((c) => [c, JSON.stringify(states[c]!.Choices)]));
    expect(choices[STATE.backupRequested]).toContain('"Variable":"$.scope.value.backup.run"');
    expect(choices[STATE.resizeRequested]).toContain('"Variable":"$.scope.value.resize.run"');
  });

  it('lets ScopeWork read the configuration and the plan, list the results, write shard lists and renew the run lease, and nothing more', () => {
    const st = statementsOf('FunctionsscopeworkServiceRole').filter((x) => actionsOf(x).some((a) => a.startsWith('s3:')));
    expect(st.map((x) => [actionsOf(x).sort().join(' '), JSON.stringify(x.Resource).replace(/"Fn::GetAtt":\["(\w+?)[0-9A-F]{8}","Arn"\]/g, '$1')])).toEqual([
      // One statement (CDK merges them): the configuration object and the run's plan.
      ['s3:GetObject', expect.stringMatching(/StorageWork.*\/config\/pipeline-[0-9a-f]{16}\.json.*\/runs\/\*\/plan\.json/)],
      ['s3:GetObject s3:PutObject', expect.stringContaining('/state/lease.json')],
      ['s3:ListBucket', expect.stringContaining('StorageWork')],
      ['s3:PutObject', expect.stringContaining('/runs/*/scope/*')],
    ]);
  });

  it('logs every execution at level ALL with tracing on', () => {
    s.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true, Destinations: Match.anyValue() },
      TracingConfiguration: { Enabled: true },
    });
  });
});

const standingCostOf = (synthesized: Synthesized) => (synthesized.template.toJSON().Outputs as Record<string, { Value: string }>).StandingCost!.Value;

describe('the network: nothing billed while idle unless asked for', () => {
  const subnetIdsOf = (synthesized: Synthesized, isPublic: boolean) =>
    Object.entries(synthesized.template.findResources('AWS::EC2::Subnet'))
      .filter(([, r]) => (r.Properties.MapPublicIpOnLaunch === true) === isPublic)
      .map(([id]) => id)
      .sort();
  const computeSubnetsOf = (synthesized: Synthesized) =>
    Object.values(synthesized.template.findResources('AWS::Batch::ComputeEnvironment')).map((r) => (r.Properties.ComputeResources.Subnets as (string | { Ref: string })[]).map((x) => (typeof x === 'string' ? x : x.Ref)).sort());

  it('runs the jobs in public subnets, each task with a public IP, no inbound rule, no NAT gateway, the S3 and DynamoDB gateway endpoints', () => {
    // A Fargate task in a public subnet reaches ECR, CloudWatch Logs and the AWS APIs through its
    // public IP (Amazon ECS developer guide, "Amazon ECS task networking options for Fargate";
    // AWS Batch API reference, NetworkConfiguration: assignPublicIp, DISABLED by default).
    s.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    s.template.resourceCountIs('AWS::EC2::InternetGateway', 1);
    const publicSubnets = subnetIdsOf(s, true);
    expect(publicSubnets).toHaveLength(2);
    expect(subnetIdsOf(s, false)).toEqual([]);
    expect(computeSubnetsOf(s)).toEqual([publicSubnets, publicSubnets]);
    const defs = Object.values(s.template.findResources('AWS::Batch::JobDefinition'));
    expect(defs.map((d) => d.Properties.ContainerProperties.NetworkConfiguration)).toEqual([{ AssignPublicIp: 'ENABLED' }, { AssignPublicIp: 'ENABLED' }, { AssignPublicIp: 'ENABLED' }]);
    const [group] = Object.values(s.template.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('nightshift Batch jobs') } }));
    expect(group!.Properties.SecurityGroupIngress).toBeUndefined();
    s.template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    const endpoints = Object.values(s.template.findResources('AWS::EC2::VPCEndpoint')).map((e) => [e.Properties.VpcEndpointType, JSON.stringify(e.Properties.ServiceName).match(/\.(s3|dynamodb)"/)?.[1]]);
    expect(endpoints.sort()).toEqual([['Gateway', 'dynamodb'], ['Gateway', 's3']]);
    expect(standingCostOf(s)).not.toContain('NAT');
  });

  it('keeps private subnets behind one NAT gateway as an option (compute.network "private-nat"), cdk-nag clean, its cost in the standing cost', () => {
    const nat = synth({ compute: { network: 'private-nat' } });
    try {
      nat.template.resourceCountIs('AWS::EC2::NatGateway', 1);
      const privateSubnets = subnetIdsOf(nat, false);
      expect(privateSubnets).toHaveLength(2);
      expect(computeSubnetsOf(nat)).toEqual([privateSubnets, privateSubnets]);
      for (const d of Object.values(nat.template.findResources('AWS::Batch::JobDefinition'))) expect(d.Properties.ContainerProperties.NetworkConfiguration).toEqual({ AssignPublicIp: 'DISABLED' });
      const plugin = nat.report?.pluginReports.find((p) => p.pluginName === 'AwsSolutions');
      expect(plugin?.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)) ?? []).toEqual([]);
      // $0.045 an hour, 730 hours a month (aws.amazon.com/vpc/pricing, "NAT Gateway pricing").
      expect(standingCostOf(nat)).toContain('1 NAT gateway $32.85');
      expect(standingCostOf(nat)).toContain('plus $0.045/GB through the NAT gateway');
    } finally {
      rmSync(nat.outdir, { recursive: true, force: true });
    }
  });

  it('runs in an existing VPC (compute.vpcId): its public subnets, no VPC or NAT gateway of its own', () => {
    // The lookup's answer, as `cdk synth` caches it in cdk.context.json after asking EC2 (the vpc-provider context key).
    const subnet = (id: string, az: string) => ({ subnetId: id, cidr: '10.1.0.0/24', availabilityZone: az, routeTableId: id.replace('subnet', 'rtb') });
    const lookup = {
      'vpc-provider:account=123456789012:filter.vpc-id=vpc-0123456789abcdef0:region=eu-west-1:returnAsymmetricSubnets=true': {
        vpcId: 'vpc-0123456789abcdef0',
        vpcCidrBlock: '10.1.0.0/16',
        availabilityZones: [],
        subnetGroups: [
          { name: 'Public', type: 'Public', subnets: [subnet('subnet-0aaaaaaaaaaaaaaa1', 'eu-west-1a'), subnet('subnet-0bbbbbbbbbbbbbbb2', 'eu-west-1b')] },
          { name: 'Private', type: 'Private', subnets: [subnet('subnet-0ccccccccccccccc3', 'eu-west-1a'), subnet('subnet-0ddddddddddddddd4', 'eu-west-1b')] },
        ],
      },
    };
    const existing = synth({ compute: { vpcId: 'vpc-0123456789abcdef0' } }, lookup);
    try {
      existing.template.resourceCountIs('AWS::EC2::VPC', 0);
      existing.template.resourceCountIs('AWS::EC2::NatGateway', 0);
      const publicSubnets = ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'];
      expect(computeSubnetsOf(existing)).toEqual([publicSubnets, publicSubnets]);
    } finally {
      rmSync(existing.outdir, { recursive: true, force: true });
    }
  });

  it('states the standing cost from the resources the template has, each billed type counted', () => {
    const counts = (type: string) => Object.keys(s.template.findResources(type)).length;
    const alarms = counts('AWS::CloudWatch::Alarm');
    expect(alarms).toBeGreaterThan(0);
    expect(standingCostOf(s)).toMatch(new RegExp(`^about \\$\\d+\\.\\d\\d a month while idle: ${counts('AWS::KMS::Key')} KMS keys? \\$[\\d.]+, ${alarms} CloudWatch alarms \\$[\\d.]+, ${counts('AWS::CloudWatch::Dashboard')} CloudWatch dashboard \\$3\\.00 \\(`));
  });
});

describe("the README's deploy section and tear down, against the template", () => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const section = (heading: string) => {
    const start = readme.indexOf(`\n${heading}\n`);
    expect(start).toBeGreaterThan(-1);
    const level = heading.split(' ')[0]!;
    const end = readme.slice(start + heading.length + 2).search(new RegExp(`^#{1,${level.length}} `, 'm'));
    return readme.slice(start, end < 0 ? undefined : start + heading.length + 2 + end);
  };

  it('states what the stack costs idle, as the template counts it', () => {
    expect(section('### What it costs while idle')).toContain(`\n${standingCostOf(s)}\n`);
  });

  it('names every resource cdk destroy leaves behind, and only those', () => {
    // Retained: DeletionPolicy Retain (CloudFormation user guide, "DeletionPolicy attribute").
    const names: [RegExp, string][] = [
      [/^StorageCorpus/, 'the corpus bucket'],
      [/^StorageRenditions/, 'the renditions bucket'],
      [/^StorageBackup/, 'the backup bucket'],
      [/^StorageWork/, 'the work bucket'],
      [/^StorageAccessLogs/, 'the access-log bucket'],
      [/^DeliveryLogs/, 'the CloudFront log bucket'],
      [/^ImagesTable/, 'the images table'],
      [/^NotificationsTopicKey/, 'the KMS key of the topic'],
    ];
    const retained = Object.entries(s.json.Resources as Record<string, { Type: string; DeletionPolicy?: string }>).filter(([, r]) => r.DeletionPolicy === 'Retain');
    expect(retained.length).toBeGreaterThan(5);
    const named = new Set(retained.map(([id, r]) => (r.Type === 'AWS::Logs::LogGroup' ? 'the log groups' : (names.find(([re]) => re.test(id))?.[1] ?? `unnamed: ${id} (${r.Type})`))));
    const rows = [...section('## Tear down').matchAll(/^\| (the [^(|]+?) ?(?:\(|\|)/gm)].map((m) => m[1]!.trim());
    expect([...named].filter((n) => !rows.includes(n))).toEqual([]);
    expect(rows.filter((r) => !names.some(([, n]) => n === r) && r !== 'the log groups')).toEqual([]);
  });
});
