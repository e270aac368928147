/**
 * The incremental model: what the promoted catalogue (state/catalog.jsonl) keeps per object, what a
 * run must do for an object given that state, and what the next catalogue says once it is done.
 *
 * A state line is the object's listing record followed by what was done for that version:
 * `{"key":…,"size":…,"etag":…,"lastModified":…,"storageClass":…,"done":{"backup":true,"renditions":{"thumb":"1f0c9a2b"}}}`.
 * - `done.backup`: the backup holds this version.
 * - `done.renditions`: each preset rendered from this version, with the digest of the recipes it
 *   was rendered with (core/recipe.ts). A preset whose digest differs, or that is missing, is work.
 * - `done.record`: its image record (core/records/record.ts) was written for this version; an
 *   image without it gets one, by backfill when its renditions are current (record only, no render).
 * - `collidesWith`: another image held this one's rendition keys when it came: its renditions are
 *   under disambiguated keys (core/keys.ts renditionKey), and stay there for as long as it exists.
 * - `deleted`: a tombstone. The original is gone and its renditions are still to be pruned;
 *   `pruning` marks a tombstone the run that wrote it prunes, so promotion drops it unless that failed.
 * Only done work is promoted: aggregate takes back the state of what failed (promotedLine).
 */
import type { CatalogRecord, WorkItem } from './catalog';
import type { Operation } from './input';
import { compareKeys, stripExtension } from './keys';

export interface ObjectState {
  readonly backup?: true;
  readonly renditions?: Readonly<Record<string, string>>;
  readonly record?: true;
}

export interface StateRecord extends CatalogRecord {
  readonly done?: ObjectState;
  readonly collidesWith?: string;
  readonly deleted?: true;
  readonly pruning?: true;
}

/** The run's choices that decide an object's work (a RunInput, with the configured presets' digests). */
export interface RunChoices {
  readonly operations: readonly Operation[];
  /** The presets this run renders. */
  readonly presets: readonly string[];
  /** Every object is work, whatever the catalogue says; the jobs still skip outputs that are current. */
  readonly full: boolean;
  /** With `full`: rewrite outputs even when they are current. */
  readonly force: boolean;
  /** Each configured preset's recipe digest. */
  readonly digests: Readonly<Record<string, string>>;
  /**
   * The digest renditions made before the rendering policies carry, for each preset where it
   * differs from today's, and whether they are current (core/recipe.ts legacyDigests).
   */
  readonly legacy?: Readonly<Record<string, LegacyDigest>>;
  /** Every configured preset (not only the run's): a preset an image has renditions of and that is not here was removed. */
  readonly configured?: readonly string[];
  /** Removed presets whose renditions are to be deleted (renditions.removePresets); other removed presets' renditions are held. */
  readonly removePresets?: readonly string[];
  /** The jobs keep image records (a table is configured): an image without one is work. */
  readonly records?: boolean;
}

export interface LegacyDigest {
  readonly digest: string;
  /** Kept current: no `full` run, renditions.adoptPolicies off, the preset's policies at their defaults. */
  readonly current: boolean;
}

/** Why an object is work, for the plan's explanations (core/explain.ts): computed with its plan, once. */
export interface DueWhy {
  /** Presets due because their rendition carries another recipe (a changed preset or policy); `legacy` those made before the policies. */
  readonly recipe: readonly string[];
  readonly legacy: readonly string[];
  /** Presets due with no rendition recorded for this version (a new preset, or work an earlier run left undone). */
  readonly missing: readonly string[];
  /** The backup is due for an unchanged version (left undone by an earlier run). */
  readonly backupMissing: boolean;
  /** Presets whose renditions made before the policies are kept current (what adopting them would re-render). */
  readonly legacyKept: readonly string[];
}

/**
 * How an object stands towards its rendition keys, decided across the images that share them: it
 * owns `<preset>/<stem>.*`, or it came when another image held them (`collision`, whose renditions
 * go under disambiguated keys), or it is too large to render at all.
 */
export type Ownership = { readonly role: 'owner' } | { readonly role: 'collision'; readonly owner: string } | { readonly role: 'too-large'; readonly message: string };

