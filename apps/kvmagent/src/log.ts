/**
 * Structured logs: one JSON object per line on stderr (journald keeps them as they are). A small
 * writer rather than a logging library: the agent logs little, and every resident megabyte counts.
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export const LOG_LEVELS = Object.keys(RANK) as LogLevel[];

export type LogFields = Record<string, unknown>;

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) return { message: value.message, ...('code' in value ? { code: (value as { code: unknown }).code } : {}) };
  return value;
}

export function createLogger(level: LogLevel = 'info', write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const max = RANK[level];
  const emit = (l: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[l] > max) return;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level: l, msg };
    if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) entry[k] = serialise(v);
    write(`${JSON.stringify(entry)}\n`);
  };
  return {
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
  };
}
