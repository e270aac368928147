/** Small shared fixtures for unit tests. */
import type { Plan } from '../../core/plan';
import { ValidationError } from '../../core/validation';

/** A plan for a full nightly run over two shards; override what a test is about. */
export function samplePlan(overrides: Partial<Plan> = {}): Plan {
  return {
    runId: 'r1',
    createdAt: '2026-11-22T02:00:05.000Z',
    prefix: '',
    dryRun: false,
    full: false,
    operations: ['backup', 'resize'],
    shardOperations: ['backup', 'resize'],
    arrayJobs: { backup: true, resize: true },
    presets: ['thumb'],
    shardCount: 2,
    counts: { listed: 7, selected: 5, new: 4, changed: 1, unchanged: 0, deleted: 0, work: 5, skipped: { 'not-an-image': 2 } },
    bytes: { listed: 700, selected: 500, work: 500 },
    previousCatalogRecords: 0,
    nothingToDo: false,
    timeouts: { backup: 7200 * 3 + 3600, resize: 14400 * 3 + 3600 },
    estimate: {
      arrayJobs: {},
      expectedSeconds: 60,
      executionTimeoutSeconds: 86_400,
      fits: true,
      cost: { computeUsd: 0.0321, requestsUsd: 0.1042, totalUsd: 0.1363, requests: { list: 13, copy: 12_408, put: 24_816, get: 12_408, head: 49_632 }, basis: 'Fargate Spot x86_64 and S3 requests, us-east-1' },
    },
    ...overrides,
  };
}

/** Runs `fn` and returns the ValidationError it throws; fails the test if it throws nothing or something else. */
export function validationErrorOf(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}