export interface ObjectPlan {
  /** The work item, when there is work for this object. */
  readonly work?: WorkItem;
  /** The object's line in the run's catalogue: its state once the run's work for it is done. */
  readonly next: StateRecord;
  /** Why it is work, or what it keeps (legacy renditions, held removed presets); absent when neither. */
  readonly why?: DueWhy;
  /** Removed presets this object holds renditions of, not confirmed for removal: kept, and counted. */
  readonly held?: readonly string[];
}

/**
 * What a run does for one listed object, and the state it records if that succeeds. `previous` is
 * last night's state line for the key (undefined when new); its state counts only for the same
 * version. A catalogue promoted before per-object state existed has records without `done`: those
 * were promoted only when fully done, so they are taken as done with today's recipes.
 */
export function planObject(record: CatalogRecord, previous: StateRecord | undefined, ownership: Ownership, run: RunChoices): ObjectPlan {
  const sameVersion = previous !== undefined && !previous.deleted && previous.etag === record.etag && previous.size === record.size;
  const legacy = sameVersion && previous.done === undefined && previous.collidesWith === undefined;
  const had: ObjectState = !sameVersion ? {} : legacy ? { backup: true, renditions: { ...run.digests, ...currentLegacy(run) } } : (previous.done ?? {});
  const change: WorkItem['change'] = previous === undefined || previous.deleted ? 'new' : sameVersion ? 'unchanged' : 'changed';
  const removal = removedPresets(previous, run);

  const backingUp = run.operations.includes('backup');
  const rendering = run.operations.includes('resize');
  const backup = backingUp && (run.full || had.backup !== true);
  const collidesWith = ownership.role === 'collision' ? ownership.owner : undefined;
  // Renditions made under the other kind of key (an owner that lost its stem) are not this image's now.
  const moved = sameVersion && (previous.collidesWith !== undefined) !== (collidesWith !== undefined);
  const rendered = moved ? undefined : had.renditions;
  const hadNow: ObjectState = moved ? { ...had, renditions: undefined } : had;
  let presets: string[] = [];
  let resizeSkip: WorkItem['resizeSkip'];
  let renditions: Record<string, string> = { ...rendered };
  if (ownership.role !== 'too-large') {
    if (rendering) {
      presets = run.presets.filter((p) => run.full || !isCurrent(hadNow, p, run));
      for (const p of presets) renditions[p] = run.digests[p]!;
    }
  } else {
    renditions = {};
    if (rendering && (run.full || !sameVersion || (run.records && !had.record))) resizeSkip = { code: 'too-large', message: ownership.message };
  }
  // A removed preset's renditions outlive a replaced version: they stay recorded until promotion sees them pruned (promotedLine).
  const pruning = rendering ? removal.confirmed : [];
  for (const p of [...removal.held, ...removal.confirmed]) renditions[p] = previous!.done!.renditions![p]!;
  // Renditions current, but no record yet (the first run with records): the record alone is due.
  const backfill = rendering && run.records === true && had.record !== true && ownership.role !== 'too-large' && presets.length === 0;
  // The marker says a record was written with this table: a run without one drops it, so the next run with a table backfills.
  const recorded = rendering ? run.records === true : had.record === true;

  // `done` is always written, `{}` when nothing is: a record without it comes from an earlier version (see above).
  const done: { backup?: true; renditions?: Record<string, string>; record?: true } = {};
  if (had.backup || backingUp) done.backup = true;
  if (Object.keys(renditions).length > 0) done.renditions = renditions;
  if (recorded) done.record = true;
  const next: StateRecord = { ...record, done, ...(collidesWith !== undefined ? { collidesWith } : {}) };
  const why = dueWhy(hadNow, change, presets, backup, ownership.role !== 'too-large' && rendering ? run : undefined);
  const notes = { ...(why ? { why } : {}), ...(removal.held.length > 0 ? { held: removal.held } : {}) };
  if (!backup && presets.length === 0 && !resizeSkip && pruning.length === 0 && !backfill) return { next, ...notes };
  const work: WorkItem = {
    ...record,
    change,
    backup,
    presets,
    ...(resizeSkip ? { resizeSkip } : {}),
    ...(pruning.length > 0 ? { prunePresets: pruning } : {}),
    ...(backfill ? { backfill } : {}),
    ...(collidesWith !== undefined ? { collidesWith } : {}),
  };
  return { work, next, ...notes };
}

