import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from './nag';

export interface DeliveryProps {
  /** The bucket served: the renditions, read by CloudFront alone through Origin Access Control (the bucket stays private). */
  readonly renditions: s3.IBucket;
  /**
   * Where the distribution's log bucket writes its own S3 server access logs.
   * @default - no server access logs for the distribution's log bucket
   */
  readonly accessLogs?: s3.IBucket;
  /**
   * Days CloudFront's access logs are kept.
   * @default 365
   */
  readonly logDays?: number;
}

/**
 * The optional CDN (delivery.cdn, issue 28): a CloudFront distribution over the renditions
 * bucket, HTTPS only, caching each rendition as long as its own Cache-Control says, with standard
 * access logs. Records' urls use its domain (`baseUrl`); Aggregate invalidates the renditions a
 * run replaced or removed (`grantInvalidation`).
 */
export class Delivery extends Construct {
  readonly distribution: cloudfront.Distribution;
  readonly logs: s3.Bucket;

  constructor(scope: Construct, id: string, props: DeliveryProps) {
    super(scope, id);
    this.logs = new s3.Bucket(this, 'Logs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // CloudFront's standard logs are delivered under the bucket's ACL, which needs ACLs enabled
      // (CloudFront developer guide, "Configure standard logging (legacy)", permissions).
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: props.accessLogs ? 'cloudfront-logs/' : undefined,
      lifecycleRules: [{ id: 'expire-cloudfront-logs', expiration: Duration.days(props.logDays ?? 365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'nightshift renditions',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(props.renditions),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: new cloudfront.CachePolicy(this, 'FollowCacheControl', {
          comment: 'nightshift renditions: cache as long as the object\'s Cache-Control says; no header, cookie or query string in the key',
          // With a minimum of 0, CloudFront keeps an object exactly as long as its Cache-Control
          // max-age says; the default applies only to objects without one (CloudFront developer
          // guide, "Manage how long content stays in the cache (expiration)").
          minTtl: Duration.seconds(0),
          defaultTtl: Duration.hours(1),
          maxTtl: Duration.days(365),
          // Renditions are compressed images: gzip or brotli would only spend CPU.
          enableAcceptEncodingGzip: false,
          enableAcceptEncodingBrotli: false,
        }),
        compress: false,
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: this.logs,
      logFilePrefix: 'cloudfront/',
    });
    acknowledge(this.distribution, {
      'AwsSolutions-CFR1': 'Renditions are served worldwide on purpose: no geographic restriction.',
      'AwsSolutions-CFR2': 'No AWS WAF web ACL: the distribution serves public, read-only images from a private bucket; a web ACL costs a monthly fee per distribution and per rule. Attach one if the renditions need rate limiting.',
      'AwsSolutions-CFR4': 'The distribution uses CloudFront\'s default *.cloudfront.net certificate, whose security policy CloudFront sets (TLSv1); a custom domain with its own certificate and TLSv1.2_2021 is the operator\'s to add.',
    });
  }

  /** `https://<distribution domain>/`: records' urls are it followed by the rendition key. */
  get baseUrl(): string {
    return `https://${this.distribution.distributionDomainName}/`;
  }

  /** cloudfront:CreateInvalidation on this distribution alone. */
  grantInvalidation(grantee: iam.IGrantable): iam.Grant {
    return this.distribution.grantCreateInvalidation(grantee);
  }
}
