import { isStandaloneType } from './audit-types.js';
import type { EventContext } from './normalize.js';
import { classifyLine, contextOf, DEFAULT_MAX_LINE_LENGTH, eventOf } from './parse-line.js';
import { syscallContext } from './syscall-context.js';
import type { FramedLine } from './framing.js';
import type { AuditRecord, ParseResult, SelinuxPathRecord } from './types.js';

export interface AuditStreamOptions {
  /** longer lines are reported unparsed ('too-long'); default 65 536 */
  maxLineLength?: number;
  /** events being assembled at once; past it the oldest is emitted as it is. Default 4096 */
  maxPendingEvents?: number;
  /** records kept for one event; further ones are emitted alone. Default 256 */
  maxRecordsPerEvent?: number;
  /** characters held in pending events; past it the oldest is emitted as it is. Default 16 Mi */
  maxPendingChars?: number;
  /** an event without EOE is emitted this long (caller's clock, nowMs) after its first record. Default 2000 */
  eventTimeoutMs?: number;
  /** a record whose audit time is this much later than a pending event's closes that event. Default 2000 */
  logTimeWindowMs?: number;
  /** pids whose executable is remembered for parentProcessName. Default 4096 */
  processCacheSize?: number;
  /** hostName for events whose line names none */
  hostName?: string;
}

export interface AuditStreamCounters {
  /** lines fed */
  lines: number;
  /** lines that gave a record (any format but unparsed) */
  parsed: number;
  /** lines reported as unparsed */
  unparsed: number;
  /** records emitted without joining their event because of maxRecordsPerEvent */
  droppedByBound: number;
  /** events emitted before their EOE because of maxPendingEvents / maxPendingChars */
  eventsEvictedEarly: number;
  /** events emitted after eventTimeoutMs / logTimeWindowMs without an EOE */
  eventsTimedOut: number;
  /** events emitted because their EOE arrived */
  eventsCompleted: number;
  /** events being assembled now */
  pendingEvents: number;
}

interface PendingLine {
  line: number;
  result: Exclude<ParseResult, { format: 'unparsed' }>;
  framed: FramedLine;
}

interface PendingEvent {
  firstSeenMs: number;
  logTimeMs: number;
  chars: number;
  lines: PendingLine[];
}

/**
 * Line-oriented reader for audit logs. feed() each line with the caller's clock; results come
 * back when known: at once for single-record events, at EOE (or after a bounded wait) for
 * multi-record Linux-audit events, whose SYSCALL, EXECVE, CWD, PATH, SOCKADDR and PROCTITLE
 * records are joined by (node, epoch, serial) into the event of the AVC or SYSCALL line. Each
 * fed line comes back exactly once, as one result carrying its line number. Memory is bounded
 * by the options; nothing is dropped without a counter saying so. No clock is read.
 */
export class AuditStream {
  private readonly pending = new Map<string, PendingEvent>();
  private pendingChars = 0;
  private readonly processes = new Map<number, string>();
  private readonly c: AuditStreamCounters = {
    lines: 0,
    parsed: 0,
    unparsed: 0,
    droppedByBound: 0,
    eventsEvictedEarly: 0,
    eventsTimedOut: 0,
    eventsCompleted: 0,
    pendingEvents: 0,
  };
  private readonly maxLineLength: number;
  private readonly maxPendingEvents: number;
  private readonly maxRecordsPerEvent: number;
  private readonly maxPendingChars: number;
  private readonly eventTimeoutMs: number;
  private readonly logTimeWindowMs: number;
  private readonly processCacheSize: number;
  private readonly hostName: string | undefined;

  constructor(options: AuditStreamOptions = {}) {
    this.maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
    this.maxPendingEvents = Math.max(1, options.maxPendingEvents ?? 4096);
    this.maxRecordsPerEvent = Math.max(1, options.maxRecordsPerEvent ?? 256);
    this.maxPendingChars = Math.max(1, options.maxPendingChars ?? 16 * 1024 * 1024);
    this.eventTimeoutMs = Math.max(0, options.eventTimeoutMs ?? 2000);
    this.logTimeWindowMs = Math.max(0, options.logTimeWindowMs ?? 2000);
    this.processCacheSize = Math.max(0, options.processCacheSize ?? 4096);
    this.hostName = options.hostName;
  }

  /** A snapshot of the counters. */
  get counters(): Readonly<AuditStreamCounters> {
    return { ...this.c, pendingEvents: this.pending.size };
  }