/** A preset's renditions are current: rendered with today's recipe, or before the policies while those are kept (RunChoices.legacy). */
function isCurrent(had: ObjectState, preset: string, run: RunChoices): boolean {
  const digest = had.renditions?.[preset];
  return digest !== undefined && (digest === run.digests[preset] || (run.legacy?.[preset]?.current === true && digest === run.legacy[preset].digest));
}

const currentLegacy = (run: RunChoices) => Object.fromEntries(Object.entries(run.legacy ?? {}).flatMap(([p, l]) => (l.current ? [[p, l.digest]] : [])));

/** The removed presets (not configured) an image has renditions of, by whether their removal is confirmed. */
function removedPresets(previous: StateRecord | undefined, run: RunChoices): { held: string[]; confirmed: string[] } {
  if (!run.configured || !previous?.done?.renditions || previous.deleted) return { held: [], confirmed: [] };
  const removed = Object.keys(previous.done.renditions).filter((p) => !run.configured!.includes(p));
  const confirmed = removed.filter((p) => run.removePresets?.includes(p));
  return { held: removed.filter((p) => !confirmed.includes(p)), confirmed };
}

/** Why an unchanged image's presets and backup are due (a new or replaced one is due whole), and which legacy renditions it keeps. */
function dueWhy(had: ObjectState, change: WorkItem['change'], presets: readonly string[], backup: boolean, run: RunChoices | undefined): DueWhy | undefined {
  const legacyKept = run ? run.presets.filter((p) => !presets.includes(p) && run.legacy?.[p]?.current === true && had.renditions?.[p] === run.legacy[p].digest) : [];
  if (change !== 'unchanged' || run?.full) return legacyKept.length > 0 ? { recipe: [], legacy: [], missing: [], backupMissing: false, legacyKept } : undefined;
  const recorded = presets.filter((p) => had.renditions?.[p] !== undefined);
  const why: DueWhy = {
    recipe: recorded,
    legacy: recorded.filter((p) => had.renditions![p] === run!.legacy?.[p]?.digest),
    missing: presets.filter((p) => had.renditions?.[p] === undefined),
    backupMissing: backup && had.backup !== true,
    legacyKept,
  };
  return why.recipe.length + why.missing.length + why.legacyKept.length > 0 || why.backupMissing ? why : undefined;
}

/**
 * The renditions a deleted original leaves behind, to prune: every preset it was rendered with
 * (configured or since removed). None when it owned no renditions.
 */
export function prunablePresets(previous: StateRecord): string[] {
  return Object.keys(previous.done?.renditions ?? {});
}

/** A deleted original's work item: prune its renditions (resize; under disambiguated keys with `collidesWith`); its backup is kept. */
export function pruneItem(previous: StateRecord): WorkItem {
  const { done: _done, deleted: _deleted, pruning: _pruning, ...record } = previous;
  return { ...record, change: 'deleted', backup: false, presets: prunablePresets(previous) };
}

/** A deleted original's tombstone for the run's catalogue: kept until its renditions are pruned (it says where they are). */
export function tombstone(previous: StateRecord, pruning: boolean): StateRecord {
  const { pruning: _p, ...rest } = previous;
  return { ...rest, done: previous.done ?? {}, deleted: true, ...(pruning ? { pruning: true } : {}) };
}

/**
 * What a run left undone for one key: the operations whose failures are worth retrying or whose
 * skips are not done work, and `record` when only its record could not be made (a backfill).
 */
export type UndoneOps = ReadonlySet<'backup' | 'resize' | 'record'>;

/**
 * A run-catalogue line as promoted: the state of what the run did not finish (`undone`) is taken
 * back, so the next night does it again. A tombstone the run pruned is dropped; one it did not
 * prune (the prune failed, was held by the guard, or resize did not run) is kept for the next night.
 */
