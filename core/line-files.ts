/** Files of catalogue lines: read in 1 MiB chunks (lines keep their bytes), written through a 1 MiB buffer. */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { type CatalogLine, catalogLine, NEWLINE } from './catalog-line';

/** Reads a file of catalogue lines in 1 MiB chunks; every chunk is a new buffer, so returned lines stay valid. */
export class CatalogLineReader implements Iterable<CatalogLine> {
  private fd: number | undefined;
  private buf = Buffer.alloc(0);
  private pos = 0;
  private eof = false;
  lineNo = 0;

  constructor(
    readonly path: string,
    private readonly chunkBytes = 1 << 20,
  ) {
    this.fd = openSync(path, 'r');
  }

  next(): CatalogLine | undefined {
    for (;;) {
      const nl = this.buf.indexOf(NEWLINE, this.pos);
      if (nl !== -1) {
        const start = this.pos;
        this.pos = nl + 1;
        if (nl > start) return this.line(start, nl);
        continue;
      }
      if (this.eof) {
        const start = this.pos;
        this.pos = this.buf.length;
        if (this.buf.length > start) return this.line(start, this.buf.length);
        this.close();
        return undefined;
      }
      this.refill();
    }
  }

  *[Symbol.iterator](): Iterator<CatalogLine> {
    for (let line = this.next(); line; line = this.next()) yield line;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private line(start: number, end: number): CatalogLine {
    this.lineNo++;
    return catalogLine(this.buf, start, end, this);
  }

  /** Where a line is, for errors. */
  toString(): string {
    return `${this.path} line ${this.lineNo}`;
  }

  private refill(): void {
    const rest = this.buf.length - this.pos;
    const next = Buffer.allocUnsafe(rest + this.chunkBytes);
    this.buf.copy(next, 0, this.pos);
    const read = readSync(this.fd!, next, rest, this.chunkBytes, null);
    if (read === 0) this.eof = true;
    this.buf = next.subarray(0, rest + read);
    this.pos = 0;
  }
}

/** Writes lines to a file through a 1 MiB buffer. */
export class CatalogLineWriter {
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  bytes = 0;
  lines = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  write(line: CatalogLine): void {
    const n = line.end - line.start;
    if (this.used + n + 1 > this.buf.length) this.flush();
    if (n + 1 > this.buf.length) {
      writeSync(this.fd, line.buf, line.start, n);
      writeSync(this.fd, '\n');
    } else {
      line.buf.copy(this.buf, this.used, line.start, line.end);
      this.used += n;
      this.buf[this.used++] = NEWLINE;
    }
    this.bytes += n + 1;
    this.lines++;
  }

  /** Writes one line given as text (without its newline). */
  writeText(text: string): void {
    const buf = Buffer.from(text, 'utf8');
    this.write({ buf, start: 0, end: buf.length, keyBuf: buf, keyStart: 0, keyEnd: 0 });
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private flush(): void {
    let done = 0;
    while (done < this.used) done += writeSync(this.fd, this.buf, done, this.used - done);
    this.used = 0;
  }
}
