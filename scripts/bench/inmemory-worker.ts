/**
 * Benchmark worker: nightshift's resize kernel (adapters/image/render.ts) on images already in memory,
 * with the job's concurrency and options: the ceiling for the resize job, which adds S3 transfers.
 * Writes {ms, cpuMs, images, outputs, outputBytes} as JSON to the result file; the timed part is
 * the rendering only (files are read first).
 *
 *   tsx scripts/bench/inmemory-worker.ts <corpusDir> <result.json>
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { parsePipelineConfig } from '../../core/config';
import { render, renderOptionsOf } from '../../adapters/image/render';

async function main(): Promise<void> {
  const [dir, resultPath] = process.argv.slice(2);
  if (!dir || !resultPath) throw new Error('usage: inmemory-worker <corpusDir> <result.json>');
  const config = parsePipelineConfig(JSON.parse(process.env.NIGHTSHIFT_CONFIG ?? '{}'));
  const options = renderOptionsOf(config);
  const images = readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .sort()
    .map((name) => readFileSync(join(dir, name)));
  const limit = pLimit(config.resize.concurrency);
  let outputs = 0;
  let outputBytes = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await Promise.all(
    images.map((image) =>
      limit(async () => {
        const { renditions } = await render(image, config.presets, options);
        outputs += renditions.length;
        for (const r of renditions) outputBytes += r.data.length;
      }),
    ),
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const used = process.cpuUsage(cpu);
  writeFileSync(resultPath, JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000, images: images.length, outputs, outputBytes }));
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exitCode = 1;
});
