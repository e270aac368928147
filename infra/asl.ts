/**
 * The synthesized workflow as plain Amazon States Language: the state machine's DefinitionString
 * from the CloudFormation template (an Fn::Join of JSON text and references), joined into one JSON
 * document. References become placeholders (`{{Ref:Id}}`, `{{GetAtt:Id.Attr}}`), or the values a
 * caller supplies, so the local runtime runs exactly the definition `cdk deploy` would deploy.
 */

export interface AslState {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly Retry?: readonly { ErrorEquals: string[] }[];
  readonly Catch?: readonly { ErrorEquals: string[]; Next: string }[];
  readonly TimeoutSeconds?: number;
  readonly TimeoutSecondsPath?: string;
  readonly Choices?: readonly { Next: string }[];
  readonly Default?: string;
  readonly Branches?: readonly AslDefinition[];
  readonly [key: string]: unknown;
}

export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, AslState>;
  readonly Comment?: string;
  readonly TimeoutSeconds?: number;
}

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

/** Pseudo parameters get fixed local values; other references placeholders unless `values` names them. */
export function definitionFromTemplate(template: Template, values: Record<string, string> = {}): AslDefinition {
  const machines = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) throw new Error(`Expected one state machine in the template, found ${machines.length}.`);
  const definition = machines[0]![1].Properties!.DefinitionString;
  return JSON.parse(flatten(definition, { 'AWS::Partition': 'aws', 'AWS::Region': 'us-east-1', 'AWS::AccountId': '000000000000', 'AWS::URLSuffix': 'amazonaws.com', ...values })) as AslDefinition;
}

function flatten(value: unknown, values: Record<string, string>): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return values[v.Ref] ?? `{{Ref:${v.Ref}}}`;
  if (Array.isArray(v['Fn::GetAtt'])) {
    const id = (v['Fn::GetAtt'] as string[]).join('.');
    return values[id] ?? `{{GetAtt:${id}}}`;
  }
  if (Array.isArray(v['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => flatten(p, values)).join(sep);
  }
  throw new Error(`Cannot flatten ${JSON.stringify(value).slice(0, 200)} in the state machine definition.`);
}

/** Every state, including those inside Parallel branches, with the definition that holds it. */
export function allStates(definition: AslDefinition): { name: string; state: AslState; scope: AslDefinition }[] {
  return Object.entries(definition.States).flatMap(([name, state]) => [{ name, state, scope: definition }, ...(state.Branches ?? []).flatMap((b) => allStates(b))]);
}

/** The states a state can go to next (Next, Choices, Default, Catch). */
export function successors(state: AslState): string[] {
  return [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next), ...(state.Catch ?? []).map((c) => c.Next)].filter((x): x is string => typeof x === 'string');
}
