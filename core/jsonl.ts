/**
 * JSON Lines files on local disk: temporary catalogues, work lists and sorted runs.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** Appends values as JSON lines, respecting the stream's backpressure. */
export class JsonLinesWriter {
  private readonly out: WriteStream;
  /** Characters written so far (bytes for ASCII content). */
  length = 0;
  lines = 0;

  constructor(readonly path: string) {
    this.out = createWriteStream(path, { encoding: 'utf8' });
  }

  async write(value: unknown): Promise<void> {
    this.lines++;
    await this.writeRaw(`${JSON.stringify(value)}\n`);
  }

  /** Writes text as it is (for a JSON document written in pieces). */
  async writeRaw(text: string): Promise<void> {
    this.length += text.length;
    if (!this.out.write(text)) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    this.out.end();
    await once(this.out, 'close');
  }
}

/** Writes every value of a (sync or async) iterable to a new file; returns the characters written. */
export async function writeJsonLines(path: string, values: Iterable<unknown> | AsyncIterable<unknown>): Promise<number> {
  const writer = new JsonLinesWriter(path);
  try {
    for await (const value of values) await writer.write(value);
  } finally {
    await writer.close();
  }
  return writer.length;
}

/** Reads a JSON Lines file lazily, one parsed value per non-empty line. */
export async function* readJsonLines<T>(path: string): AsyncGenerator<T> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8', highWaterMark: 256 * 1024 }), crlfDelay: Infinity });
  for await (const line of lines) if (line) yield JSON.parse(line) as T;
}
