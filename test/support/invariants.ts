/**
 * What must hold after any run, faults or not: originals byte-identical to before; every object
 * counted once per operation (processed + skipped + failed = work list) and the catalogue
 * accounting for the rest; every failure with a reason; no rendition without its source; no
 * duplicate key in any manifest or in the report; exactly one final email for the run.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { renditionSource, runKeys, stripExtension } from '../../core/keys';
import type { Report } from '../../core/report';
import type { Plan } from '../../core/plan';
import { getJson, getText, listPages } from '../../adapters/s3';

export interface InvariantContext {
  readonly s3: S3Client;
  readonly buckets: { corpus: string; renditions: string; work: string };
  readonly runId: string;
  /** Every original as it was before the run. */
  readonly originals: ReadonlyMap<string, Buffer>;
  /** The local run's outbox folder. */
  readonly outbox: string;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export async function expectRunInvariants(c: InvariantContext): Promise<void> {
  // Originals: same keys, same bytes.
  const corpusKeys: string[] = [];
  for await (const page of listPages(c.s3, { bucket: c.buckets.corpus })) corpusKeys.push(...page.objects.map((o) => o.Key!));
  expect(corpusKeys.sort()).toEqual([...c.originals.keys()].sort());
  for (const [key, body] of c.originals) {
    const got = await c.s3.send(new GetObjectCommand({ Bucket: c.buckets.corpus, Key: key }));
    expect({ key, sha256: sha256(await got.Body!.transformToByteArray()) }).toEqual({ key, sha256: sha256(body) });
  }

  const keys = runKeys(c.runId);
  const plan = await getJson<Plan>(c.s3, c.buckets.work, keys.plan);
  expect(plan.counts.selected + Object.values(plan.counts.skipped).reduce((a, b) => a + b, 0)).toBe(plan.counts.listed);
  const manifest: string[] = [];
  for (let i = 0; i < plan.shardCount; i++) manifest.push(...(await getText(c.s3, c.buckets.work, keys.shard(i))).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { key: string }).key));
  expect(manifest.length).toBe(plan.counts.work);
  expect(new Set(manifest).size).toBe(manifest.length);

  if (!plan.nothingToDo) {
    const report = await getJson<Report>(c.s3, c.buckets.work, keys.report);
    for (const op of plan.shardOperations) {
      const t = report.operations[op]!;
      expect({ op, accounted: t.processed + t.skipped + t.failed, items: t.items }).toEqual({ op, accounted: plan.counts.work, items: plan.counts.work });
    }
    for (const f of report.failures) expect({ key: f.key, code: f.code.length > 0, message: f.message.length > 0 }).toEqual({ key: f.key, code: true, message: true });
    const failureIds = report.failures.map((f) => `${f.operation} ${f.key}`);
    expect(new Set(failureIds).size).toBe(failureIds.length);
  }

  // No rendition whose source does not exist.
  const stems = new Set([...c.originals.keys()].map(stripExtension));
  const hasSource = (key: string) => {
    const source = renditionSource(key.slice(key.indexOf('/') + 1));
    return 'key' in source ? c.originals.has(source.key) : stems.has(source.stem);
  };
  for await (const page of listPages(c.s3, { bucket: c.buckets.renditions })) {
    for (const o of page.objects) expect({ rendition: o.Key, hasSource: hasSource(o.Key!) }).toEqual({ rendition: o.Key, hasSource: true });
  }

  // Exactly one final email for the run.
  expect(readdirSync(c.outbox).filter((f) => f.startsWith(c.runId))).toEqual([`${c.runId}.eml`]);
}
