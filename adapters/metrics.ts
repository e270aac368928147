/**
 * CloudWatch metrics in embedded metric format: one JSON log line that CloudWatch Logs turns into
 * metrics, with no API call and no extra permission. Namespace `Nightshift`, no dimensions, so
 * the dashboard sums and graphs them per run.
 */
export const METRICS_NAMESPACE = 'Nightshift';

export type MetricUnit = 'Count' | 'Bytes' | 'Seconds' | 'Milliseconds';

export function metricsLine(values: Record<string, { value: number; unit: MetricUnit }>, properties: Record<string, unknown> = {}, now = Date.now()): string {
  const names = Object.keys(values);
  return `${JSON.stringify({
    _aws: { Timestamp: now, CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [[]], Metrics: names.map((name) => ({ Name: name, Unit: values[name]!.unit })) }] },
    ...properties,
    ...Object.fromEntries(names.map((name) => [name, values[name]!.value])),
  })}\n`;
}

/** Writes the metrics line to stdout, unless NIGHTSHIFT_METRICS=off (tests, local runs that print their own figures). */
export function emitMetrics(values: Record<string, { value: number; unit: MetricUnit }>, properties: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env): void {
  if (env.NIGHTSHIFT_METRICS === 'off') return;
  process.stdout.write(metricsLine(values, properties));
}
