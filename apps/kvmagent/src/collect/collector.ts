/**
 * Collector: lines from the sources → libs/auditlog (one AuditStream per source, which joins
 * multi-record events) → visibility filter → host tag → wire events in the spool, with the source
 * positions that are safe to resume from.
 *
 * A line whose event is still being assembled (waiting for its EOE) must be read again after a
 * crash, so the position recorded for a source is the one before its oldest pending line.
 * Appends are batched (every `flushMs`, or `maxBatch` events); nothing runs while nothing arrives.
 */
import { AuditStream, toWireEvent, type HostEvent, type ParseResult } from '@kvmservice/auditlog';
import type { VisibilityKind } from '../config.js';
import type { Logger } from '../log.js';
import type { EventSpool } from '../spool.js';
import type { LogSource } from './log-source.js';
import { keepEvent } from './visibility.js';

export interface CollectorCounters {
  /** Lines read from all sources. */
  linesRead: number;
  /** Lines the parser could not read (audit sources: any non-record; system logs: malformed records). */
  linesUnparsed: number;
  /** System-log lines that are not audit records (normal; not an error). */
  linesIgnored: number;
  /** Events the parser made. */
  eventsParsed: number;
  /** Visibility logs left out because visibility does not ask for their kind. */
  eventsFiltered: number;
  /** Events handed to the spool. */
  eventsSpooled: number;
}

interface SourceState {
  source: LogSource;
  stream: AuditStream;
  lines: number;
  /** position before each line still being assembled, by line number (insertion order = line order) */
  pending: Map<number, unknown>;
  last: unknown;
}

export interface CollectorOptions {
  spool: EventSpool;
  hostName: string;
  visibility: ReadonlySet<VisibilityKind>;
  log?: Logger;
  flushMs?: number;
  maxBatch?: number;
  /** Clock for the parser's assembly timeouts (injectable for tests). */
  now?: () => number;
}

export class Collector {
  readonly counters: CollectorCounters = { linesRead: 0, linesUnparsed: 0, linesIgnored: 0, eventsParsed: 0, eventsFiltered: 0, eventsSpooled: 0 };
  private readonly sources: SourceState[] = [];
  private buffer: HostEvent[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushDue = 0;
  private expireTimer: NodeJS.Timeout | undefined;
  private visibility: ReadonlySet<VisibilityKind>;
  private hostName: string;
  private readonly spool: EventSpool;
  private readonly flushMs: number;
  private readonly maxBatch: number;
  private readonly now: () => number;

  constructor(options: CollectorOptions) {
    this.spool = options.spool;
    this.hostName = options.hostName;
    this.visibility = options.visibility;
    this.flushMs = options.flushMs ?? 200;
    this.maxBatch = options.maxBatch ?? 512;
    this.now = options.now ?? Date.now;
  }

  setVisibility(kinds: ReadonlySet<VisibilityKind>): void {
    this.visibility = kinds;
  }

  setHostName(name: string): void {
    this.hostName = name;
  }

  get sourceKeys(): string[] {
    return this.sources.map((s) => s.source.key);
  }

  add(source: LogSource): void {
    const state: SourceState = { source, stream: new AuditStream({ hostName: this.hostName }), lines: 0, pending: new Map(), last: source.startPosition };
    this.sources.push(state);
    source.start((line, position) => this.onLine(state, line, position));
  }

  private onLine(s: SourceState, line: string, positionAfter: unknown): void {
    this.counters.linesRead++;
    const lineNo = ++s.lines;
    const before = s.last;
    s.last = positionAfter;
    const results = s.stream.feed(line, this.now());
    let done = false;
    for (const r of results) {
      if (r.line === lineNo) done = true;
      else if (r.line !== undefined) s.pending.delete(r.line);
      this.take(r, s.source.kind);
    }
    if (!done) s.pending.set(lineNo, before);
    if (this.buffer.length >= this.maxBatch) this.flush();
    else if (this.buffer.length > 0) this.scheduleFlush();
    else this.scheduleFlush(true);
    if (s.stream.counters.pendingEvents > 0) this.scheduleExpiry();
  }

  private take(r: ParseResult, kind: 'audit' | 'mixed'): void {
    if (r.format === 'unparsed') {
      if (r.record.reason === 'empty') return;
      if (r.record.reason === 'not-an-audit-record' && kind === 'mixed') this.counters.linesIgnored++;
      else this.counters.linesUnparsed++;
      return;
    }
    const e = r.event;
    if (!e) return;
    this.counters.eventsParsed++;
    if (!keepEvent(e, this.visibility)) {
      this.counters.eventsFiltered++;
      return;
    }
    e.hostName = this.hostName;
    this.buffer.push(e);
  }

  /** A flush soon; `positionsOnly`: nothing to append, only positions to note (less urgent). */
  private scheduleFlush(positionsOnly = false): void {
    const delay = positionsOnly ? Math.max(this.flushMs, 1000) : this.flushMs;
    const due = Date.now() + delay;
    if (this.flushTimer && this.flushDue <= due) return;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushDue = due;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, delay);
  }

  /** Events waiting for their EOE are emitted after the parser's timeout. */
  private scheduleExpiry(): void {
    if (this.expireTimer) return;
    this.expireTimer = setTimeout(() => {
      this.expireTimer = undefined;
      let pending = 0;
      for (const s of this.sources) {
        for (const r of s.stream.flush(this.now())) {
          if (r.line !== undefined) s.pending.delete(r.line);
          this.take(r, s.source.kind);
        }
        pending += s.stream.counters.pendingEvents;
      }
      this.flush();
      if (pending > 0) this.scheduleExpiry();
    }, 1000);
  }

  private safePositions(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const s of this.sources) {
      const oldest = s.pending.values().next();
      const position = oldest.done ? s.last : oldest.value;
      if (position !== undefined && position !== null) out[s.source.key] = position;
    }
    return out;
  }

  /** Appends what is buffered (with the safe positions). */
  flush(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const events = this.buffer;
    this.buffer = [];
    const positions = this.safePositions();
    if (events.length === 0) {
      this.spool.notePositions(positions);
      return;
    }
    this.spool.append((first) => events.map((e, i) => toWireEvent(e, first + i)), positions);
    this.counters.eventsSpooled += events.length;
  }

  /** Stops the sources after reading what is there, completes pending events, appends everything. */
  async stop(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.source.stop()));
    if (this.expireTimer) clearTimeout(this.expireTimer);
    this.expireTimer = undefined;
    for (const s of this.sources) {
      for (const r of s.stream.flush()) {
        if (r.line !== undefined) s.pending.delete(r.line);
        this.take(r, s.source.kind);
      }
    }
    this.flush();
  }
}