  /** Reads one line (without or with its newline); returns every result that became complete. */
  feed(line: string, nowMs: number): ParseResult[] {
    const out: ParseResult[] = [];
    const lineNo = ++this.c.lines;
    this.expire(nowMs, out);
    const cl = classifyLine(line, this.maxLineLength);
    const result = cl.result;
    if (result.format === 'unparsed' || cl.framed === undefined) {
      this.c.unparsed++;
      out.push({ ...result, line: lineNo } as ParseResult);
      return out;
    }
    this.c.parsed++;
    const f = cl.framed;
    const item: PendingLine = { line: lineNo, result, framed: f };
    if (f.auditId === undefined || isStandaloneType(f.typeNumber)) {
      this.emit([item], out);
      return out;
    }
    const logMs = (f.epoch ?? 0) * 1000 + (f.ms ?? 0);
    this.closeOlderThan(logMs - this.logTimeWindowMs, out);
    const key = f.node !== undefined ? `${f.node} ${f.auditId}` : f.auditId;
    let ev = this.pending.get(key);
    if (!ev) {
      ev = { firstSeenMs: nowMs, logTimeMs: logMs, chars: 0, lines: [] };
      this.pending.set(key, ev);
    } else if (ev.lines.length >= this.maxRecordsPerEvent) {
      this.c.droppedByBound++;
      this.emit([item], out);
      return out;
    }
    ev.lines.push(item);
    ev.chars += line.length;
    this.pendingChars += line.length;
    if (f.type === 'EOE') {
      this.c.eventsCompleted++;
      this.complete(key, out);
    }
    while (this.pending.size > this.maxPendingEvents || (this.pendingChars > this.maxPendingChars && this.pending.size > 0)) {
      const oldest = this.pending.keys().next().value as string;
      this.c.eventsEvictedEarly++;
      this.complete(oldest, out);
    }
    return out;
  }

  /**
   * Emits events that waited eventTimeoutMs (by nowMs); with no argument, every pending event.
   * Call it periodically while tailing, and once at the end of input.
   */
  flush(nowMs?: number): ParseResult[] {
    const out: ParseResult[] = [];
    if (nowMs === undefined) {
      for (const key of [...this.pending.keys()]) {
        this.c.eventsTimedOut++;
        this.complete(key, out);
      }
    } else {
      this.expire(nowMs, out);
    }
    return out;
  }

  private expire(nowMs: number, out: ParseResult[]): void {
    if (this.pending.size === 0) return;
    for (const [key, ev] of this.pending) {
      // insertion order is arrival order, so the first young one ends the scan
      if (nowMs - ev.firstSeenMs < this.eventTimeoutMs) break;
      this.c.eventsTimedOut++;
      this.complete(key, out);
    }
  }

  private closeOlderThan(logMs: number, out: ParseResult[]): void {
    if (this.pending.size === 0) return;
    for (const [key, ev] of this.pending) {
      if (ev.logTimeMs >= logMs) break;
      this.c.eventsTimedOut++;
      this.complete(key, out);
    }
  }

  private complete(key: string, out: ParseResult[]): void {
    const ev = this.pending.get(key);
    if (!ev) return;
    this.pending.delete(key);
    this.pendingChars -= ev.chars;
    this.emit(ev.lines, out);
  }

  /** Builds the events of one audit event's lines and appends the lines' results in input order. */
  private emit(lines: PendingLine[], out: ParseResult[]): void {
    const audit: AuditRecord[] = [];
    let avcPath: SelinuxPathRecord | undefined;
    for (const l of lines) {
      if (l.result.format === 'audit') audit.push(l.result.record);
      else if (l.result.format === 'selinux' && l.result.record.kind === 'AVC_PATH') avcPath = l.result.record;
    }
    const first = lines[0];
    if (!first) return;
    const ctx: EventContext = contextOf(first.framed);
    if (ctx.hostName === undefined && this.hostName !== undefined) ctx.hostName = this.hostName;
    if (audit.length > 0) ctx.syscall = syscallContext(audit);
    if (this.processCacheSize > 0) ctx.processName = (pid) => this.processes.get(pid);

    let lsmEvents = 0;
    for (const l of lines) {
      const r = l.result;
      if (r.format === 'apparmor' || (r.format === 'selinux' && (r.record.kind === 'AVC' || r.record.kind === 'USER_AVC'))) {
        // sepolgen joins AVC_PATH to the AVCs of its event
        if (r.format === 'selinux' && avcPath && (r.record.kind === 'AVC' || r.record.kind === 'USER_AVC') && r.record.path === undefined) {
          r.record.path = avcPath.path;
        }
        const ev = eventOf(r, ctx);
        if (ev !== undefined) {
          r.event = ev;
          lsmEvents++;
        }
      }
    }
    if (lsmEvents === 0) {
      const sys = lines.find((l) => l.result.format === 'audit' && l.result.record.type === 'SYSCALL');
      if (sys) {
        const ev = eventOf(sys.result, ctx);
        if (ev !== undefined) sys.result.event = ev;
      }
    }
    this.rememberProcess(ctx);
    for (const l of lines) {
      l.result.line = l.line;
      out.push(l.result);
    }
  }

  private rememberProcess(ctx: EventContext): void {
    const s = ctx.syscall;
    if (this.processCacheSize === 0 || s?.pid === undefined || s.exe === undefined) return;
    this.processes.delete(s.pid);
    this.processes.set(s.pid, s.exe);
    if (this.processes.size > this.processCacheSize) {
      const oldest = this.processes.keys().next().value as number;
      this.processes.delete(oldest);
    }
  }
}
