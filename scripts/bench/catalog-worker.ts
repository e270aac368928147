/**
 * Benchmark worker: sorts an unsorted catalogue (JSON Lines) with the catalog job's external sort
 * (bounded memory, spills to disk) and diffs it against last night's sorted catalogue with the
 * merge join, as the catalog job does after listing. Prints one JSON line with the counts and the
 * time from the first byte read to the last diff entry (process start-up excluded).
 *
 *   tsx scripts/bench/catalog-worker.ts <tonight.jsonl> <previous-sorted.jsonl> <memoryMB> <tmpDir> [result.json]
 */
import { writeFileSync } from 'node:fs';
import { CatalogLineReader } from '../../core/line-files';
import { CatalogLineSorter } from '../../core/linesort';
import { diffLines } from '../../core/line-diff';

function main(): void {
  const [tonight, previous, memoryMb, tmpDir, resultPath] = process.argv.slice(2);
  if (!tonight || !previous || !memoryMb || !tmpDir) throw new Error('usage: catalog-worker <tonight.jsonl> <previous-sorted.jsonl> <memoryMB> <tmpDir> [result.json]');
  const started = process.hrtime.bigint();
  const sorter = new CatalogLineSorter({ memoryBytes: Number(memoryMb) * 1024 * 1024, tmpDir });
  for (const line of new CatalogLineReader(tonight)) sorter.add(line);
  const counts = { new: 0, changed: 0, unchanged: 0, deleted: 0 };
  let repeated = 0;
  // As the catalog job composes them (jobs/src/catalog.ts).
  for (const entry of diffLines(sorter.sorted(), new CatalogLineReader(previous), () => repeated++)) counts[entry.kind]++;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const result = JSON.stringify({ ms, records: sorter.stats.records, spilledRuns: sorter.stats.spilledRuns, repeated, ...counts });
  if (resultPath) writeFileSync(resultPath, result);
  else process.stdout.write(`${result}\n`);
}

main();
