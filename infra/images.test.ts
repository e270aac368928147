/**
 * The image records' infrastructure (issue 28) in the synthesized template: the table, the API,
 * least-privilege access to both, the Run Completed event, the optional CDN, and cdk-nag over it
 * all. Two synths: the defaults (with a delivery base URL, which only the jobs' environment
 * shows), and every option turned the other way.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DELIVERY_ENV } from '../core/config';
import { FOLDER_ATTR, FOLDER_INDEX, IMAGES_TABLE_ENV, TABLE_KEY } from '../core/records/table';
import { RUN_COMPLETED_EVENT } from '../core/run-event';
import { validationErrorOf } from '../test/support/fixtures';
import { FEATURE_FLAGS } from './feature-flags';
import { keepingStderr } from '../test/support/stderr';
import { parseStackConfig, type StackConfig } from './config';
import { NightshiftStack } from './stack';

const emails = ['ops@example.com'];

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string }>;
interface Statement {
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
interface Synthesized {
  template: Template;
  resources: Resources;
  /** cdk-nag's open findings: `rule at path`. */
  findings: string[];
  outdir: string;
}

function synth(overrides: Partial<Record<keyof StackConfig, unknown>> = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'nightshift-images-'));
  const app = new App({ outdir, context: { ...FEATURE_FLAGS } });
  // Assets are bundled as the constructs are made (CDK's "Bundling asset" lines), and checked as the app synthesizes.
  const stack = keepingStderr(() => new NightshiftStack(app, 'Nightshift', { config: parseStackConfig({ notificationEmails: emails, ...overrides }), env: { account: '123456789012', region: 'eu-west-1' } }));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    keepingStderr(() => app.synth());
  } catch (error) {
    // cdk-nag's errors stop synth with the report (below) written: the test reads it.
    if (!/Validation failed|A copy of this report can be found/.test((error as Error).message)) throw error;
  }
  const template = Template.fromJSON(JSON.parse(readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8')));
  let findings: string[] = [];
  try {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[] };
    findings = report.pluginReports.flatMap((p) => p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)));
  } catch {
    // No report: no findings.
  }
  return { template, resources: (template.toJSON() as { Resources: Resources }).Resources, findings, outdir };
}

const idOf = (resources: Resources, type: string, prefix: string) => {
  const ids = Object.keys(resources).filter((id) => resources[id]!.Type === type && id.startsWith(prefix));
  expect(ids).toHaveLength(1);
  return ids[0]!;
};
/** Every statement of every IAM policy, with the policy's logical id. */
const statements = (resources: Resources) =>
  Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
    .flatMap(([id, r]) => (r.Properties!.PolicyDocument as { Statement: Statement[] }).Statement.map((st) => ({ policy: id, ...st })));
