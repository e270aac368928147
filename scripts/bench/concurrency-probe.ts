/**
 * How the resize kernel's throughput depends on images in flight (p-limit) and libvips threads per
 * image (sharp.concurrency), on the first 16 images of the bench corpus (run `npm run bench` once
 * to generate it). Prints one line per run; the README's "Concurrency" figures come from
 *
 *   for pc in "2 1" "3 1" "4 1" "2 2" "3 2" "4 2" "6 1"; do
 *     MALLOC_ARENA_MAX=2 tsx scripts/bench/concurrency-probe.ts $pc; done
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { parsePipelineConfig } from '../../core/config';
import { render, renderOptionsOf } from '../../adapters/image/render';

async function main(): Promise<void> {
  const [inFlight, threads] = process.argv.slice(2).map(Number);
  if (!inFlight || !threads) throw new Error('usage: concurrency-probe <images in flight> <libvips threads per image>');
  const dir = join(__dirname, '..', '..', '.nightshift', 'bench', 'corpus-v1-30');
  if (!existsSync(dir)) throw new Error(`${dir} is missing: run \`npm run bench -- --quick\` once to generate it`);
  const images = readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .sort()
    .slice(0, 16)
    .map((n) => readFileSync(join(dir, n)));
  const config = parsePipelineConfig({ buckets: { corpus: 'corpus', renditions: 'renditions', backup: 'backup', work: 'work' } });
  const options = renderOptionsOf(config);
  sharp.concurrency(threads);
  const limit = pLimit(inFlight);
  const started = Date.now();
  const cpu = process.cpuUsage();
  await Promise.all(images.map((image) => limit(() => render(image, config.presets, options))));
  const used = process.cpuUsage(cpu);
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(
    `in flight ${inFlight}, libvips threads ${threads}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 4}: ${(images.length / seconds).toFixed(2)} images/s, ${((used.user + used.system) / 1000 / images.length).toFixed(0)} CPU-ms/image, peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
});
