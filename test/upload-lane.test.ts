/**
 * The upload lane's AWS side (issue 29) in the synthesized template: what notifies it, the queue
 * and its dead letters, the event source, the function's size and role, cdk-nag, the loop guard,
 * and nothing of it when onUpload is off.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_PRESETS, type OnUploadConfig, parsePipelineConfig } from '../core/config';
import { uploadLaneSizes, UPLOAD_LANE } from '../core/upload-lane';
import { UsageError } from '../core/validation';
import { parseStackConfig, type StackConfig } from '../infra/config';
import { FEATURE_FLAGS } from '../infra/feature-flags';
import { ImagesTable } from '../infra/images-table';
import { PipelineConfigObject } from '../infra/pipeline-config';
import { nativeModuleDirs } from '../infra/sharp-bundling';
import { NightshiftStack } from '../infra/stack';
import { UploadLane } from '../infra/upload-lane';
import { ROOT } from './support/processes';


interface Synthesized {
  template: Template;
  json: { Resources: Record<string, { Type: string; Properties?: Record<string, any> }> };
  open: string[];
  outdir: string;
}

/**
 * Runs `fn` (a synth, or building a stack: bundling happens there) with what the CDK writes straight
 * to stderr, past jest, kept from the output: its "Bundling asset <path>..." line per function, and
 * nothing else (anything else fails the test).
 */
function quietly<T>(fn: () => T): T {
  const written: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
  let result: T;
  try {
    result = fn();
  } finally {
    spy.mockRestore();
  }
  expect(written.join('').split('\n').filter((line) => line !== '' && !/^Bundling asset \S+\.\.\.$/.test(line))).toEqual([]);
  return result;
}

function synth(overrides: Partial<Record<keyof StackConfig, unknown>>): Synthesized {
  return quietly(() => synthesize(overrides));
}

