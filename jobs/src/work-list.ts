/**
 * The plan's third step: each object's work decided from its state (core/state.ts planObject), in
 * key order, and written down: the run's catalogue (catalog.jsonl, the state the next night diffs
 * against), the work list, the prune list and the originals deleted since the last run. Ownership
 * of rendition keys is decided across the images that share them (core/state.ts StemOwnership),
 * so a few entries may wait before they are written.
 */
import { join } from 'node:path';
import { type CatalogRecord, resizeSkipFor, workBytes } from '../../core/catalog';
import type { PipelineConfig } from '../../core/config';
import type { RunInput } from '../../core/input';
import { JsonLinesWriter } from '../../core/jsonl';
import { lineRecord } from '../../core/catalog-line';
import { CatalogLineWriter } from '../../core/line-files';
import { type LineDiffEntry } from '../../core/line-diff';
import { legacyDigests, presetDigests } from '../../core/recipe';
import { DueTally, type PresetsState } from '../../core/explain';
import { DELETED_SAMPLE, type PlanCounts } from '../../core/plan';
import { type Ownership, planObject, pruneItem, prunablePresets, type RunChoices, type StateRecord, StemOwnership, tombstone } from '../../core/state';
import type { Logger } from '../../adapters/log';

type Entry =
  | { readonly record: CatalogRecord; readonly kind: 'new' | 'changed' | 'unchanged'; readonly previous?: StateRecord; readonly tooLarge?: { code: string; message: string }; readonly keeps?: string }
  | { readonly kind: 'deleted'; readonly previous: StateRecord };

/** Keys that may wait at once for their rendition stems' owner to be decided. */
const OWNERSHIP_WINDOW = 100_000;

export class WorkListWriter {
  readonly catalogFile: CatalogLineWriter;
  readonly workFile: JsonLinesWriter;
  readonly pruneFile: JsonLinesWriter;
  /** Originals deleted since the last run, named once: a tombstone kept for a later prune is not new. */
  readonly deletedFile: JsonLinesWriter;
  readonly deletedSample: string[] = [];
  /** Deleted originals whose renditions may be pruned (before the prune guard). */
  pruneCandidates = 0;
  /** What the work list asks of each job, for the cost estimate. */
  readonly due = { backups: 0, images: 0, renditions: 0 };
  /** Why the work is due, and what is held (core/explain.ts). */
  readonly reasons: DueTally;
  private readonly run: RunChoices;
  private readonly formatsOf: Map<string, number>;
  private readonly owners: StemOwnership<Entry>;

  constructor(
    dir: string,
    private readonly config: PipelineConfig,
    input: RunInput,
    private readonly counts: PlanCounts,
    private readonly bytes: { selected: number; work: number },
    log: Logger,
    previousPresets?: PresetsState,
    /** The jobs keep image records: images without one get backfill work. */
    keepsRecords = false,
  ) {
    this.catalogFile = new CatalogLineWriter(join(dir, 'catalog.jsonl'));
    this.workFile = new JsonLinesWriter(join(dir, 'work.jsonl'));
    this.pruneFile = new JsonLinesWriter(join(dir, 'prune.jsonl'));
    this.deletedFile = new JsonLinesWriter(join(dir, 'deleted.jsonl'));
    this.run = {
      operations: input.operations,
      presets: input.presets,
      full: input.full,
      force: input.force,
      digests: presetDigests(config),
      legacy: legacyDigests(config, input.full),
      configured: config.presets.map((p) => p.name),
      removePresets: config.renditions.removePresets,
      records: keepsRecords,
    };
    this.formatsOf = new Map(config.presets.map((p) => [p.name, p.formats.length]));
    this.reasons = new DueTally(this.formatsOf, previousPresets && new Set(previousPresets.presets.map((p) => p.name)));
    this.owners = new StemOwnership<Entry>(OWNERSHIP_WINDOW, (key) => log.warn('too many keys share rendition stems at once: deciding ownership by key order', { key }));
  }

  /** One entry of the diff of tonight's listing against the last catalogue, in key order. */
  async add(entry: LineDiffEntry): Promise<void> {
    if (entry.kind === 'deleted') {
      const previous = lineRecord<StateRecord>(entry.previous);
      if (!previous.deleted) {
        this.counts.deleted++;
        if (this.deletedSample.length < DELETED_SAMPLE) this.deletedSample.push(previous.key);
        await this.deletedFile.write({ key: previous.key, size: previous.size, etag: previous.etag });
      }
      // A deleted original that owned renditions holds their keys until they are pruned (disambiguated ones hold none).
      if (this.config.renditions.pruneDeleted && prunablePresets(previous).length > 0) await this.decide(this.owners.push({ kind: 'deleted', previous }, { key: previous.key, candidate: false, holds: previous.collidesWith === undefined }));
      return;
    }
    const record = lineRecord(entry.line);
    const previous = entry.kind === 'new' ? undefined : lineRecord<StateRecord>(entry.previous);
    const kind = !previous || previous.deleted ? 'new' : entry.kind;
    // An original too large to render owns no rendition keys.
    const tooLarge = resizeSkipFor(record, this.config.filter);
    const current = !tooLarge && previous !== undefined && !previous.deleted;
    // An image under disambiguated keys keeps them (stable keys, even once the stem's owner is gone): it takes no part in the stem's ownership.
    const keeps = current ? previous.collidesWith : undefined;
    const holds = current && keeps === undefined;
    await this.decide(this.owners.push({ record, kind, ...(previous ? { previous } : {}), ...(tooLarge ? { tooLarge } : {}), ...(keeps !== undefined ? { keeps } : {}) }, { key: record.key, candidate: !tooLarge && keeps === undefined, holds }));
  }

  /** Decides the entries still waiting, and closes the files. */
  async close(): Promise<void> {
    await this.decide(this.owners.flush());
    this.catalogFile.close();
    await this.workFile.close();
    await this.pruneFile.close();
    await this.deletedFile.close();
  }

  private async decide(decided: { item: Entry; owner?: string }[]): Promise<void> {
    for (const { item: entry, owner } of decided) {
      if (entry.kind === 'deleted') {
        this.catalogFile.writeText(JSON.stringify(tombstone(entry.previous, true)));
        await this.pruneFile.write(pruneItem(entry.previous));
        this.pruneCandidates++;
        continue;
      }
      const { record, tooLarge } = entry;
      this.counts[entry.kind]++;
      this.counts.selected++;
      this.bytes.selected += record.size;
      const keeper = owner ?? entry.keeps;
      const ownership: Ownership = tooLarge ? { role: 'too-large', message: tooLarge.message } : keeper !== undefined ? { role: 'collision', owner: keeper } : { role: 'owner' };
      const { work, next, why, held } = planObject(record, entry.previous, ownership, this.run);
      this.catalogFile.writeText(JSON.stringify(next));
      this.reasons.add(why, held, work?.prunePresets);
      if (!work) continue;
      if (work.backup) this.due.backups++;
      if (work.presets.length > 0) {
        this.due.images++;
        for (const p of work.presets) this.due.renditions += this.formatsOf.get(p) ?? 0;
      }
      await this.workFile.write(work);
      this.counts.work++;
      if (work.backfill) this.counts.backfill = (this.counts.backfill ?? 0) + 1;
      this.bytes.work += workBytes(work);
    }
  }
}
