/**
 * The workflow definition for the local runtime, synthesized from the CDK stack itself (never a
 * hand-written copy): the same NightshiftStack `cdk deploy` would deploy, with asset bundling
 * skipped (the local runtime runs the sources), and the work bucket's reference resolved to the
 * local bucket's name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { PipelineConfig } from '../core/config';
import { type AslDefinition, definitionFromTemplate } from '../infra/asl';
import { parseStackConfig } from '../infra/config';
import { NightshiftStack } from '../infra/stack';

export const LOCAL_EMAIL = 'operator@nightshift.local';

export function synthesizeLocalDefinition(config: PipelineConfig, outdir: string): AslDefinition {
  const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  // An empty bundling list skips NodejsFunction and Docker asset builds: only the definition is wanted.
  const app = new App({ outdir, context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
  const stackConfig = parseStackConfig({
    notificationEmails: [LOCAL_EMAIL],
    corpus: { bucketName: config.buckets.corpus },
    presets: config.presets,
    filter: config.filter,
    sort: config.sort,
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
