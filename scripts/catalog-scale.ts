/**
 * Sorts and diffs two synthetic catalogues of N records (default 1,000,000) with the catalog job's
 * line sort and merge join, and prints one line of JSON with the counts, the time and the
 * process's peak RSS. Used by the scale test.
 *
 *   tsx scripts/catalog-scale.ts [N] [memoryMB]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatalogLineSorter } from '../core/linesort';
import { diffLines } from '../core/line-diff';
import { syntheticRecord, tonight } from './lib/synthetic';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1_000_000);
  const memoryBytes = Number(process.argv[3] ?? 64) * 1024 * 1024;
  const dir = mkdtempSync(join(tmpdir(), 'nightshift-scale-'));
  const started = Date.now();
  try {
    // Last night's catalogue, sorted once (as state/catalog.jsonl would be) and streamed.
    const previous = new CatalogLineSorter({ memoryBytes, tmpDir: dir });
    for (let i = 0; i < n; i++) previous.add(JSON.stringify(syntheticRecord(i)));
    const current = new CatalogLineSorter({ memoryBytes, tmpDir: dir });
    for (const r of tonight(n)) current.add(JSON.stringify(r));
    const counts = { new: 0, changed: 0, unchanged: 0, deleted: 0 };
    for (const e of diffLines(current.sorted(), previous.sorted())) counts[e.kind]++;
    process.stdout.write(
      `${JSON.stringify({ records: n, ...counts, spilledRuns: current.stats.spilledRuns + previous.stats.spilledRuns, ms: Date.now() - started, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exitCode = 1;
});
