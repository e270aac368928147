/**
 * The CDK app: `npm run synth` / `npm run deploy` (the CDK CLI, package.json). Configuration comes from cdk.json's context
 * (key "nightshift") with -c nightshift.<key>=<value> overrides; an invalid value stops here with
 * a message naming the key, the value and the fix.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ValidationError } from '../core/validation';
import { configFromContext } from './config';
import { FEATURE_FLAGS } from './feature-flags';
import { LimitsError } from './limits';
import { NightshiftStack } from './stack';

const app = new App({ context: { ...FEATURE_FLAGS } });
let config;
try {
  config = configFromContext((key) => app.node.tryGetContext(key), Object.keys(app.node.getAllContext?.() ?? {}));
} catch (error) {
  if (error instanceof ValidationError) {
    process.stderr.write(`\n${error.message}\n\n`);
    process.exit(1);
  }
  throw error;
}
new NightshiftStack(app, app.node.tryGetContext('stackName') ?? 'Nightshift', {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'nightshift: nightly catalogue, backup and resize of an S3 image corpus',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
try {
  app.synth();
} catch (error) {
  // An AWS limit the deployment would hit (infra/limits.ts): one line, not a stack trace.
  if (error instanceof LimitsError) {
    process.stderr.write(`\n${error.message}\n\n`);
    process.exit(1);
  }
  throw error;
}
