/**
 * S3 event notifications (S3 user guide, "Event message structure", version 2.1): the message S3
 * sends to the upload lane's queue, built by the embedded S3 layer (local/s3-layer.ts) and read by
 * the lane's handler (functions/on-upload.ts). No AWS types: the documented JSON shape.
 */

/** The event names the lane is notified of (the record's eventName has no `s3:` prefix). */
export type S3EventName = 'ObjectCreated:Put' | 'ObjectCreated:Post' | 'ObjectCreated:Copy' | 'ObjectCreated:CompleteMultipartUpload' | 'ObjectRemoved:Delete' | 'ObjectRemoved:DeleteMarkerCreated';

export interface S3EventRecord {
  readonly eventVersion: string;
  readonly eventSource: 'aws:s3';
  readonly awsRegion: string;
  /** ISO 8601, when S3 finished processing the request. */
  readonly eventTime: string;
  readonly eventName: string;
  readonly userIdentity: { readonly principalId: string };
  readonly requestParameters: { readonly sourceIPAddress: string };
  readonly responseElements: { readonly 'x-amz-request-id': string; readonly 'x-amz-id-2': string };
  readonly s3: {
    readonly s3SchemaVersion: '1.0';
    readonly configurationId: string;
    readonly bucket: { readonly name: string; readonly ownerIdentity: { readonly principalId: string }; readonly arn: string };
    /** `key` is URL-encoded (a space is `+`); `size` and `eTag` (no quotes) only for ObjectCreated. */
    readonly object: { readonly key: string; readonly size?: number; readonly eTag?: string; readonly versionId?: string; readonly sequencer: string };
  };
}

export interface S3EventMessage {
  readonly Records: readonly S3EventRecord[];
}

/** The message S3 sends once when a notification configuration is set (S3 user guide, same page). */
export interface S3TestEvent {
  readonly Service: 'Amazon S3';
  readonly Event: 's3:TestEvent';
  readonly Time: string;
  readonly Bucket: string;
  readonly RequestId: string;
  readonly HostId: string;
}

/** What the lane acts on: an object created or removed (the rest of the event is not trusted: the handler reads the object's current state). */
export interface ObjectEvent {
  readonly kind: 'created' | 'removed';
  readonly bucket: string;
  readonly key: string;
  /** ObjectCreated only, quotes added (as S3's API answers ETags). */
  readonly etag?: string;
  readonly eventTime: string;
}

/** Keys in events are URL-encoded as in an HTML form (a space is `+`), the `/` between folders kept. */
export const encodeEventKey = (key: string): string => encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
export const decodeEventKey = (key: string): string => decodeURIComponent(key.replace(/\+/g, ' '));

/** The object events of one message body; [] for the test event; throws on anything else. */
export function parseS3EventMessage(body: string): ObjectEvent[] {
  const value = JSON.parse(body) as Partial<S3EventMessage & S3TestEvent>;
  if (value.Event === 's3:TestEvent') return [];
  if (!Array.isArray(value.Records)) throw new Error(`not an S3 event notification (no Records): ${body.slice(0, 200)}`);
  return value.Records.flatMap((r): ObjectEvent[] => {
    const kind = r.eventName.startsWith('ObjectCreated:') ? 'created' : r.eventName.startsWith('ObjectRemoved:') ? 'removed' : undefined;
    if (!kind) return [];
    const etag = r.s3.object.eTag;
    return [{ kind, bucket: r.s3.bucket.name, key: decodeEventKey(r.s3.object.key), ...(kind === 'created' && etag ? { etag: `"${etag.replaceAll('"', '')}"` } : {}), eventTime: r.eventTime }];
  });
}

/** One record as S3 sends it for `eventName` on `bucket`/`key` (`size` and `etag` for ObjectCreated). */
export function s3EventRecord(o: { eventName: S3EventName; bucket: string; key: string; size?: number; etag?: string; sequencer: string; time: Date; region?: string; configurationId?: string; requestId?: string }): S3EventRecord {
  const created = o.eventName.startsWith('ObjectCreated:');
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: o.region ?? 'us-east-1',
    eventTime: o.time.toISOString(),
    eventName: o.eventName,
    userIdentity: { principalId: 'nightshift-local' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: { 'x-amz-request-id': o.requestId ?? o.sequencer, 'x-amz-id-2': 'nightshift-local' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: o.configurationId ?? 'nightshift-upload-lane',
      bucket: { name: o.bucket, ownerIdentity: { principalId: 'nightshift-local' }, arn: `arn:aws:s3:::${o.bucket}` },
      object: { key: encodeEventKey(o.key), ...(created ? { size: o.size ?? 0, eTag: (o.etag ?? '').replaceAll('"', '') } : {}), sequencer: o.sequencer },
    },
  };
}
