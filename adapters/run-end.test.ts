import { cdnTarget, type CreateInvalidationApi, invalidationRequest } from './cdn';
import { EventNotPut, putEvents, type PutEventsApi } from './run-events';
import { runCompletedEntry } from '../core/run-event';

const api: CreateInvalidationApi = { createInvalidation: () => Promise.resolve({}) };

describe('the CDN the stack names (NIGHTSHIFT_DISTRIBUTION_ID)', () => {
  it('is none without delivery.cdn, and its cap defaults to CloudFront\'s free 1,000', () => {
    expect(cdnTarget({}, api)).toBeUndefined();
    expect(cdnTarget({ NIGHTSHIFT_DISTRIBUTION_ID: 'E2EXAMPLE' }, api)).toMatchObject({ distributionId: 'E2EXAMPLE', maxPaths: 1000 });
    expect(cdnTarget({ NIGHTSHIFT_DISTRIBUTION_ID: 'E2EXAMPLE', NIGHTSHIFT_MAX_INVALIDATION_PATHS: '250' }, api)).toMatchObject({ maxPaths: 250 });
  });

  it('refuses a cap that is not a whole number >= 1 in one line naming the variable', () => {
    expect(() => cdnTarget({ NIGHTSHIFT_DISTRIBUTION_ID: 'E2EXAMPLE', NIGHTSHIFT_MAX_INVALIDATION_PATHS: 'lots' }, api)).toThrow(/^NIGHTSHIFT_MAX_INVALIDATION_PATHS="lots": expected a whole number >= 1 \(delivery.maxInvalidationPaths\); deploy the stack again\.$/);
  });

  it('asks CloudFront once per run: CallerReference is the run id, Quantity the number of paths', () => {
    // CloudFront API reference, InvalidationBatch: the same CallerReference and paths create no second invalidation.
    expect(invalidationRequest('E2EXAMPLE', 'run-1', ['/thumb/a/*', '/large/a/*'])).toEqual({ DistributionId: 'E2EXAMPLE', InvalidationBatch: { CallerReference: 'run-1', Paths: { Quantity: 2, Items: ['/thumb/a/*', '/large/a/*'] } } });
  });
});

describe('putting the Run Completed event', () => {
  const entry = runCompletedEntry({ runId: 'run-1', status: 'SUCCEEDED', counts: { added: 1, updated: 0, removed: 0, failed: 0 } });

  it('returns the event ids of accepted entries', async () => {
    const accepting: PutEventsApi = { putEvents: (r) => Promise.resolve({ FailedEntryCount: 0, Entries: r.Entries.map(() => ({ EventId: 'id-1' })) }) };
    await expect(putEvents(accepting, [entry])).resolves.toEqual(['id-1']);
  });

  it('treats a 200 answer with failed entries as not put (EventBridge user guide, "Sending events with PutEvents", Handling failures)', async () => {
    const refusing: PutEventsApi = { putEvents: () => Promise.resolve({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' }] }) };
    await expect(putEvents(refusing, [entry])).rejects.toThrow(new EventNotPut('PutEvents failed 1 of 1 entries: NotAuthorizedForSourceException: Not authorized for the source.'));
  });
});
