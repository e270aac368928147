/**
 * The upload lane's queue on this machine: what SQS and the Lambda event source do in AWS
 * (infra/upload-lane.ts), small. S3 event messages (local/s3-layer.ts) wait here; batches go to
 * the handler, `maxConcurrency` at once (the event source's maximum concurrency); the messages a
 * partial batch response names come back after a short visibility timeout with their receive
 * count raised (ApproximateReceiveCount), until `maxReceiveCount`, then to the dead-letter list.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { S3EventMessage } from '../core/s3-event';
import type { SqsEvent, UploadHandler } from '../functions/on-upload';

export interface LocalUploadQueueOptions {
  readonly batchSize?: number;
  readonly maxConcurrency?: number;
  readonly maxReceiveCount?: number;
  /** Milliseconds before a failed message is received again. */
  readonly visibilityMs?: number;
  /**
   * A JSON-lines file of what happens: `{"sent": <S3 event message>, "messageId"}`, then `{"done"|"retry"|"dead": messageId}`:
   * what an upload sent, and whether the lane is idle (every sent message done or dead), for people and tests.
   */
  readonly journal?: string;
}

type Message = { messageId: string; body: string; receives: number };

export class LocalUploadQueue {
  private readonly waiting: Message[] = [];
  private readonly deadLetters: Message[] = [];
  private running = 0;
  private delayed = 0;
  private idle: (() => void)[] = [];
  private handler: UploadHandler | undefined;
  private readonly batchSize: number;
  private readonly maxConcurrency: number;
  private readonly maxReceiveCount: number;
  private readonly visibilityMs: number;
  private readonly journal: string | undefined;

  constructor(options: LocalUploadQueueOptions = {}) {
    this.batchSize = options.batchSize ?? 10;
    this.maxConcurrency = options.maxConcurrency ?? 2;
    this.maxReceiveCount = options.maxReceiveCount ?? 5;
    this.visibilityMs = options.visibilityMs ?? 200;
    this.journal = options.journal;
  }

  private note(line: Record<string, unknown>): void {
    if (this.journal) appendFileSync(this.journal, `${JSON.stringify(line)}\n`);
  }

  /** SendMessage: an S3 event message, as S3 sends it to the queue. */
  send(message: S3EventMessage): void {
    const messageId = randomUUID();
    this.note({ sent: message, messageId });
    this.waiting.push({ messageId, body: JSON.stringify(message), receives: 0 });
    this.pump();
  }

  /** Starts delivering to `handler` (the event source mapping). */
  start(handler: UploadHandler): void {
    this.handler = handler;
    this.pump();
  }

  /** Messages that exhausted their receives (the DLQ). */
  dead(): readonly { messageId: string; body: string }[] {
    return this.deadLetters.map(({ messageId, body }) => ({ messageId, body }));
  }

  /** Resolves once nothing waits, runs or is delayed. */
  drained(): Promise<void> {
    if (this.quiet()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private quiet(): boolean {
    return this.waiting.length === 0 && this.running === 0 && this.delayed === 0;
  }

  private pump(): void {
    while (this.handler && this.running < this.maxConcurrency && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.batchSize);
      this.running++;
      void this.deliver(this.handler, batch).finally(() => {
        this.running--;
        this.pump();
        if (this.quiet()) for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  private async deliver(handler: UploadHandler, batch: Message[]): Promise<void> {
    for (const m of batch) m.receives++;
    const event: SqsEvent = { Records: batch.map((m) => ({ messageId: m.messageId, body: m.body, attributes: { ApproximateReceiveCount: String(m.receives) } })) };
    // A handler that throws fails the whole batch, as Lambda does.
    const failed = await handler(event).then(
      (r) => new Set(r.batchItemFailures.map((f) => f.itemIdentifier)),
      () => new Set(batch.map((m) => m.messageId)),
    );
    for (const m of batch) {
      if (!failed.has(m.messageId)) this.note({ done: m.messageId });
      else if (m.receives >= this.maxReceiveCount) (this.deadLetters.push(m), this.note({ dead: m.messageId }));
      else (this.note({ retry: m.messageId }), this.redeliver(m));
    }
  }

  private redeliver(m: Message): void {
    this.delayed++;
    setTimeout(() => {
      this.delayed--;
      this.waiting.push(m);
      this.pump();
    }, this.visibilityMs).unref();
  }
}