export function promotedLine(record: StateRecord, undone: UndoneOps | undefined, pruned: boolean, removed: RemovedPresets = NO_REMOVED): StateRecord | undefined {
  if (record.deleted) {
    if (record.pruning && pruned && !undone?.has('resize')) return undefined;
    const { pruning: _p, ...kept } = record;
    return kept;
  }
  const failed = undone?.has('resize') === true;
  if (!undone && !Object.keys(record.done?.renditions ?? {}).some((p) => removed.pruned.includes(p))) return record;
  const { done, ...rest } = record;
  const backup = undone?.has('backup') ? undefined : done?.backup;
  // A failed render's presets may be half written: forget them all (the job finds the current ones by their
  // recipes), but not a removed preset's: its renditions are still there, to hold or prune again.
  // A removed preset pruned without failure is forgotten.
  const renditions = Object.fromEntries(Object.entries(done?.renditions ?? {}).filter(([p]) => (failed ? removed.all.includes(p) : !removed.pruned.includes(p))));
  const recorded = failed || undone?.has('record') ? undefined : done?.record;
  return { ...rest, done: { ...(backup ? { backup } : {}), ...(Object.keys(renditions).length > 0 ? { renditions } : {}), ...(recorded ? { record: recorded } : {}) } };
}

/** The presets dropped from the configuration that a run met (plan.json `explain`), and those whose renditions it pruned (resize ran). */
export interface RemovedPresets {
  readonly all: readonly string[];
  readonly pruned: readonly string[];
}
const NO_REMOVED: RemovedPresets = { all: [], pruned: [] };

/**
 * The run's catalogue as promoted (promotedLine per record), joined in key order with what the run
 * left undone: both streams are key-sorted, so memory stays constant whatever either holds. An
 * undone key out of order, or one the catalogue lacks, would promote unfinished work as done:
 * both are errors, never skipped.
 */
export async function* promotedRecords(records: AsyncIterable<StateRecord>, undone: AsyncIterable<readonly [string, UndoneOps]>, pruned: boolean, removed?: RemovedPresets): AsyncGenerator<StateRecord> {
  const pending = undone[Symbol.asyncIterator]();
  let next = await pending.next();
  const advance = async (last: string) => {
    next = await pending.next();
    if (!next.done && compareKeys(last, next.value[0]) >= 0) throw new Error(`undone keys out of order: ${JSON.stringify(next.value[0])} after ${JSON.stringify(last)}`);
  };
  for await (const record of records) {
    if (!next.done && compareKeys(next.value[0], record.key) < 0) throw new Error(`undone key ${JSON.stringify(next.value[0])} is not in the run's catalogue (next record ${JSON.stringify(record.key)})`);
    let ops: UndoneOps | undefined;
    if (!next.done && next.value[0] === record.key) {
      ops = next.value[1];
      await advance(record.key);
    }
    const kept = promotedLine(record, ops, pruned, removed);
    if (kept) yield kept;
  }
  if (!next.done) throw new Error(`undone key ${JSON.stringify(next.value[0])} is not in the run's catalogue (after its last record)`);
}

/** One object in key order, as the ownership of rendition keys sees it. */
export interface StemMember {
  readonly key: string;
  /** Listed tonight, and small enough to render: it can own renditions. */
  readonly candidate: boolean;
  /** Owned its rendition keys last night (and still does: listed tonight, or a deleted original whose renditions are not pruned yet). */
  readonly holds: boolean;
}

/**
 * Who owns a rendition stem (`<preset>/a.*`, shared by `a.jpg`, `a.png`, …): the image that held it
 * last night keeps it, whatever the order of the keys in S3; when nobody held it, the first
 * candidate in key order takes it. A deleted owner holds its stem until its renditions are pruned,
 * so a newcomer never renders into keys the prune is about to delete.
 *
 * Keys sharing a stem are `stem.<ext>` (and `stem` itself), all between `stem` and the end of the
 * `stem.` range, but not contiguous (`a.b.jpg` sorts between `a.jpg`'s neighbours). Members are
 * held until every stem they wait on is past, then released in the order they came: typically one
 * at a time. Beyond `maxPending` held members (a pathological key layout), the oldest are decided
 * with what is known so far, first in key order, and `onOverflow` is told.
 */
export class StemOwnership<T> {
  /** Items not yet released, from `head` on; `owner` is null while undecided. */
  private pending: { item: T; member?: StemMember; stem?: string; owner?: string | null }[] = [];
  private head = 0;
  private readonly groups = new Map<string, StemMember[]>();
  /** Stems decided early (overflow) whose range is not past yet: later members lose to the owner chosen then. */
  private readonly early = new Map<string, string>();

