/**
 * EventSpool: the on-disk queue between the collector and the uploader, bounded by bytes.
 *
 * Events get consecutive sequence numbers when appended. A record — one JSON line
 * `{"f":firstSeq,"n":count,"p":positions,"e":[events]}` — is written with one write(2), so a
 * crash leaves at most a truncated last line, which recovery cuts off. `p` holds the source
 * positions after the lines whose events the record holds: on restart, collectors resume from
 * the newest recorded position, so every line becomes events once.
 *
 * Records go into segment files (`seg-<firstSeq>.jsonl`); segments whose events are all acked are
 * deleted. When the spool exceeds its bound, the oldest segment is deleted and its unacked events
 * are counted as dropped (persisted, reported in heartbeats and batches); the server sees the gap
 * in the sequence. `meta.json` keeps the ack cursor, the next sequence number, the drop count and
 * the positions; it is written lazily, since re-sending acked events is harmless (the server
 * drops sequence numbers at or below its cursor).
 */
import { EventEmitter } from 'node:events';
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from './log.js';
import { isRecord, quarantine, readJsonFile, writeJsonAtomic } from './state-dir.js';

export type Positions = Record<string, unknown>;

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  /** Segment size (default maxBytes/8, between 16 KiB and 8 MiB). */
  segmentBytes?: number;
  log?: Logger;
  /** fdatasync after every append (default true). */
  sync?: boolean;
}

interface Segment {
  first: number;
  /** Last sequence number in the segment (first - 1 while empty). */
  last: number;
  bytes: number;
  file: string;
}

interface Meta {
  acked: number;
  next: number;
  dropped: number;
  corrupt: number;
  positions: Positions;
}

interface RecordLine {
  f: number;
  n: number;
  p?: Positions;
  e: unknown[];
}

export interface SpoolBatch {
  firstSeq: number;
  events: unknown[];
}

const SEGMENT = /^seg-(\d{20})\.jsonl$/;
const segmentName = (first: number) => `seg-${String(first).padStart(20, '0')}.jsonl`;

const recordLine = (first: number, events: readonly unknown[], positions: Positions): string => `${JSON.stringify({ f: first, n: events.length, p: positions, e: events })}\n`;

/** Consecutive runs of events whose record line stays within `maxBytes` (an event larger than that alone). */
function splitBySize(events: readonly unknown[], maxBytes: number): unknown[][] {
  const pieces: unknown[][] = [];
  let piece: unknown[] = [];
  // Room for the record's own fields (sequence numbers and source positions).
  let bytes = 1024;
  for (const event of events) {
    const size = Buffer.byteLength(JSON.stringify(event)) + 1;
    if (piece.length > 0 && bytes + size > maxBytes) {
      pieces.push(piece);
      piece = [];
      bytes = 1024;
    }
    piece.push(event);
    bytes += size;
  }
  if (piece.length > 0) pieces.push(piece);
  return pieces;
}

function parseRecord(line: string): RecordLine | undefined {
  let r: unknown;
  try {
    r = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(r) || !Number.isSafeInteger(r.f) || !Number.isSafeInteger(r.n) || (r.f as number) < 1 || (r.n as number) < 0 || !Array.isArray(r.e)) return undefined;
  if (r.e.length !== r.n || (r.p !== undefined && !isRecord(r.p))) return undefined;
  return r as unknown as RecordLine;
}

function metaProblem(v: unknown): string | undefined {
  if (!isRecord(v)) return 'not a JSON object';
  for (const k of ['acked', 'next', 'dropped', 'corrupt'] as const) if (!Number.isSafeInteger(v[k]) || (v[k] as number) < 0) return `${k}: must be a non-negative integer`;
  if (!isRecord(v.positions)) return 'positions: must be an object';
  return undefined;
}

export class EventSpool extends EventEmitter {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly log: Logger | undefined;
  private readonly sync: boolean;
  private segments: Segment[] = [];
  private fd: number | undefined;
  private meta: Meta = { acked: 0, next: 1, dropped: 0, corrupt: 0, positions: {} };
  private positionsNow: Positions = {};
  private metaDirty = false;
  /** Recovery saw an unreadable record and has not yet seen the next readable one. */
  private afterCorrupt = false;
  private metaTimer: NodeJS.Timeout | undefined;
  /** Events appended since this process opened the spool. */
  appended = 0;

  private constructor(options: SpoolOptions) {
    super();
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.segmentBytes = options.segmentBytes ?? Math.min(8 * 1024 * 1024, Math.max(16 * 1024, Math.floor(options.maxBytes / 8)));
    this.log = options.log;
    this.sync = options.sync ?? true;
  }

