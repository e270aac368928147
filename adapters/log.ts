/**
 * Structured logs: one JSON object per line on stdout (CloudWatch Logs and Logs Insights read them
 * as fields), with the run id, shard, operation and key on every line that concerns one. Set
 * `NIGHTSHIFT_LOG_FORMAT=pretty` for readable lines on a terminal.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  readonly format?: 'json' | 'pretty';
  readonly level?: Level;
  readonly write?: (line: string) => void;
}

export function createLogger(base: Record<string, unknown> = {}, options: LoggerOptions = {}, env: NodeJS.ProcessEnv = process.env): Logger {
  const format = options.format ?? (env.NIGHTSHIFT_LOG_FORMAT === 'pretty' ? 'pretty' : 'json');
  const min = ORDER[options.level ?? (env.NIGHTSHIFT_LOG_LEVEL as Level | undefined) ?? 'info'] ?? ORDER.info;
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const log = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const entry = { time: new Date().toISOString(), level, msg, ...base, ...fields };
    if (format === 'json') {
      write(`${JSON.stringify(entry, errorReplacer)}\n`);
    } else {
      const { time, level: l, msg: m, ...rest } = entry;
      const extra = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v, errorReplacer)}`)
        .join(' ');
      write(`${time.slice(11, 19)} ${l.padEnd(5)} ${m}${extra ? `  ${extra}` : ''}\n`);
    }
  };
  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, { ...options, format }, env),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}