  constructor(
    private readonly maxPending = 100_000,
    private readonly onOverflow?: (key: string) => void,
  ) {}

  /** Adds the next item in key order (`member` undefined when it takes no part); returns the items whose ownership is now decided. */
  push(item: T, member: StemMember | undefined): { item: T; owner?: string }[] {
    if (member) this.closeBefore(member.key);
    const stem = member && (member.candidate || member.holds) ? stripExtension(member.key) : undefined;
    const decided = stem === undefined ? undefined : this.early.get(stem);
    if (decided !== undefined) {
      this.pending.push({ item, member: member!, owner: decided });
      return this.release();
    }
    if (stem !== undefined) {
      const group = this.groups.get(stem);
      if (group) group.push(member!);
      else this.groups.set(stem, [member!]);
    }
    this.pending.push({ item, ...(member ? { member } : {}), ...(stem !== undefined ? { stem } : {}), owner: stem === undefined ? undefined : null });
    if (this.pending.length - this.head > this.maxPending) {
      const oldest = this.pending[this.head]!;
      if (oldest.stem !== undefined && oldest.owner === null) {
        this.onOverflow?.(oldest.member!.key);
        this.early.set(oldest.stem, this.resolve(oldest.stem)!);
      }
    }
    return this.release();
  }

  /** Decides every remaining stem (end of input). */
  flush(): { item: T; owner?: string }[] {
    for (const stem of [...this.groups.keys()]) this.resolve(stem);
    return this.release();
  }

  /** Resolves the stems whose key range `key` is past. */
  private closeBefore(key: string): void {
    const past = (stem: string) => key !== stem && !key.startsWith(`${stem}.`) && compareKeys(key, `${stem}.`) > 0;
    for (const stem of this.groups.keys()) if (past(stem)) this.resolve(stem);
    for (const stem of this.early.keys()) if (past(stem)) this.early.delete(stem);
  }

  /** Decides a stem's owner; returns its key. */
  private resolve(stem: string): string | undefined {
    const members = this.groups.get(stem);
    if (!members) return undefined;
    this.groups.delete(stem);
    const holder = members.find((m) => m.holds) ?? members.find((m) => m.candidate);
    for (let i = this.head; i < this.pending.length; i++) {
      const p = this.pending[i]!;
      if (p.stem === stem && p.owner === null) p.owner = p.member!.key === holder!.key ? undefined : holder!.key;
    }
    return holder!.key;
  }

  private release(): { item: T; owner?: string }[] {
    const out: { item: T; owner?: string }[] = [];
    while (this.head < this.pending.length && this.pending[this.head]!.owner !== null) {
      const p = this.pending[this.head++]!;
      out.push(p.owner === undefined ? { item: p.item } : { item: p.item, owner: p.owner as string });
    }
    if (this.head === this.pending.length) this.pending = [];
    else if (this.head < 1024) return out;
    else this.pending = this.pending.slice(this.head);
    this.head = 0;
    return out;
  }
}

/** What a run does with the renditions of deleted originals (the plan's `prune`). */
export interface PruneDecision {
  readonly enabled: boolean;
  /** Deleted originals whose renditions this run prunes. */
  readonly originals: number;
  /** Deleted originals whose prune the guard holds. */
  readonly held: number;
  /** The candidates' share of the catalogue, and the configured limit. */
  readonly share: number;
  readonly maxShare: number;
}

/**
 * The prune guard (rclone's --max-delete): a night that would prune the renditions of more than
 * renditions.maxPruneShare of the catalogue prunes nothing unless the input confirms it.
 * Tombstones stay in the catalogue until their prune is done, so a held prune waits, never lost;
 * a run without resize prunes nothing.
 */
export function pruneDecision(o: { candidates: number; catalogued: number; maxShare: number; confirmed: boolean; resize: boolean; enabled: boolean }): PruneDecision {
  const share = o.catalogued > 0 ? o.candidates / o.catalogued : 0;
  const held = o.candidates > 0 && share > o.maxShare && !o.confirmed;
  const pruning = o.candidates > 0 && !held && o.resize;
  return { enabled: o.enabled, originals: pruning ? o.candidates : 0, held: held ? o.candidates : 0, share, maxShare: o.maxShare };
}
