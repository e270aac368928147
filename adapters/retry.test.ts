import { StandardRetryStrategy } from '@smithy/core/retry';
import type { RetryErrorInfo } from '@smithy/types';
import { NoQuotaAdaptiveRetryStrategy } from './retry';

const throttled: RetryErrorInfo = { errorType: 'TRANSIENT' };

async function retriesGranted(strategy: { acquireInitialRetryToken(s: string): Promise<unknown>; refreshRetryTokenForRetry(t: never, e: RetryErrorInfo): Promise<unknown> }, requests: number): Promise<number> {
  let granted = 0;
  for (let i = 0; i < requests; i++) {
    const token = await strategy.acquireInitialRetryToken('s3');
    try {
      await strategy.refreshRetryTokenForRetry(token as never, throttled);
      granted++;
    } catch {
      // refused
    }
  }
  return granted;
}

describe('S3 retry strategy', () => {
  it('keeps retrying under sustained errors, where the SDK default runs out of retry quota', async () => {
    expect(await retriesGranted(new StandardRetryStrategy(8), 200)).toBeLessThan(200); // the quota (500 tokens, 10 a connection error) runs dry
    expect(await retriesGranted(new NoQuotaAdaptiveRetryStrategy(8), 200)).toBe(200);
  });

  it('still stops at maxAttempts, never retries a client error, and backs off', async () => {
    const strategy = new NoQuotaAdaptiveRetryStrategy(3);
    let token = await strategy.acquireInitialRetryToken();
    token = await strategy.refreshRetryTokenForRetry(token, throttled);
    token = await strategy.refreshRetryTokenForRetry(token, throttled);
    expect(token.getRetryCount()).toBe(2);
    expect(token.getRetryDelay()).toBeLessThanOrEqual(200);
    await expect(strategy.refreshRetryTokenForRetry(token, throttled)).rejects.toThrow('No retry token available');
    await expect(strategy.refreshRetryTokenForRetry(await strategy.acquireInitialRetryToken(), { errorType: 'CLIENT_ERROR' })).rejects.toThrow();
  });
});
