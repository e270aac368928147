/**
 * CloudWatch metrics in embedded metric format: one JSON log line that CloudWatch Logs turns into
 * metrics, with no API call and no extra permission (adapters/metrics.ts writes it). Namespace `Nightshift`. The run's totals
 * (from aggregate) have no dimensions, so the dashboard sums and graphs them per run; the jobs'
 * per-shard figures have one, `Operation` (backup or resize).
 */
export const METRICS_NAMESPACE = 'Nightshift';

export type MetricUnit = 'Count' | 'Bytes' | 'Seconds' | 'Milliseconds';

export function metricsLine(values: Record<string, { value: number; unit: MetricUnit }>, properties: Record<string, unknown> = {}, now = Date.now(), dimensions: readonly string[] = []): string {
  const names = Object.keys(values);
  const missing = dimensions.filter((d) => typeof properties[d] !== 'string');
  if (missing.length > 0) throw new Error(`metric dimensions ${missing.join(', ')} need a string value among the properties`);
  return `${JSON.stringify({
    _aws: { Timestamp: now, CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [[...dimensions]], Metrics: names.map((name) => ({ Name: name, Unit: values[name]!.unit })) }] },
    ...properties,
    ...Object.fromEntries(names.map((name) => [name, values[name]!.value])),
  })}\n`;
}
