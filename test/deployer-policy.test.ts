/**
 * docs/deployer-policy.json: the IAM policy a deployer needs to bootstrap and deploy. Checked
 * against the bootstrap template the installed CDK CLI deploys, so that a CDK upgrade that adds a
 * role or a resource type fails here rather than in someone's account.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support/processes';

interface Statement {
  Sid: string;
  Effect: string;
  Action: string[];
  Resource: string | string[];
}

const policy = JSON.parse(readFileSync(join(ROOT, 'docs/deployer-policy.json'), 'utf8')) as { Version: string; Statement: Statement[] };
const template = readFileSync(require.resolve('aws-cdk/lib/api/bootstrap/bootstrap-template.yaml'), 'utf8');
const QUALIFIER = 'hnb659fds';

/** IAM's wildcard match: `*` any run of characters, `?` one. */
const matches = (pattern: string, value: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value);
const allows = (action: string, resource: string) =>
  policy.Statement.some((s) => s.Effect === 'Allow' && s.Action.some((a) => matches(a, action)) && [s.Resource].flat().some((r) => matches(r, resource)));

/** The template's resources: logical id, type and whether a condition guards it. */
function bootstrapResources(): { id: string; type: string; conditional: boolean }[] {
  const body = template.slice(template.indexOf('\nResources:\n'), template.indexOf('\nOutputs:\n'));
  // Each resource: its two-space-indented name, then its more-indented (or blank or comment) lines.
  return [...body.matchAll(/^ {2}(\w+):\n((?:(?: {3,}.*|\s*#.*|)\n)*)/gm)].map((m) => ({ id: m[1]!, type: /^ {4}Type: '?(AWS::[\w:]+)/m.exec(m[2]!)?.[1] ?? '?', conditional: /^ {4}Condition:/m.test(m[2]!) }));
}

it('is an IAM policy document: version, unique Sids, Allow statements of service:Action actions on ARNs', () => {
  expect(policy.Version).toBe('2012-10-17');
  expect(new Set(policy.Statement.map((s) => s.Sid)).size).toBe(policy.Statement.length);
  for (const s of policy.Statement) {
    expect(s).toEqual({ Sid: expect.stringMatching(/^[A-Za-z0-9]+$/), Effect: 'Allow', Action: expect.any(Array), Resource: expect.anything() });
    for (const a of s.Action) expect(a).toMatch(/^[a-z0-9-]+:[A-Za-z*]+$/);
    for (const r of [s.Resource].flat()) expect(r).toMatch(/^(\*|arn:aws:[a-z0-9-]+:[a-z0-9-*]*:[0-9*]*:.+)$/);
  }
});

it('lets the deployer assume every role the CLI assumes to deploy, and no other', () => {
  // AWS CDK developer guide, "AWS CDK bootstrapping": cdk deploy works through the bootstrap roles.
  const roles = [...new Set([...template.matchAll(/cdk-\$\{Qualifier\}-([a-z-]+)-role-\$\{AWS::AccountId\}-\$\{AWS::Region\}/g)].map((m) => m[1]!))].sort();
  expect(roles).toEqual(['cfn-exec', 'deploy', 'file-publishing', 'image-publishing', 'lookup']);
  const arn = (role: string) => `arn:aws:iam::123456789012:role/cdk-${QUALIFIER}-${role}-role-123456789012-eu-west-1`;
  // cfn-exec-role is CloudFormation's (its trust policy names cloudformation.amazonaws.com), not the deployer's.
  expect(roles.filter((r) => allows('sts:AssumeRole', arn(r)))).toEqual(['deploy', 'file-publishing', 'image-publishing', 'lookup']);
});

it('can create every resource the bootstrap template always declares, where the template puts it', () => {
  const create: Record<string, [action: string, resource: string]> = {
    'AWS::S3::Bucket': ['s3:CreateBucket', `arn:aws:s3:::cdk-${QUALIFIER}-assets-123456789012-eu-west-1`],
    'AWS::S3::BucketPolicy': ['s3:PutBucketPolicy', `arn:aws:s3:::cdk-${QUALIFIER}-assets-123456789012-eu-west-1`],
    'AWS::ECR::Repository': ['ecr:CreateRepository', `arn:aws:ecr:eu-west-1:123456789012:repository/cdk-${QUALIFIER}-container-assets-123456789012-eu-west-1`],
    'AWS::IAM::Role': ['iam:CreateRole', `arn:aws:iam::123456789012:role/cdk-${QUALIFIER}-deploy-role-123456789012-eu-west-1`],
    'AWS::IAM::Policy': ['iam:PutRolePolicy', `arn:aws:iam::123456789012:role/cdk-${QUALIFIER}-file-publishing-role-123456789012-eu-west-1`],
    'AWS::SSM::Parameter': ['ssm:PutParameter', `arn:aws:ssm:eu-west-1:123456789012:parameter/cdk-bootstrap/${QUALIFIER}/version`],
  };
  const always = bootstrapResources().filter((r) => !r.conditional);
  expect(always.length).toBeGreaterThan(5);
  const missing = always.filter((r) => !create[r.type] || !allows(...create[r.type]!)).map((r) => `${r.id} (${r.type})`);
  expect(missing).toEqual([]);
  expect(allows('cloudformation:ExecuteChangeSet', 'arn:aws:cloudformation:eu-west-1:123456789012:stack/CDKToolkit/0f2c')).toBe(true);
  expect(allows('cloudformation:ExecuteChangeSet', 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Nightshift/0f2c')).toBe(false);
});

it('is linked from the README, with its explanation', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  expect(readme).toContain('](docs/deployer-policy.json)');
  expect(readme).toContain('](docs/deployer.md)');
});