  /** Opens (and recovers) the spool in `dir`. */
  static open(options: SpoolOptions): EventSpool {
    const spool = new EventSpool(options);
    spool.recover();
    return spool;
  }

  get ackedUpTo(): number {
    return this.meta.acked;
  }
  get nextSeq(): number {
    return this.meta.next;
  }
  /** Events dropped because the spool was full (or lost to a corrupt segment), since the spool was created. */
  get droppedTotal(): number {
    return this.meta.dropped;
  }
  /** Records found unreadable at recovery, since the spool was created. */
  get corruptRecords(): number {
    return this.meta.corrupt;
  }
  /** Events waiting for an ack. */
  get pendingCount(): number {
    let n = 0;
    for (const s of this.segments) if (s.last > this.meta.acked) n += s.last - Math.max(this.meta.acked, s.first - 1);
    return n;
  }
  get bytes(): number {
    return this.segments.reduce((sum, s) => sum + s.bytes, 0);
  }
  /** Source positions to resume from: the newest that is safely recorded. */
  positions(): Positions {
    return { ...this.positionsNow };
  }

  private recover(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const metaFile = join(this.dir, 'meta.json');
    const read = readJsonFile<Meta>(metaFile, metaProblem);
    if (read.kind === 'ok') this.meta = { ...read.value };
    else if (read.kind === 'corrupt') {
      const aside = quarantine(metaFile);
      this.log?.warn('spool meta.json is corrupt; moved aside, recovering from the segments', { reason: read.reason, movedTo: aside });
    }
    this.positionsNow = { ...this.meta.positions };
    const files = readdirSync(this.dir)
      .filter((f) => SEGMENT.test(f))
      .sort();
    let end = 0; // last sequence number seen in a record
    for (const [i, name] of files.entries()) {
      const file = join(this.dir, name);
      const isLast = i === files.length - 1;
      const segment = this.scanSegment(file, isLast, end);
      if (!segment) {
        rmSync(file, { force: true });
        continue;
      }
      end = segment.last;
      this.segments.push(segment);
    }
    this.meta.next = Math.max(this.meta.next, end + 1, this.meta.acked + 1);
    this.meta.positions = { ...this.positionsNow };
    // Segments everything of which was acked before a crash.
    this.removeAcked();
    this.writeMeta();
  }

  /** Reads a segment's records; cuts a torn last line; counts unreadable ones. */
  private scanSegment(file: string, isLast: boolean, previousEnd: number): Segment | undefined {
    const data = readWhole(file);
    let offset = 0;
    let validEnd = 0;
    let first = 0;
    let last = previousEnd;
    while (offset < data.length) {
      const nl = data.indexOf(10, offset);
      const lineEnd = nl === -1 ? data.length : nl;
      const record = nl === -1 ? undefined : parseRecord(data.subarray(offset, lineEnd).toString('utf8'));
      if (record && record.f > last) {
        if (this.afterCorrupt) {
          // The unacked sequence numbers skipped by an unreadable record are its events: lost, and counted.
          this.meta.dropped += Math.max(0, record.f - 1 - Math.max(last, this.meta.acked));
        }
        this.afterCorrupt = false;
        if (first === 0) first = record.f;
        last = record.f + record.n - 1;
        if (record.f >= this.meta.next && record.p) Object.assign(this.positionsNow, record.p);
        validEnd = lineEnd + 1;
      } else if (nl === -1 && isLast) {
        // A record torn by a crash: its events were never acknowledged as spooled, and its
        // lines are read again from the previous position.
        this.log?.warn('spool: cut a torn last record', { file, bytes: data.length - offset });
      } else {
        this.meta.corrupt++;
        this.afterCorrupt = true;
        this.log?.warn('spool: unreadable record skipped', { file, offset });
        validEnd = lineEnd + 1;
      }
      offset = lineEnd + 1;
    }
    if (validEnd < data.length) {
      const fd = openSync(file, 'r+');
      ftruncateSync(fd, validEnd);
      closeSync(fd);
    }
    if (first === 0) return undefined;
    return { first, last, bytes: validEnd, file };
  }

  private get active(): Segment | undefined {
    return this.segments[this.segments.length - 1];
  }

  private openActive(first: number): Segment {
    const file = join(this.dir, segmentName(first));
    this.fd = openSync(file, 'a', 0o600);
    const segment: Segment = { first, last: first - 1, bytes: fstatSync(this.fd).size, file };
    this.segments.push(segment);
    return segment;
  }

  private closeActive(): void {
    if (this.fd === undefined) return;
    if (this.sync) fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
  }

