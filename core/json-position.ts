/**
 * Where a JSON text first goes wrong, as a person finds it in an editor: line and column. V8's
 * JSON.parse names a position for some mistakes and none for others ("Unexpected token ']'"), so
 * the text is scanned by JSON's grammar (RFC 8259) to the first character that cannot follow.
 */

/** The offset of the first syntax error in `text`, or undefined when it is JSON. */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw new JsonStop(i);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (char: string) => (text[i] === char ? i++ : fail());
  const string = () => {
    expect('"');
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      i += text[i] === '\\' ? 2 : 1;
    }
    expect('"');
  };
  const members = (close: string, member: () => void) => {
    i++;
    ws();
    if (text[i] === close) return void i++;
    for (;;) {
      member();
      ws();
      if (text[i] === close) return void i++;
      expect(',');
      ws();
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') return members('}', () => (string(), ws(), expect(':'), value()));
    if (c === '[') return members(']', value);
    if (c === '"') return string();
    const literal = /^(true|false|null|-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(i, i + 512));
    if (!literal) fail();
    i += literal![0].length;
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return undefined;
  } catch (error) {
    if (error instanceof JsonStop) return error.offset;
    throw error;
  }
}

class JsonStop {
  constructor(readonly offset: number) {}
}

/** 1-based line and column of an offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const lines = text.slice(0, offset).split('\n');
  return { line: lines.length, column: lines.at(-1)!.length + 1 };
}

/** `not valid JSON at line 3, column 17 (Unexpected token ']')`: V8's reason without its excerpt or offset. */
export function describeJsonError(text: string, error: Error): string {
  const reason = error.message.replace(/, .*is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '');
  const offset = jsonErrorOffset(text);
  if (offset === undefined) return `not valid JSON (${reason})`;
  const { line, column } = lineAndColumn(text, offset);
  return `not valid JSON at line ${line}, column ${column} (${offset >= text.length ? 'it ends too early' : reason})`;
}
