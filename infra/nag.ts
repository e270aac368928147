/**
 * cdk-nag acknowledgements, one finding at a time and each with its reason. IAM findings carry
 * the resource or action in their id (`AwsSolutions-IAM5[Resource::<WorkBucket.Arn>/runs/*]`), so
 * `findingResource` renders a CDK token the way cdk-nag prints it.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export function acknowledge(scope: IConstruct, findings: Record<string, string>): void {
  for (const [id, reason] of Object.entries(findings)) Validations.of(scope).acknowledge({ id, reason });
}

/** `AwsSolutions-IAM5[Resource::…]` for an ARN (a token or a string) followed by `suffix`. */
export function wildcardResource(scope: IConstruct, arn: string, suffix = ''): string {
  return `AwsSolutions-IAM5[Resource::${render(Stack.of(scope).resolve(arn))}${suffix}]`;
}

export const LAMBDA_BASIC_EXECUTION = 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';
export const ANY_RESOURCE = 'AwsSolutions-IAM5[Resource::*]';

function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.Ref === 'string') return `<${v.Ref}>`;
    if (Array.isArray(v['Fn::GetAtt'])) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
    // The CDK asset bucket's name, account unknown at synth: cdk-nag prints `${X}` as `<X>`.
    if (typeof v['Fn::Sub'] === 'string') return (v['Fn::Sub'] as string).replace(/\$\{([^}]+)\}/g, '<$1>');
    if (Array.isArray(v['Fn::Join'])) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(sep);
    }
  }
  return JSON.stringify(value);
}