function synthesize(overrides: Partial<Record<keyof StackConfig, unknown>>): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'nightshift-upload-'));
  // The CDK feature flags the app sets (infra/feature-flags.ts), never the user's cdk.json.
  const app = new App({ outdir, context: { ...FEATURE_FLAGS } });
  const config = parseStackConfig({ notificationEmails: ['ops@example.com'], ...overrides });
  const stack = new NightshiftStack(app, 'Nightshift', { config, env: { account: '123456789012', region: 'eu-west-1' } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    app.synth();
  } catch (error) {
    // cdk-nag's findings stop synth after the template is written; they are read from its report below.
    if (!existsSync(join(outdir, 'validation-report.json'))) throw error;
  }
  const template = Template.fromJSON(JSON.parse(readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8')));
  const reportPath = join(outdir, 'validation-report.json');
  const report = existsSync(reportPath) ? (JSON.parse(readFileSync(reportPath, 'utf8')) as { pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[] }) : undefined;
  const open = report?.pluginReports.flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`))) ?? [];
  return { template, json: template.toJSON() as Synthesized['json'], open, outdir };
}

const ON: Partial<OnUploadConfig> = { enabled: true, maxConcurrency: 25 };
let s: Synthesized;
beforeAll(() => {
  s = synth({ onUpload: ON, corpus: { bucketName: 'photos-corpus', kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' } });
}, 180_000);
afterAll(() => rmSync(s.outdir, { recursive: true, force: true }));

const sizes = uploadLaneSizes(parsePipelineConfig({ buckets: { corpus: 'c0c', renditions: 'r0r', backup: 'b0b', work: 'w0w' } }).onUpload);
const resourceId = (type: string, prefix: string) => Object.keys(s.json.Resources).find((id) => s.json.Resources[id]!.Type === type && id.startsWith(prefix))!;
const queueId = () => resourceId('AWS::SQS::Queue', 'UploadLaneQueue');
const dlqId = () => resourceId('AWS::SQS::Queue', 'UploadLaneDeadLetters');
const functionId = () => resourceId('AWS::Lambda::Function', 'UploadLaneHandler');

describe('notifications', () => {
  it('sends every ObjectCreated and ObjectRemoved event of the corpus, unfiltered, to the queue', () => {
    // s3:ObjectCreated:* covers PUT, POST, Copy and CompleteMultipartUpload (S3 user guide, "Event
    // notification types and destinations"). No key filter: the night's extension match is
    // case-insensitive, which S3's suffix rule is not, so the function applies the filter.
    s.template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: 'photos-corpus',
      // An existing bucket: CDK's handler keeps the notifications it did not create.
      Managed: false,
      NotificationConfiguration: {
        QueueConfigurations: [
          { Events: ['s3:ObjectCreated:*'], QueueArn: { 'Fn::GetAtt': [queueId(), 'Arn'] } },
          { Events: ['s3:ObjectRemoved:*'], QueueArn: { 'Fn::GetAtt': [queueId(), 'Arn'] } },
        ],
      },
    });
  });

  it('lets only S3, for the corpus bucket, send to the queue, over TLS', () => {
    const policy = Object.values(s.json.Resources).find((r) => r.Type === 'AWS::SQS::QueuePolicy' && JSON.stringify(r.Properties!.Queues).includes(queueId()))!;
    const statements = policy.Properties!.PolicyDocument.Statement as { Effect: string; Principal: unknown; Action: unknown; Condition?: Record<string, any> }[];
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({ Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: expect.arrayContaining(['sqs:SendMessage']), Condition: { ArnLike: { 'aws:SourceArn': expect.anything() } } }),
      ]),
    );
    expect(JSON.stringify(statements.find((st) => st.Effect === 'Allow')!.Condition)).toContain('photos-corpus');
  });
});

describe('queue and dead letters', () => {
  it('encrypts both with SQS-managed keys, holds messages six function timeouts, and moves one to the dead letters after 5 receives', () => {
    // Lambda developer guide, "Creating and configuring an Amazon SQS event source mapping":
    // the queue's visibility timeout at least six times the function's timeout.
    const fn = s.json.Resources[functionId()]!.Properties!;
    s.template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: fn.Timeout * 6,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId(), 'Arn'] }, maxReceiveCount: 5 },
    });
    s.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600, RedrivePolicy: Match.absent() });
  });

  it('alarms on the first visible dead letter, to the alarm topic the other alarms use', () => {
    const alarm = Object.values(s.json.Resources).find((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties!.MetricName === 'ApproximateNumberOfMessagesVisible')!.Properties!;
    expect(alarm).toMatchObject({ Namespace: 'AWS/SQS', Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId(), 'QueueName'] } }], Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1 });
    const failed = Object.values(s.json.Resources).find((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties!.MetricName === 'ExecutionsFailed')!.Properties!;
    expect(alarm.AlarmActions).toEqual(failed.AlarmActions);
    expect(JSON.stringify(alarm.AlarmActions)).toMatch(/NotificationsTopic/);
  });
});

describe('event source and function', () => {
  it('consumes in batches, with partial batch responses, at most onUpload.maxConcurrency functions at once', () => {
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId(), 'Arn'] },
      FunctionName: { Ref: functionId() },
      BatchSize: UPLOAD_LANE.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 25 },
    });
  });

  it('runs on Node 24 and compute.architecture, sized for the largest image onUpload accepts', () => {
    const fn = s.json.Resources[functionId()]!.Properties!;
    expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['x86_64'], MemorySize: sizes.memoryMiB, Timeout: sizes.timeoutSeconds, Handler: 'index.handler' });
    // The environment the resize job gets for records (the images table), and the configuration's address.
    expect(fn.Environment.Variables.NIGHTSHIFT_IMAGES_TABLE).toEqual({ Ref: resourceId('AWS::DynamoDB::Table', 'ImagesTable') });
    expect(JSON.stringify(fn.Environment.Variables.NIGHTSHIFT_CONFIG_S3)).toMatch(/config\/pipeline-[0-9a-f]{16}\.json/);
    // 50 MP of 16-bit RGBA and a 100 MiB original fit in one vCPU's memory; the timeout covers a batch of them.
    expect(sizes).toMatchObject({ memoryMiB: 1769, batchSize: 5 });
    expect(sizes.timeoutSeconds).toBeLessThanOrEqual(900);
  });

  it('bundles sharp with the linux binaries of the function\'s architecture beside the handler', () => {
    const asset = readdirSync(s.outdir).find((d) => d.startsWith('asset.') && existsSync(join(s.outdir, d, 'node_modules', 'sharp')))!;
    const bundled = (name: string) => existsSync(join(s.outdir, asset, 'node_modules', name, 'package.json'));
    expect(readdirSync(join(s.outdir, asset, 'node_modules', '@img')).sort()).toEqual(['colour', 'sharp-libvips-linux-x64', 'sharp-linux-x64']);
    for (const name of ['sharp', 'detect-libc', 'semver', 'heic-decode', 'libheif-js']) expect([name, bundled(name)]).toEqual([name, true]);
    expect(statSync(join(s.outdir, asset, 'index.js')).isFile()).toBe(true);
    // sharp loads from the bundle alone (no node_modules above the synth's temporary folder) and decodes with its libvips.
    const loaded = execFileSync(process.execPath, ['-e', "const sharp = require('sharp'); sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } }).png().toBuffer().then((b) => console.log(require.resolve('sharp'), sharp.versions.vips, b.length > 0))"], { cwd: join(s.outdir, asset), encoding: 'utf8' });
    const [resolved, vips, decoded] = loaded.trim().split(' ');
    expect([resolved!.startsWith(join(s.outdir, asset, 'node_modules', 'sharp', '')), vips, decoded]).toEqual([true, expect.stringMatching(/^\d+\.\d+\.\d+$/), 'true']);
  });
});

describe('IAM: least privilege', () => {
  const statements = () =>
    Object.entries(s.json.Resources)
      .filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('UploadLaneHandlerServiceRoleDefaultPolicy'))
      .flatMap(([, r]) => r.Properties!.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Sid?: string; Condition?: unknown }[]);
  const actions = (st: { Action: string | string[] }) => (Array.isArray(st.Action) ? st.Action : [st.Action]).sort();

  it('reads the corpus, writes renditions and records, reads its configuration and the queue; nothing else', () => {
    const all = statements().flatMap(actions);
    expect([...new Set(all)].sort()).toEqual(
      [
        'dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:TransactWriteItems', 'dynamodb:UpdateItem',
        'kms:Decrypt',
        's3:GetObject', 's3:ListBucket', 's3:PutObject',
        'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage',
        'xray:PutTelemetryRecords', 'xray:PutTraceSegments',
      ].sort(),
    );
    expect(all.filter((a) => /Delete(Object|Item)|Scan|BatchWrite|Query/.test(a))).toEqual([]);
  });

  it('grants each action on its resource only', () => {
    const of = (sid: string) => statements().find((st) => st.Sid === sid)!;
    expect(JSON.stringify(of('ReadCorpus').Resource)).toMatch(/photos-corpus\/\*/);
    expect(actions(of('ReadCorpus'))).toEqual(['s3:GetObject']);
    expect(actions(of('WriteRenditions'))).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(JSON.stringify(of('WriteRenditions').Resource)).toMatch(/StorageRenditions.*\/\*/);
    // Removal markers: the lane writes them; the night's job role reads and deletes them, under that prefix only.
    expect(actions(of('WriteRemovalMarkers'))).toEqual(['s3:PutObject']);
    expect(JSON.stringify(of('WriteRemovalMarkers').Resource)).toMatch(/StorageWork.*\/upload-lane\/removed\/\*/);
    const night = Object.entries(s.json.Resources)
      .filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('ComputeJobRoleDefaultPolicy'))
      .flatMap(([, r]) => r.Properties!.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Sid?: string }[])
      .find((st) => st.Sid === 'UploadLaneRemovalMarkers')!;
    expect(actions(night)).toEqual(['s3:DeleteObject', 's3:GetObject']);
    expect(JSON.stringify(night.Resource)).toMatch(/StorageWork.*\/upload-lane\/removed\/\*/);
    expect(of('DecryptCorpus')).toMatchObject({ Resource: expect.stringContaining(':key/1234abcd-'), Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } } });
    const dynamo = statements().find((st) => actions(st).includes('dynamodb:PutItem'))!;
    expect(dynamo.Resource).toEqual({ 'Fn::GetAtt': [resourceId('AWS::DynamoDB::Table', 'ImagesTable'), 'Arn'] });
    const sqsStatement = statements().find((st) => actions(st).includes('sqs:ReceiveMessage'))!;
    expect(sqsStatement.Resource).toEqual({ 'Fn::GetAtt': [queueId(), 'Arn'] });
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  it('has zero unacknowledged findings with the lane', () => {
    expect(s.open).toEqual([]);
  });
});

describe('off by default', () => {
  it('builds nothing of the lane when onUpload.enabled is false', () => {
    const off = synth({});
    try {
      const types = Object.values(off.json.Resources).map((r) => r.Type);
      expect(types.filter((t) => /SQS|EventSourceMapping|S3BucketNotifications/.test(t))).toEqual([]);
      expect(Object.keys(off.json.Resources).filter((id) => id.startsWith('UploadLane'))).toEqual([]);
    } finally {
      rmSync(off.outdir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('what synth refuses: a loop, a corpus in another Region', () => {
  /** A lane whose renditions are written to the corpus bucket itself. */
  const laneOnOneBucket = (excludePrefixes: string[], corpusRegion?: string) => () => quietly(() => {
    const stack = new Stack(new App(), 'Loop', { env: { account: '123456789012', region: 'eu-west-1' } });
    const bucket = s3.Bucket.fromBucketName(stack, 'Photos', 'photos');
    const config = parsePipelineConfig({ buckets: { corpus: 'photos', renditions: 'photos', backup: 'b0b', work: 'w0w' } });
    return new UploadLane(stack, 'Lane', {
      corpus: bucket,
      corpusField: { field: 'corpus.bucketName', value: 'photos' },
      corpusRegion,
      renditions: bucket,
      work: s3.Bucket.fromBucketName(stack, 'WorkBucket', 'w0w'),
      nightJobRole: new iam.Role(stack, 'JobRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') }),
      table: new ImagesTable(stack, 'Table'),
      pipelineConfig: new PipelineConfigObject(stack, 'Config', { bucket: new s3.Bucket(stack, 'Work'), config, logRetention: logs.RetentionDays.ONE_DAY }),
      onUpload: { ...config.onUpload, enabled: true },
      presets: DEFAULT_PRESETS,
      excludePrefixes,
      architecture: 'x86_64',
      topic: new sns.Topic(stack, 'Topic'),
      environment: {},
      logRetention: logs.RetentionDays.ONE_DAY,
    });
  });

  it('stops synth with one line naming the field, the value and the fix when renditions would notify the lane', () => {
    const build = laneOnOneBucket(['large/', 'web/']);
    expect(build).toThrow(UsageError);
    expect(build).toThrow(/^corpus\.bucketName: "photos" holds the renditions too, so every rendition written on upload would notify the upload lane again \(a loop\): keep the renditions in their own bucket, or add \["small\/","thumb\/"\] to filter\.excludePrefixes$/);
  });

  it('builds when the function drops every rendition prefix (filter.excludePrefixes)', () => {
    expect(laneOnOneBucket(['large/', 'web/', 'small/', 'thumb/'])()).toBeInstanceOf(UploadLane);
  });

  it('stops synth with one line naming corpus.region when the corpus is in another Region than the queue', () => {
    // S3 user guide, "Amazon S3 event notifications": the destination must be in the bucket's Region.
    expect(laneOnOneBucket(['large/', 'web/', 'small/', 'thumb/'], 'us-west-2')).toThrow(
      /^corpus\.region: "us-west-2": S3 sends a bucket's events only to a queue in the bucket's own Region, and this stack deploys to eu-west-1: deploy the stack to us-west-2, or set onUpload\.enabled to false$/,
    );
  });
});

describe('sharp for another architecture', () => {
  it('stops synth with one line naming compute.architecture when its linux binaries are not installed', () => {
    // A project whose node_modules holds this machine's sharp binaries only, as `npm ci` leaves it.
    const root = mkdtempSync(join(tmpdir(), 'nightshift-sharp-'));
    try {
      cpSync(join(ROOT, 'package-lock.json'), join(root, 'package-lock.json'));
      mkdirSync(join(root, 'node_modules', '@img'), { recursive: true });
      for (const name of readdirSync(join(ROOT, 'node_modules', '@img'))) cpSync(join(ROOT, 'node_modules', '@img', name, 'package.json'), join(root, 'node_modules', '@img', name, 'package.json'));
      const other = process.arch === 'arm64' ? 'x86_64' : 'arm64';
      const cpu = other === 'arm64' ? 'arm64' : 'x64';
      expect(() => nativeModuleDirs(other, root)).toThrow(UsageError);
      expect(() => nativeModuleDirs(other, root)).toThrow(
        new RegExp(`^compute\\.architecture: "${other}": the upload lane's function needs sharp's linux-${cpu} binaries \\(@img/sharp-linux-${cpu}@0\\.35\\.5 @img/sharp-libvips-linux-${cpu}@[0-9.]+\\), .* npm install --no-save --force @img/sharp-linux-${cpu}@0\\.35\\.5 @img/sharp-libvips-linux-${cpu}@[0-9.]+$`),
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
