import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface StorageProps {
  /**
   * An existing bucket holding the corpus, by name. The pipeline only ever reads it.
   * @default - the stack creates a corpus bucket (retained when the stack is deleted)
   */
  readonly corpusBucketName?: string;
  /**
   * The existing corpus bucket's region, when it is not the stack's.
   * @default - the stack's region
   */
  readonly corpusRegion?: string;
  /**
   * The KMS key the existing corpus is encrypted with (SSE-KMS).
   * @default - S3-managed encryption: no key access is granted
   */
  readonly corpusKmsKeyArn?: string;
  /**
   * Days a run's artefacts (`runs/<runId>/…` in the work bucket) are kept.
   * @default 90
   */
  readonly runRetentionDays?: number;
  /**
   * Days a replaced or deleted version of a backup is kept.
   * @default 90
   */
  readonly noncurrentBackupDays?: number;
  /**
   * Object Lock default retention on the backup bucket.
   * @default - no Object Lock
   */
  readonly backupObjectLock?: { readonly mode: 'GOVERNANCE' | 'COMPLIANCE'; readonly days: number };
}

/**
 * The buckets: corpus (read-only to the pipeline), renditions, backup (versioned), work (runs and
 * state), and the access-log bucket they all log to. Every bucket blocks public access, requires
 * TLS and is encrypted; data buckets are retained when the stack is deleted.
 */
export class Storage extends Construct {
  readonly corpus: s3.IBucket;
  /** The corpus's SSE-KMS key, when it has one: readers need kms:Decrypt on it. */
  readonly corpusKey?: kms.IKey;
  readonly renditions: s3.Bucket;
  readonly backup: s3.Bucket;
  readonly work: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageProps = {}) {
    super(scope, id);
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      ...hardened(),
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365) }],
    });

    const logged = (prefix: string): s3.BucketProps => ({ ...hardened(), serverAccessLogsBucket: this.accessLogs, serverAccessLogsPrefix: `${prefix}/` });
    const abortUploads: s3.LifecycleRule = { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) };

    this.corpusKey = props.corpusKmsKeyArn ? kms.Key.fromKeyArn(this, 'CorpusKey', props.corpusKmsKeyArn) : undefined;
    this.corpus = props.corpusBucketName
      ? s3.Bucket.fromBucketAttributes(this, 'Corpus', { bucketName: props.corpusBucketName, region: props.corpusRegion, encryptionKey: this.corpusKey })
      : new s3.Bucket(this, 'Corpus', { ...logged('corpus'), versioned: true, removalPolicy: RemovalPolicy.RETAIN, lifecycleRules: [abortUploads] });
    this.renditions = new s3.Bucket(this, 'Renditions', { ...logged('renditions'), removalPolicy: RemovalPolicy.RETAIN, lifecycleRules: [abortUploads] });
    this.backup = new s3.Bucket(this, 'Backup', {
      ...logged('backup'),
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
      objectLockEnabled: props.backupObjectLock !== undefined,
      objectLockDefaultRetention: props.backupObjectLock
        ? props.backupObjectLock.mode === 'COMPLIANCE'
          ? s3.ObjectLockRetention.compliance(Duration.days(props.backupObjectLock.days))
          : s3.ObjectLockRetention.governance(Duration.days(props.backupObjectLock.days))
        : undefined,
      lifecycleRules: [abortUploads, { id: 'expire-noncurrent-backups', noncurrentVersionExpiration: Duration.days(props.noncurrentBackupDays ?? 90) }],
    });
    this.work = new s3.Bucket(this, 'Work', {
      ...logged('work'),
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [abortUploads, { id: 'expire-run-artefacts', prefix: 'runs/', expiration: Duration.days(props.runRetentionDays ?? 90) }],
    });
  }
}

function hardened(): s3.BucketProps {
  return { blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL, encryption: s3.BucketEncryption.S3_MANAGED, enforceSSL: true, minimumTLSVersion: 1.2 };
}
