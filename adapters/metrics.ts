/** Writes embedded-metric-format lines (core/metrics.ts) to stdout, where CloudWatch Logs reads them. */
import { metricsLine, type MetricUnit } from '../core/metrics';

/** Writes the metrics line to stdout, unless NIGHTSHIFT_METRICS=off (tests, local runs that print their own figures). */
export function emitMetrics(values: Record<string, { value: number; unit: MetricUnit }>, properties: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env, dimensions: readonly string[] = []): void {
  if (env.NIGHTSHIFT_METRICS === 'off') return;
  process.stdout.write(metricsLine(values, properties, Date.now(), dimensions));
}
