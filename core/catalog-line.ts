/**
 * A catalogue line: one JSON Lines record whose first field is "key" (as JSON.stringify writes a
 * CatalogRecord), kept as bytes with its key located in place, so that it sorts and compares in S3
 * key order (UTF-8 byte order) without being parsed (core/linesort.ts says why).
 */
import type { CatalogRecord } from './catalog';

/** One catalogue line (without its newline) and where its key's UTF-8 bytes are. */
export interface CatalogLine {
  readonly buf: Buffer;
  readonly start: number;
  readonly end: number;
  readonly keyBuf: Buffer;
  readonly keyStart: number;
  readonly keyEnd: number;
}


const KEY_PREFIX = Buffer.from('{"key":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
export const NEWLINE = 0x0a;

/**
 * Locates the key of a line in place. A key that JSON escaped (a quote, a backslash or a control
 * character in it) is decoded into its own buffer, so that keys always compare as UTF-8 bytes.
 */
export function catalogLine(buf: Buffer, start: number, end: number, where: { toString(): string }): CatalogLine {
  for (let i = 0; i < KEY_PREFIX.length; i++) {
    if (buf[start + i] !== KEY_PREFIX[i]) throw new Error(`${String(where)}: a catalogue line must start with {"key":" (a JSON object whose first field is the key), found ${JSON.stringify(buf.toString('utf8', start, Math.min(end, start + 40)))}`);
  }
  const keyStart = start + KEY_PREFIX.length;
  let escaped = false;
  let i = keyStart;
  for (; i < end; i++) {
    const c = buf[i];
    if (c === QUOTE) break;
    if (c === BACKSLASH) {
      escaped = true;
      i++;
    }
  }
  if (i >= end) throw new Error(`${String(where)}: the key of this catalogue line has no closing quote`);
  if (!escaped) return { buf, start, end, keyBuf: buf, keyStart, keyEnd: i };
  const key = Buffer.from(JSON.parse(buf.toString('utf8', keyStart - 1, i + 1)) as string, 'utf8');
  return { buf, start, end, keyBuf: key, keyStart: 0, keyEnd: key.length };
}

export function catalogLineFromText(text: string, where: string): CatalogLine {
  const buf = Buffer.from(text, 'utf8');
  return catalogLine(buf, 0, buf.length, where);
}

/** S3 order of two lines' keys: unsigned bytes, a prefix first. */
export function compareLineKeys(a: CatalogLine, b: CatalogLine): number {
  const ab = a.keyBuf;
  const bb = b.keyBuf;
  const al = a.keyEnd - a.keyStart;
  const bl = b.keyEnd - b.keyStart;
  const n = al < bl ? al : bl;
  for (let i = 0; i < n; i++) {
    const d = ab[a.keyStart + i]! - bb[b.keyStart + i]!;
    if (d !== 0) return d;
  }
  return al - bl;
}

export const lineText = (line: CatalogLine): string => line.buf.toString('utf8', line.start, line.end);
export const lineKey = (line: CatalogLine): string => line.keyBuf.toString('utf8', line.keyStart, line.keyEnd);
export function lineRecord<T extends CatalogRecord = CatalogRecord>(line: CatalogLine): T {
  const text = lineText(line);
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`A catalogue line is not valid JSON (${(error as Error).message}): ${JSON.stringify(text.slice(0, 120))}`);
  }
}