  /**
   * Appends events made by `make(firstSeq)` (each carrying its sequence number, if it wants)
   * with the source positions after them. Returns the sequence numbers given.
   */
  append(make: (firstSeq: number) => unknown[], positions?: Positions): { first: number; count: number } {
    const first = this.meta.next;
    const events = make(first);
    const before = { ...this.positionsNow };
    if (positions) Object.assign(this.positionsNow, positions);
    if (events.length === 0) {
      if (positions) this.markDirty();
      return { first, count: 0 };
    }
    this.meta.next = first + events.length;
    this.appended += events.length;
    const line = recordLine(first, events, this.positionsNow);
    if (Buffer.byteLength(line) <= this.segmentBytes || events.length === 1) {
      this.writeRecord(first, events.length, line);
    } else {
      // A burst read at once (a busy log after a pause) can be larger than a segment or the whole
      // spool. Stored as several records, the bound drops its oldest events, not all of it. Every
      // record but the last carries the positions from before the burst: a crash between them
      // reads the burst again (duplicates, never a loss).
      let at = 0;
      for (const piece of splitBySize(events, this.segmentBytes)) {
        const last = at + piece.length === events.length;
        this.writeRecord(first + at, piece.length, recordLine(first + at, piece, last ? this.positionsNow : before));
        at += piece.length;
      }
    }
    this.markDirty();
    this.emit('appended');
    return { first, count: events.length };
  }

  /** Writes one record line of `count` events from `first` into the active segment, then bounds the spool. */
  private writeRecord(first: number, count: number, line: string): void {
    const bytes = Buffer.byteLength(line);
    if (bytes > this.maxBytes) {
      // One event larger than the whole spool: it cannot be kept.
      this.meta.dropped += count;
      this.log?.warn('spool: a record larger than the spool was dropped', { events: count, bytes, maxBytes: this.maxBytes });
      return;
    }
    let active = this.fd === undefined ? undefined : this.active;
    if (active && active.bytes > 0 && active.bytes + bytes > this.segmentBytes) {
      this.closeActive();
      active = undefined;
    }
    active ??= this.openActive(first);
    writeSync(this.fd!, line);
    if (this.sync) fsyncSync(this.fd!);
    if (active.last < active.first) active.first = first;
    active.last = first + count - 1;
    active.bytes += bytes;
    this.enforceBound();
  }

  /** Records source positions that produced no events (kept in meta.json, written lazily). */
  notePositions(positions: Positions): void {
    Object.assign(this.positionsNow, positions);
    this.markDirty();
  }

  private enforceBound(): void {
    let total = this.bytes;
    while (total > this.maxBytes && this.segments.length > 1) {
      const oldest = this.segments.shift()!;
      total -= oldest.bytes;
      const lost = oldest.last > this.meta.acked ? oldest.last - Math.max(this.meta.acked, oldest.first - 1) : 0;
      this.meta.dropped += lost;
      rmSync(oldest.file, { force: true });
      if (lost > 0) {
        this.log?.warn('spool full: dropped the oldest events', { dropped: lost, firstSeq: Math.max(oldest.first, this.meta.acked + 1), lastSeq: oldest.last, droppedTotal: this.meta.dropped });
        this.emit('dropped', lost);
      }
    }
  }

  /** Everything up to `upTo` is stored by the control plane. */
  ack(upTo: number): void {
    const acked = Math.min(upTo, this.meta.next - 1);
    if (acked <= this.meta.acked) return;
    this.meta.acked = acked;
    this.removeAcked();
    this.markDirty();
  }

  private removeAcked(): void {
    const done = this.segments.filter((s, i) => s.last <= this.meta.acked && (i < this.segments.length - 1 || this.fd === undefined || s.bytes >= 64 * 1024));
    if (done.length === 0) return;
    // Positions and cursor first, so a crash cannot resume from positions older than the events left.
    this.writeMeta();
    for (const s of done) {
      if (s === this.active && this.fd !== undefined) this.closeActive();
      rmSync(s.file, { force: true });
    }
    this.segments = this.segments.filter((s) => !done.includes(s));
  }

  /**
   * The control plane holds sequence numbers beyond any this spool gave (the state directory was
   * reset while the host kept its history): the unacked events are given new numbers from `next`,
   * so that they are not taken for duplicates.
   */
  rebase(next: number): number {
    if (next <= this.meta.next) return 0;
    const reader = this.reader(this.meta.acked + 1);
    const events: unknown[] = [];
    for (let b = reader.next(10_000, 64 * 1024 * 1024); b; b = reader.next(10_000, 64 * 1024 * 1024)) events.push(...b.events);
    this.closeActive();
    for (const s of this.segments) rmSync(s.file, { force: true });
    this.segments = [];
    this.meta.acked = next - 1;
    this.meta.next = next;
    this.writeMeta();
    if (events.length > 0) {
      this.append((first) => events.map((e, i) => (isRecord(e) && 'seq' in e ? { ...e, seq: first + i } : e)));
    }
    this.log?.warn('spool renumbered: the control plane already holds higher sequence numbers for this host', { from: next, events: events.length });
    return events.length;
  }

