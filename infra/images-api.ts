import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigatewayv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { IMAGES_TABLE_ENV } from '../core/records/table';
import type { ImagesTable } from './images-table';
import { acknowledge, ANY_RESOURCE, LAMBDA_BASIC_EXECUTION } from './nag';

export interface ImagesApiProps {
  /** The records it answers; the handler may only read them (GetItem, Query on the folder index). */
  readonly table: ImagesTable;
  /**
   * `iam`: every route needs a SigV4-signed request from a principal allowed execute-api:Invoke;
   * `none`: anyone with the URL may read the records.
   * @default 'iam'
   */
  readonly auth?: 'iam' | 'none';
  /**
   * Origins browsers may call the API from.
   * @default - none: no CORS configuration, so no cross-origin access from browsers
   */
  readonly corsOrigins?: readonly string[];
  /**
   * The default stage's throttling.
   * @default - the account's API Gateway limits only
   */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Retention of the access logs and the handler's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The image records' HTTP API (issue 28): `GET /images/{key+}` answers one record, `GET /images`
 * a folder's, both from one Lambda function (functions/images-api.ts), on a `$default` stage with
 * throttling and JSON access logs.
 */
export class ImagesApi extends Construct {
  readonly handler: nodejs.NodejsFunction;
  readonly api: apigatewayv2.HttpApi;
  readonly stage: apigatewayv2.HttpStage;

  constructor(scope: Construct, id: string, props: ImagesApiProps) {
    super(scope, id);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.handler = this.newHandler(props.table, retention);
    props.table.grantRecordReads(this.handler);
    const corsOrigins = props.corsOrigins ?? [];
    this.api = new apigatewayv2.HttpApi(this, 'Api', {
      description: 'nightshift image records: GET /images/{key+}, GET /images?prefix=',
      // The stage is made below, with throttling and access logs.
      createDefaultStage: false,
      defaultAuthorizer: (props.auth ?? 'iam') === 'iam' ? new HttpIamAuthorizer() : undefined,
      // API Gateway answers the preflight itself, without authorization (API Gateway developer
      // guide, "Configuring CORS for HTTP APIs"); a signed request carries the SigV4 headers.
      corsPreflight: corsOrigins.length
        ? {
            allowOrigins: [...corsOrigins],
            allowMethods: [apigatewayv2.CorsHttpMethod.GET],
            allowHeaders: ['authorization', 'content-type', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'],
            maxAge: Duration.hours(1),
          }
        : undefined,
    });
    const integration = new HttpLambdaIntegration('Records', this.handler);
    this.api.addRoutes({ path: '/images/{key+}', methods: [apigatewayv2.HttpMethod.GET], integration });
    this.api.addRoutes({ path: '/images', methods: [apigatewayv2.HttpMethod.GET], integration });
    this.stage = new apigatewayv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: { destination: new apigatewayv2.LogGroupLogDestination(new logs.LogGroup(this, 'AccessLogs', { retention })), format: ACCESS_LOG_FORMAT },
    });
    if (props.auth === 'none') {
      acknowledge(this.api, { 'AwsSolutions-APIG4': 'api.auth is "none" in the configuration: the operator chose a public, read-only API over the image records.' });
    }
  }

  /** The URL of the `$default` stage: `https://<api-id>.execute-api.<region>.amazonaws.com/`. */
  get url(): string {
    return this.stage.url;
  }

  /** The handler, built as infra/functions.ts builds the workflow's: esbuild, Node.js 24 / ARM64, JSON logs, tracing. */
  private newHandler(table: ImagesTable, retention: logs.RetentionDays): nodejs.NodejsFunction {
    const fn = new nodejs.NodejsFunction(this, 'Handler', {
      entry: join(__dirname, '..', 'functions', 'entry', 'images-api.ts'),
      projectRoot: join(__dirname, '..'),
      depsLockFilePath: join(__dirname, '..', 'package-lock.json'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      // More memory is more CPU: a page of records is JSON to parse and write back.
      memorySize: 512,
      timeout: Duration.seconds(10),
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: new logs.LogGroup(this, 'HandlerLogs', { retention }),
      environment: { [IMAGES_TABLE_ENV]: table.table.tableName, NIGHTSHIFT_LOG_FORMAT: 'json', NODE_OPTIONS: '--enable-source-maps' },
      // logLevel ERROR: esbuild's timing lines and bundle-size warnings say nothing a deployer acts on; an error still stops synth.
      bundling: { target: 'node24', minify: true, sourceMap: true, externalModules: [], forceDockerBundling: false, logLevel: nodejs.LogLevel.ERROR },
    });
    acknowledge(fn, {
      [LAMBDA_BASIC_EXECUTION]: 'AWSLambdaBasicExecutionRole is the AWS-managed minimum for a function to write its own logs.',
      [ANY_RESOURCE]: 'X-Ray tracing: xray:PutTraceSegments and PutTelemetryRecords have no resource-level permissions.',
    });
    return fn;
  }
}

/** One JSON line a request, with HTTP API's own variables (API Gateway developer guide, "Customize HTTP API access logs"). */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    requestTime: '$context.requestTime',
    method: '$context.httpMethod',
    routeKey: '$context.routeKey',
    path: '$context.path',
    status: '$context.status',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    sourceIp: '$context.identity.sourceIp',
    caller: '$context.identity.userArn',
    error: '$context.error.message',
    integrationError: '$context.integrationErrorMessage',
  }),
);
