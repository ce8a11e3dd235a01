import { AuditStream, type AuditStreamOptions } from './audit-stream.js';
import type { HostEvent, ParsedFormat, ParseResult } from './types.js';

/** One line of `kvmctl parse-log` output. */
export interface ParseLogRecord {
  /** 1-based input line number */
  line: number;
  format: ParsedFormat;
  record: ParseResult['record'];
  event?: HostEvent;
}

export interface ParseLogOptions extends Omit<AuditStreamOptions, 'eventTimeoutMs'> {
  /**
   * An event whose EOE has not come within this many lines is emitted as it is (offline input
   * has no clock; lines stand in for time). Default 10 000.
   */
  maxEventSpanLines?: number;
}

/**
 * Parses a log offline: one record per input line, in input order, multi-record events
 * assembled (the event sits on the AVC or SYSCALL line of its event). Never throws; unparsed
 * lines are yielded as such. Holds back at most about maxEventSpanLines lines.
 */
export function* parseLogLines(lines: Iterable<string>, options: ParseLogOptions = {}): Generator<ParseLogRecord> {
  const { maxEventSpanLines, ...streamOptions } = options;
  const stream = new AuditStream({ ...streamOptions, eventTimeoutMs: Math.max(1, maxEventSpanLines ?? 10_000) });
  const ready = new Map<number, ParseResult>();
  let next = 1;
  let n = 0;
  function* drain(results: ParseResult[]): Generator<ParseLogRecord> {
    for (const r of results) if (r.line !== undefined) ready.set(r.line, r);
    for (let r = ready.get(next); r !== undefined; r = ready.get(next)) {
      ready.delete(next);
      const out: ParseLogRecord = { line: next, format: r.format, record: r.record };
      if (r.event !== undefined) out.event = r.event;
      yield out;
      next++;
    }
  }
  for (const line of lines) {
    n++;
    yield* drain(stream.feed(line, n));
  }
  yield* drain(stream.flush());
}

/** parseLogLines as JSON Lines text, one string per record (without the newline). */
export function* parseLogToJsonLines(lines: Iterable<string>, options: ParseLogOptions = {}): Generator<string> {
  for (const r of parseLogLines(lines, options)) yield JSON.stringify(r);
}

/**
 * Splits text into lines for parseLogLines: \n or \r\n separated, a final line without newline
 * included, NUL bytes kept as data.
 */
export function* splitLines(text: string): Generator<string> {
  let start = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
    yield text.slice(start, end);
    start = nl + 1;
  }
}
