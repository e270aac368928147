/**
 * Progress of a local run, per stage: shards done, images done, failures, rate and ETA. On a
 * terminal one line is redrawn in place; elsewhere (CI, pipes) a line is printed per finished shard.
 */
import { duration, n, plural } from '../core/format';
import type { JobName } from '../core/jobs';
import type { ChildProgress } from './batch';

interface Stage {
  readonly job: JobName;
  readonly shards: number;
  readonly items: number;
  readonly started: number;
  readonly children: Map<number, { done: number; failed: number; finished: boolean }>;
}

export class ProgressDisplay {
  private readonly stages = new Map<JobName, Stage>();
  private lastDraw = 0;

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
  ) {}

  start(job: JobName, shards: number, items: number): void {
    this.stages.set(job, { job, shards, items, started: Date.now(), children: new Map() });
    if (!this.tty) this.write(`${label(job)} started${shards ? `: ${n(shards)} shard(s), ${n(items)} object(s)` : ''}\n`);
  }

  update(p: ChildProgress): void {
    const stage = this.stages.get(p.job);
    if (!stage) return;
    stage.children.set(p.index, { done: p.done, failed: p.failed, finished: p.finished });
    if (this.tty) {
      if (Date.now() - this.lastDraw > 200 || p.finished) this.draw(stage);
    } else if (p.finished) this.write(`${this.line(stage)}\n`);
  }

  finish(job: JobName, ok: boolean): void {
    const stage = this.stages.get(job);
    if (!stage) return;
    if (this.tty) this.write(`\r\x1b[2K${this.line(stage)}${ok ? '' : '  FAILED'}\n`);
    else this.write(`${label(job)} ${ok ? 'done' : 'FAILED'} in ${duration(Date.now() - stage.started)}\n`);
  }

  /** Objects each started job finished (as its children last reported), out of the objects it was given. */
  done(): Partial<Record<JobName, { done: number; items: number }>> {
    return Object.fromEntries([...this.stages.values()].map((stage) => {
      const done = [...stage.children.values()].reduce((a, c) => a + c.done, 0);
      return [stage.job, { done, items: Math.max(stage.items, done) }];
    }));
  }

  private draw(stage: Stage): void {
    this.lastDraw = Date.now();
    this.write(`\r\x1b[2K${this.line(stage)}`);
  }

  private line(stage: Stage): string {
    const children = [...stage.children.values()];
    const done = children.reduce((a, c) => a + c.done, 0);
    const failed = children.reduce((a, c) => a + c.failed, 0);
    const shardsDone = children.filter((c) => c.finished).length;
    const elapsed = (Date.now() - stage.started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const total = Math.max(stage.items, done);
    const width = 24;
    const filled = total > 0 ? Math.round((done / total) * width) : stage.shards && shardsDone === stage.shards ? width : 0;
    const eta = rate > 0 && total > done ? `  ETA ${duration(((total - done) / rate) * 1000)}` : '';
    return `${label(stage.job)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${stage.shards ? `${shardsDone}/${stage.shards} shards  ` : ''}${n(done)}/${n(total)} ${plural(total, 'object')}  ${n(failed)} failed  ${rate.toFixed(1)}/s${eta}`;
  }
}

function label(job: JobName): string {
  return { catalog: 'plan   ', backup: 'backup ', resize: 'resize ' }[job];
}
