import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { FOLDER_ATTR, FOLDER_INDEX, TABLE_KEY } from '../core/records/table';

export interface ImagesTableProps {
  /**
   * What happens to the table when the stack is deleted.
   * @default RemovalPolicy.RETAIN: the records outlive the stack, as the buckets do
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The image records (issue 28): one item per selected original, keyed by its S3 key, and an index
 * listing a folder in key order (every attribute projected: the API answers whole records).
 *
 * On-demand, since a night's writes come in one burst and the API's reads follow applications;
 * point-in-time recovery on; encrypted with the AWS managed key (aws/dynamodb): a customer key
 * would cost a monthly fee and a key policy to keep for records that say no more than the renditions
 * bucket they describe, while the managed key still leaves every use in CloudTrail.
 * Nothing is granted Scan: the API reads by key and by folder, the jobs write by key.
 */
export class ImagesTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ImagesTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: FOLDER_INDEX,
      partitionKey: { name: FOLDER_ATTR, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEY, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }

  /** The index's ARN, which Query on it is granted on (an index is its own resource, `table/<name>/index/<index>`: DynamoDB developer guide, "Identity and access management", resource types). */
  get folderIndexArn(): string {
    return `${this.table.tableArn}/index/${FOLDER_INDEX}`;
  }

  /**
   * The resize job's access: write records one at a time, in batches (25 a request) or in
   * transactions, conditioned on the record it replaces (GetItem and ConditionCheckItem read it,
   * BatchGetItem a batch of them); on this table only, never its index, never Scan. DeleteItem
   * only with `deletes` (pruning deleted originals). IAM cannot tell a BatchWriteItem's
   * DeleteRequest from its PutRequest, so without `deletes` the code is what keeps batches to puts.
   */
  grantRecordWrites(grantee: iam.IGrantable, { deletes = true }: { readonly deletes?: boolean } = {}): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:PutItem', ...(deletes ? ['dynamodb:DeleteItem'] : []), 'dynamodb:BatchWriteItem', 'dynamodb:TransactWriteItems', 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:BatchGetItem'],
      resourceArns: [this.table.tableArn],
    });
  }

  /**
   * The upload lane's access: one record at a time, read (GetItem) and written conditioned on the
   * one it replaces (PutItem, UpdateItem, or in a transaction with ConditionCheckItem); a removal
   * writes a tombstone, so no DeleteItem; no batches, no index, no Scan.
   */
  grantRecordUpdates(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem', 'dynamodb:TransactWriteItems'],
      resourceArns: [this.table.tableArn],
    });
  }

  /** The API's access: a record by key (GetItem on the table), a folder in key order (Query on the index). Read-only, no Scan. */
  grantRecordReads(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:GetItem'], resourceArns: [this.table.tableArn] });
    iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:Query'], resourceArns: [this.folderIndexArn] });
  }
}