const actionsOf = (st: Statement) => (Array.isArray(st.Action) ? st.Action : [st.Action]);
const environmentOf = (resources: Resources, functionPrefix: string) => (resources[idOf(resources, 'AWS::Lambda::Function', functionPrefix)]!.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
const jobEnvironments = (resources: Resources) =>
  Object.values(resources)
    .filter((r) => r.Type === 'AWS::Batch::JobDefinition')
    .map((r) => Object.fromEntries(((r.Properties!.ContainerProperties as { Environment: { Name: string; Value: unknown }[] }).Environment).map((e) => [e.Name, e.Value])));

let byDefault: Synthesized;
let turned: Synthesized;
beforeAll(() => {
  byDefault = synth({ delivery: { baseUrl: 'https://images.example.com' } });
  turned = synth({ api: { auth: 'none', corsOrigins: ['https://app.example.com'], throttle: { rateLimit: 20, burstLimit: 40 } }, delivery: { cdn: true, maxInvalidationPaths: 500 } });
}, 300_000);
afterAll(() => {
  for (const s of [byDefault, turned]) if (s) rmSync(s.outdir, { recursive: true, force: true });
});

describe('configuration: api and delivery', () => {
  it('defaults to an IAM-authorized API without CORS, throttled, and no CDN', () => {
    const c = parseStackConfig({ notificationEmails: emails });
    expect(c.api).toEqual({ auth: 'iam', corsOrigins: [], throttle: { rateLimit: 100, burstLimit: 200 } });
    expect(c.delivery).toEqual({ cdn: false, maxInvalidationPaths: 1000 });
    expect(parseStackConfig({ notificationEmails: emails, delivery: { baseUrl: 'https://images.example.com' } }).delivery.baseUrl).toBe('https://images.example.com/');
  });

  it.each([
    [{ api: { auth: 'cognito' } }, 'nightshift.api.auth', '"iam"'],
    [{ api: { corsOrigins: ['https://app.example.com/'] } }, 'nightshift.api.corsOrigins[0]', 'an origin such as https://app.example.com'],
    [{ api: { throttle: { burstLimit: 0 } } }, 'nightshift.api.throttle.burstLimit', '>= 1'],
    [{ delivery: { baseUrl: 'http://images.example.com/' } }, 'nightshift.delivery.baseUrl', 'an https URL'],
    [{ delivery: { cdn: true, baseUrl: 'https://images.example.com/' } }, 'nightshift.delivery.baseUrl', "left out when delivery.cdn is true (records' urls then use the distribution's domain)"],
    [{ delivery: { maxInvalidationPaths: 0 } }, 'nightshift.delivery.maxInvalidationPaths', '>= 1'],
  ])('stops synth on %j naming the key, the value and the fix', (override, field, expected) => {
    const e = validationErrorOf(() => parseStackConfig({ notificationEmails: emails, ...override }));
    expect(e.problems).toEqual([{ field, received: expect.any(String), expected: expect.stringContaining(expected) }]);
    expect(e.message.split('\n')[0]).toContain(field);
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  it('has zero unacknowledged findings, by default and with every option turned', () => {
    expect(byDefault.findings).toEqual([]);
    expect(turned.findings).toEqual([]);
  });
});

describe('images table', () => {
  it('is on-demand, point-in-time recoverable, encrypted with KMS, retained, keyed by key, with the folder index projecting whole records', () => {
    const table = byDefault.resources[idOf(byDefault.resources, 'AWS::DynamoDB::Table', 'ImagesTable')]!;
    expect(table).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      // SSEEnabled true is KMS with the AWS managed key (DynamoDB API reference, SSESpecification).
      SSESpecification: { SSEEnabled: true },
      KeySchema: [{ AttributeName: TABLE_KEY, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: FOLDER_INDEX,
          KeySchema: [
            { AttributeName: FOLDER_ATTR, KeyType: 'HASH' },
            { AttributeName: TABLE_KEY, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it('is named to every job in its environment', () => {
    const tableId = idOf(byDefault.resources, 'AWS::DynamoDB::Table', 'ImagesTable');
    const environments = jobEnvironments(byDefault.resources);
    expect(environments).toHaveLength(3);
    for (const env of environments) expect(env[IMAGES_TABLE_ENV]).toEqual({ Ref: tableId });
  });

  it('is never scanned, nor granted with a wildcard action', () => {
    for (const s of [byDefault, turned]) {
      const dynamo = statements(s.resources).flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:'));
      expect(dynamo.length).toBeGreaterThan(0);
      expect(dynamo.filter((a) => a === 'dynamodb:Scan' || a.includes('*'))).toEqual([]);
    }
  });

  it('is written by the job role alone, on the table itself (not its index)', () => {
    const tableId = idOf(byDefault.resources, 'AWS::DynamoDB::Table', 'ImagesTable');
    const writes = statements(byDefault.resources).filter((st) => actionsOf(st).some((a) => /^dynamodb:(Put|Delete|Update|BatchWrite|TransactWrite)/.test(a)));
    expect(writes).toEqual([expect.objectContaining({ policy: expect.stringMatching(/^ComputeJobRole/), Resource: { 'Fn::GetAtt': [tableId, 'Arn'] } })]);
    expect(actionsOf(writes[0]!).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:TransactWriteItems']);
  });

  it('is read by the API function with GetItem on the table and Query on the folder index, nothing else', () => {
    const tableId = idOf(byDefault.resources, 'AWS::DynamoDB::Table', 'ImagesTable');
    const api = statements(byDefault.resources).filter((st) => st.policy.startsWith('ImagesApiHandler'));
    expect(api.map((st) => ({ Action: st.Action, Resource: st.Resource }))).toEqual(
      expect.arrayContaining([
        { Action: 'dynamodb:GetItem', Resource: { 'Fn::GetAtt': [tableId, 'Arn'] } },
        { Action: 'dynamodb:Query', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, `/index/${FOLDER_INDEX}`]] } },
      ]),
    );
    // The rest is tracing (X-Ray), which the workflow's functions have too.
    expect(api.flatMap(actionsOf).filter((a) => !a.startsWith('xray:'))).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    expect(environmentOf(byDefault.resources, 'ImagesApiHandler')[IMAGES_TABLE_ENV]).toEqual({ Ref: tableId });
  });
});

describe('images API', () => {
  const routes = (s: Synthesized) =>
    Object.values(s.resources)
      .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
      .map((r) => `${String(r.Properties!.RouteKey)} ${String(r.Properties!.AuthorizationType)}`)
      .sort();

  it('routes GET /images/{key+} and GET /images to the handler, IAM-authorized by default', () => {
    expect(routes(byDefault)).toEqual(['GET /images AWS_IAM', 'GET /images/{key+} AWS_IAM']);
    byDefault.template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Handler: 'index.handler', Environment: { Variables: Match.objectLike({ [IMAGES_TABLE_ENV]: Match.anyValue() }) } });
    byDefault.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP', CorsConfiguration: Match.absent() });
  });

  it('takes no authorization when api.auth is none, and the configured CORS origins', () => {
    expect(routes(turned)).toEqual(['GET /images NONE', 'GET /images/{key+} NONE']);
    turned.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.objectLike({ AllowOrigins: ['https://app.example.com'], AllowMethods: ['GET'] }) });
  });

  it('throttles and access-logs the $default stage, and outputs its URL', () => {
    const stage = (s: Synthesized) => Object.values(s.resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Stage');
    expect(stage(byDefault)).toEqual([
      expect.objectContaining({
        Properties: expect.objectContaining({
          StageName: '$default',
          AutoDeploy: true,
          DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
          AccessLogSettings: { DestinationArn: expect.anything(), Format: expect.stringContaining('"routeKey":"$context.routeKey"') },
        }),
      }),
    ]);
    expect(stage(turned)[0]!.Properties!.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 });
    byDefault.template.hasOutput('ImagesApiUrl', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }) });
  });
});