  /** A cursor over the spooled events from `fromSeq` on. */
  reader(fromSeq: number): SpoolReader {
    return new SpoolReader(this, fromSeq);
  }

  /** @internal for SpoolReader */
  segmentFor(seq: number): Segment | undefined {
    return this.segments.find((s) => s.last >= seq && s.last >= s.first);
  }

  private markDirty(): void {
    this.metaDirty = true;
    if (this.metaTimer) return;
    this.metaTimer = setTimeout(() => {
      this.metaTimer = undefined;
      if (this.metaDirty) this.writeMeta();
    }, 2000);
    this.metaTimer.unref();
  }

  writeMeta(): void {
    this.metaDirty = false;
    this.meta.positions = { ...this.positionsNow };
    writeJsonAtomic(join(this.dir, 'meta.json'), this.meta, 0o600);
  }

  /** Persists the cursor and positions and closes the active segment. */
  close(): void {
    if (this.metaTimer) clearTimeout(this.metaTimer);
    this.metaTimer = undefined;
    this.closeActive();
    this.writeMeta();
  }
}

function readWhole(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads spooled events in sequence order, in contiguous batches (a batch never spans a gap left
 * by dropped events). Survives segments being deleted under it.
 */
export class SpoolReader {
  private seq: number;
  private file: string | undefined;
  private offset = 0;
  /** A window of the current segment: bytes from `windowStart`. */
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly spool: EventSpool,
    fromSeq: number,
  ) {
    this.seq = fromSeq;
  }

  /** The next sequence number this reader will return. */
  get position(): number {
    return this.seq;
  }

  next(maxEvents: number, maxBytes: number): SpoolBatch | undefined {
    const events: unknown[] = [];
    let first = 0;
    let bytes = 0;
    for (;;) {
      const segment = this.spool.segmentFor(this.seq);
      if (!segment) break;
      if (segment.file !== this.file) {
        this.file = segment.file;
        this.offset = 0;
        this.window = Buffer.alloc(0);
      }
      const read = this.readLine(segment.file);
      if (read === 'gone') {
        this.file = undefined;
        continue;
      }
      if (read === undefined) break;
      const { line, nextOffset } = read;
      const record = parseRecord(line);
      if (!record) {
        this.offset = nextOffset;
        continue;
      }
      const end = record.f + record.n - 1;
      if (end < this.seq) {
        this.offset = nextOffset;
        continue;
      }
      if (record.f > this.seq) {
        if (events.length > 0) break; // a gap: this batch ends here
        this.seq = record.f;
      }
      const from = this.seq - record.f;
      let taken = 0;
      for (let i = from; i < record.n && events.length < maxEvents; i++) {
        const size = JSON.stringify(record.e[i]).length;
        if (events.length > 0 && bytes + size > maxBytes) break;
        if (first === 0) first = record.f + i;
        events.push(record.e[i]);
        bytes += size;
        taken++;
      }
      this.seq += taken;
      if (this.seq > end) this.offset = nextOffset;
      if (events.length >= maxEvents || taken < record.n - from) break;
    }
    return events.length === 0 ? undefined : { firstSeq: first, events };
  }

  /** The line at `offset` (without its newline), undefined at the end of what is written, 'gone' when the file is. */
  private readLine(file: string): { line: string; nextOffset: number } | undefined | 'gone' {
    const rel = this.offset - this.windowStart;
    if (rel >= 0 && rel < this.window.length) {
      const nl = this.window.indexOf(10, rel);
      if (nl !== -1) return { line: this.window.subarray(rel, nl).toString('utf8'), nextOffset: this.windowStart + nl + 1 };
    }
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return 'gone';
    }
    try {
      const size = fstatSync(fd).size;
      let chunk = 1024 * 1024;
      for (;;) {
        const len = Math.min(chunk, size - this.offset);
        if (len <= 0) return undefined;
        const buf = Buffer.allocUnsafe(len);
        const n = readSync(fd, buf, 0, len, this.offset);
        const nl = buf.subarray(0, n).indexOf(10);
        if (nl !== -1) {
          this.window = buf.subarray(0, n);
          this.windowStart = this.offset;
          return { line: buf.subarray(0, nl).toString('utf8'), nextOffset: this.offset + nl + 1 };
        }
        if (this.offset + n >= size) return undefined;
        chunk *= 4;
      }
    } finally {
      closeSync(fd);
    }
  }
}
