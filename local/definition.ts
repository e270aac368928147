/**
 * The workflow definition for the local runtime, synthesized from the CDK stack itself (never a
 * hand-written copy): the same NightshiftStack `cdk deploy` would deploy, with asset bundling
 * skipped (the local runtime runs the sources), and the work bucket's reference resolved to the
 * local bucket's name.
 */
import { App, type CfnElement } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { PipelineConfig } from '../core/config';
import { type AslDefinition, definitionFromTemplate } from '../infra/asl';
import { parseStackConfig } from '../infra/config';
import { FEATURE_FLAGS } from '../infra/feature-flags';
import { NightshiftStack } from '../infra/stack';

export const LOCAL_EMAIL = 'operator@nightshift.local';

/** The local runtime's definition: the deployed one, as the interpreter needs it (forLocalInterpreter). */
export function synthesizeLocalDefinition(config: PipelineConfig, outdir: string): AslDefinition {
  return forLocalInterpreter(synthesizeDefinition(config, outdir), config.compute.executionTimeoutHours * 3600);
}

/** The definition exactly as the stack deploys it, for this configuration and the local buckets. */
export function synthesizeDefinition(config: PipelineConfig, outdir: string): AslDefinition {
  // An empty bundling list skips NodejsFunction and Docker asset builds: only the definition is wanted.
  const app = new App({ outdir, context: { ...FEATURE_FLAGS, 'aws:cdk:bundling-stacks': [] } });
  const stackConfig = parseStackConfig({
    notificationEmails: [LOCAL_EMAIL],
    corpus: { bucketName: config.buckets.corpus },
    presets: config.presets,
    filter: config.filter,
    sort: config.sort,
    renditions: config.renditions,
    shards: config.shards,
    backup: config.backup,
    resize: config.resize,
    schedule: { enabled: false },
  });
  const stack = new NightshiftStack(app, 'Nightshift', { config: stackConfig, jobImage: ecs.ContainerImage.fromRegistry('nightshift-local') });
  const template = app.synth().getStackArtifact(stack.artifactId).template;
  const workBucket = stack.getLogicalId(stack.storage.work.node.defaultChild as CfnElement);
  return definitionFromTemplate(template, { [workBucket]: config.buckets.work });
}

/**
 * The one change the interpreter needs. Step Functions resolves a Task's TimeoutSecondsPath
 * against the state's input (ASL specification, "Task state"); aws-local-stepfunctions 3.0
 * resolves it against the task's Parameters, where the plan is not, and fails the state. Locally
 * such a state gets the execution's limit as a fixed TimeoutSeconds instead: nothing else
 * differs, which local/definition.test.ts checks against the deployed definition.
 */
export function forLocalInterpreter(definition: AslDefinition, timeoutSeconds: number): AslDefinition {
  const states = Object.fromEntries(
    Object.entries(definition.States).map(([name, state]) => {
      const branches = state.Branches?.map((b) => forLocalInterpreter(b, timeoutSeconds));
      const { TimeoutSecondsPath, ...rest } = state;
      return [name, { ...rest, ...(TimeoutSecondsPath ? { TimeoutSeconds: timeoutSeconds } : {}), ...(branches ? { Branches: branches } : {}) }];
    }),
  );
  return { ...definition, States: states };
}