describe('Run Completed event', () => {
  it('lets Notify and NotifyFailure put it on the default bus, as source nightshift and detail-type Run Completed only', () => {
    const puts = statements(byDefault.resources).filter((st) => actionsOf(st).includes('events:PutEvents'));
    expect(puts.map((st) => st.policy.replace(/[A-F0-9]{8}$/, '')).sort()).toEqual(['FunctionsnotifyServiceRoleDefaultPolicy', 'FunctionsnotifyfailureServiceRoleDefaultPolicy']);
    for (const st of puts) {
      expect(st.Action).toBe('events:PutEvents');
      expect(st.Resource).toBe('arn:aws:events:eu-west-1:123456789012:event-bus/default');
      // PutEvents is authorised per entry on these keys (EventBridge user guide, "Using IAM policy conditions in Amazon EventBridge").
      expect(st.Condition).toEqual({ StringEquals: { 'events:source': RUN_COMPLETED_EVENT.source, 'events:detail-type': RUN_COMPLETED_EVENT.detailType } });
    }
  });
});

describe('CDN (delivery.cdn)', () => {
  it('is absent by default: no distribution, no invalidation grant; the jobs get delivery.baseUrl for records\' urls', () => {
    byDefault.template.resourceCountIs('AWS::CloudFront::Distribution', 0);
    expect(statements(byDefault.resources).flatMap(actionsOf)).not.toContain('cloudfront:CreateInvalidation');
    for (const env of jobEnvironments(byDefault.resources)) expect(env[DELIVERY_ENV.baseUrl]).toBe('https://images.example.com/');
  });

  it('serves the renditions bucket through Origin Access Control, HTTPS only, with access logs', () => {
    turned.template.resourceCountIs('AWS::CloudFront::Distribution', 1);
    const oacId = idOf(turned.resources, 'AWS::CloudFront::OriginAccessControl', 'Delivery');
    turned.template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', { OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' }) });
    const renditionsId = idOf(turned.resources, 'AWS::S3::Bucket', 'StorageRenditions');
    turned.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Origins: [Match.objectLike({ DomainName: { 'Fn::GetAtt': [renditionsId, 'RegionalDomainName'] }, OriginAccessControlId: { 'Fn::GetAtt': [oacId, 'Id'] } })],
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'https-only', AllowedMethods: ['GET', 'HEAD'] }),
        Logging: Match.objectLike({ Bucket: Match.anyValue() }),
      }),
    });
    // Objects are cached as long as their Cache-Control says (minimum TTL 0: CloudFront developer guide, "Manage how long content stays in the cache (expiration)").
    turned.template.hasResourceProperties('AWS::CloudFront::CachePolicy', { CachePolicyConfig: Match.objectLike({ MinTTL: 0 }) });
    // The renditions bucket admits the distribution alone (OAC's bucket policy, conditioned on its ARN).
    turned.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: renditionsId },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 's3:GetObject', Principal: { Service: 'cloudfront.amazonaws.com' }, Condition: { StringEquals: { 'AWS:SourceArn': Match.anyValue() } } })]) },
    });
  });

  it('lets Aggregate invalidate in that distribution only, and gives records its domain', () => {
    const distributionId = idOf(turned.resources, 'AWS::CloudFront::Distribution', 'Delivery');
    const invalidations = statements(turned.resources).filter((st) => actionsOf(st).includes('cloudfront:CreateInvalidation'));
    expect(invalidations).toHaveLength(1);
    expect(invalidations[0]!.policy).toMatch(/^Functionsaggregate/);
    expect(invalidations[0]!.Resource).toEqual({ 'Fn::Join': ['', ['arn:aws:cloudfront::123456789012:distribution/', { Ref: distributionId }]] });
    const aggregate = environmentOf(turned.resources, 'Functionsaggregate');
    expect(aggregate[DELIVERY_ENV.distributionId]).toEqual({ Ref: distributionId });
    expect(aggregate[DELIVERY_ENV.maxInvalidationPaths]).toBe('500');
    for (const env of jobEnvironments(turned.resources)) expect(env[DELIVERY_ENV.baseUrl]).toEqual({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/']] });
  });
});
