// EventSpool on a real directory: sequence numbers, batches, acks, the byte bound with counted
// drops, recovery after a clean close and after a crash (torn and unreadable records), renumbering.
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventSpool } from './spool.js';

const dirs: string[] = [];
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kvmagent-spool-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const events = (n: number, tag: string) => (first: number) => Array.from({ length: n }, (_, i) => ({ seq: first + i, tag, pad: 'x'.repeat(100) }));

function drain(spool: EventSpool, from = spool.ackedUpTo + 1, maxEvents = 1000, maxBytes = 1 << 20) {
  const reader = spool.reader(from);
  const batches: { firstSeq: number; events: { seq: number; tag: string }[] }[] = [];
  for (let b = reader.next(maxEvents, maxBytes); b; b = reader.next(maxEvents, maxBytes)) batches.push(b as (typeof batches)[number]);
  return batches;
}

describe('EventSpool', () => {
  it('numbers events, reads them back in bounded contiguous batches, forgets what is acked', () => {
    const dir = freshDir();
    const spool = EventSpool.open({ dir, maxBytes: 10 << 20 });
    expect(spool.append(events(3, 'a'), { f: 1 })).toEqual({ first: 1, count: 3 });
    expect(spool.append(events(5, 'b'), { f: 2 })).toEqual({ first: 4, count: 5 });
    expect(spool.nextSeq).toBe(9);
    expect(spool.pendingCount).toBe(8);
    const batches = drain(spool, 1, 4);
    expect(batches.map((b) => [b.firstSeq, b.events.length])).toEqual([
      [1, 4],
      [5, 4],
    ]);
    expect(batches.flatMap((b) => b.events.map((e) => e.seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // A byte bound splits batches too (each event is ~130 bytes as JSON).
    expect(drain(spool, 1, 1000, 300).map((b) => b.events.length)).toEqual([2, 2, 2, 2]);
    spool.ack(5);
    expect(spool.pendingCount).toBe(3);
    expect(drain(spool).flatMap((b) => b.events.map((e) => e.seq))).toEqual([6, 7, 8]);
    // An ack beyond what was given is clamped.
    spool.ack(100);
    expect(spool.ackedUpTo).toBe(8);
    expect(drain(spool)).toEqual([]);
    spool.close();
  });

  it('drops the oldest segments when full, counts every unacked event lost, and batches stop at the gap', () => {
    const dir = freshDir();
    const spool = EventSpool.open({ dir, maxBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    let dropped = 0;
    spool.on('dropped', (n: number) => (dropped += n));
    for (let i = 0; i < 100; i++) spool.append(events(10, `r${i}`)); // ~130 KB of events into 64 KB
    expect(spool.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(spool.droppedTotal).toBeGreaterThan(0);
    expect(spool.droppedTotal).toBe(dropped);
    // Every event is either still spooled or counted as dropped: nothing vanishes.
    const left = drain(spool).flatMap((b) => b.events.map((e) => e.seq));
    expect(left.length + spool.droppedTotal).toBe(1000);
    expect(left[left.length - 1]).toBe(1000);
    expect(left[0]).toBe(spool.droppedTotal + 1);
    spool.close();
  });

  it('counts only unacked events when it drops a segment', () => {
    const dir = freshDir();
    const spool = EventSpool.open({ dir, maxBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    for (let i = 0; i < 20; i++) spool.append(events(10, 'a'));
    spool.ack(150); // part of what will be dropped is acked
    for (let i = 0; i < 80; i++) spool.append(events(10, 'b'));
    const left = drain(spool).flatMap((b) => b.events.map((e) => e.seq));
    expect(150 + spool.droppedTotal + left.length).toBe(1000);
    spool.close();
  });

  it('resumes after a clean close: sequence, ack cursor, pending events, drop count and positions', () => {
    const dir = freshDir();
    const a = EventSpool.open({ dir, maxBytes: 1 << 20 });
    a.append(events(4, 'a'), { 'file:/x': { ino: 1, offset: 100 } });
    a.append(events(4, 'b'), { 'file:/x': { ino: 1, offset: 200 } });
    a.ack(5);
    a.notePositions({ 'file:/x': { ino: 1, offset: 250 }, journald: 'c1' });
    a.close();
    const b = EventSpool.open({ dir, maxBytes: 1 << 20 });
    expect(b.nextSeq).toBe(9);
    expect(b.ackedUpTo).toBe(5);
    expect(b.pendingCount).toBe(3);
    expect(b.positions()).toEqual({ 'file:/x': { ino: 1, offset: 250 }, journald: 'c1' });
    expect(drain(b).flatMap((x) => x.events.map((e) => e.seq))).toEqual([6, 7, 8]);
    expect(b.append(events(1, 'c'))).toEqual({ first: 9, count: 1 });
    b.close();
  });

  it('recovers from a crash: positions from the newest intact record, a torn last record cut off', () => {
    const dir = freshDir();
    const a = EventSpool.open({ dir, maxBytes: 1 << 20 });
    a.append(events(2, 'a'), { src: 10 });
    a.writeMeta(); // meta.json as the lazy timer would have left it
    a.append(events(2, 'b'), { src: 20 });
    // The process dies in the middle of writing the next record: no close(), a torn line.
    const [segment] = readdirSync(dir).filter((f) => f.startsWith('seg-'));
    appendFileSync(join(dir, segment!), '{"f":5,"n":2,"p":{"src":30},"e":[{"seq":5');
    const b = EventSpool.open({ dir, maxBytes: 1 << 20 });
    // The torn record's lines are read again from position 20; its sequence numbers are given again.
    expect(b.positions()).toEqual({ src: 20 });
    expect(b.nextSeq).toBe(5);
    expect(readFileSync(join(dir, segment!), 'utf8').endsWith('}\n')).toBe(true);
    expect(drain(b).flatMap((x) => x.events.map((e) => e.seq))).toEqual([1, 2, 3, 4]);
    b.close();
  });

  it('skips an unreadable record in the middle, counting its events as dropped', () => {
    const dir = freshDir();
    const a = EventSpool.open({ dir, maxBytes: 1 << 20 });
    a.append(events(2, 'a'));
    a.append(events(3, 'b'));
    a.append(events(2, 'c'));
    a.close();
    const [segment] = readdirSync(dir).filter((f) => f.startsWith('seg-'));
    const lines = readFileSync(join(dir, segment!), 'utf8').split('\n');
    lines[1] = 'garbage that is not a record';
    writeFileSync(join(dir, segment!), lines.join('\n'));
    const b = EventSpool.open({ dir, maxBytes: 1 << 20 });
    expect(b.corruptRecords).toBe(1);
    expect(b.droppedTotal).toBe(3);
    expect(drain(b).flatMap((x) => x.events.map((e) => e.seq))).toEqual([1, 2, 6, 7]);
    b.close();
  });

  it('moves a corrupt meta.json aside and rebuilds from the segments', () => {
    const dir = freshDir();
    const a = EventSpool.open({ dir, maxBytes: 1 << 20 });
    a.append(events(3, 'a'), { src: 1 });
    a.close();
    writeFileSync(join(dir, 'meta.json'), '{"acked": 2, "nex');
    const b = EventSpool.open({ dir, maxBytes: 1 << 20 });
    expect(b.nextSeq).toBe(4);
    expect(b.positions()).toEqual({ src: 1 });
    expect(readdirSync(dir).some((f) => f.startsWith('meta.json.corrupt-'))).toBe(true);
    // The ack cursor is lost with the file: events are sent again, which the server de-duplicates.
    expect(b.pendingCount).toBe(3);
    b.close();
  });

  it('renumbers unacked events past a control plane cursor it has never given', () => {
    const dir = freshDir();
    const spool = EventSpool.open({ dir, maxBytes: 1 << 20 });
    spool.append(events(3, 'a'));
    spool.ack(1);
    expect(spool.rebase(5001)).toBe(2);
    expect(spool.ackedUpTo).toBe(5000);
    const batch = drain(spool)[0]!;
    expect(batch.firstSeq).toBe(5001);
    expect(batch.events.map((e) => [e.seq, e.tag])).toEqual([
      [5001, 'a'],
      [5002, 'a'],
    ]);
    expect(spool.nextSeq).toBe(5003);
    spool.close();
  });

  it('drops a record larger than the whole spool and counts it', () => {
    const dir = freshDir();
    const spool = EventSpool.open({ dir, maxBytes: 64 * 1024 });
    spool.append((first) => [{ seq: first, big: 'y'.repeat(70 * 1024) }]);
    spool.append(events(1, 'small'));
    expect(spool.droppedTotal).toBe(1);
    expect(drain(spool).map((b) => b.firstSeq)).toEqual([2]);
    spool.close();
  });

  it('keeps the newest events of a burst larger than the spool, dropping only its oldest', () => {
    const dir = freshDir();
    const spool = EventSpool.open({ dir, maxBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    // One append of ~260 KB (a busy log read at once after a pause).
    spool.append(events(2000, 'burst'), { f: 7 });
    expect(spool.bytes).toBeLessThanOrEqual(64 * 1024);
    const left = drain(spool).flatMap((b) => b.events.map((e) => e.seq));
    expect(left.length).toBeGreaterThan(300);
    expect(left.length + spool.droppedTotal).toBe(2000);
    expect(left).toEqual(Array.from({ length: left.length }, (_, i) => spool.droppedTotal + 1 + i));
    spool.close();
    // The burst's positions are those of its last record.
    const again = EventSpool.open({ dir, maxBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    expect(again.positions()).toEqual({ f: 7 });
    again.close();
  });

  it('keeps reading when the segment under the reader is dropped', () => {
    const dir = freshDir();
    const spool = EventSpool.open({ dir, maxBytes: 64 * 1024, segmentBytes: 16 * 1024 });
    spool.append(events(10, 'a'));
    const reader = spool.reader(1);
    expect(reader.next(5, 1 << 20)!.firstSeq).toBe(1);
    for (let i = 0; i < 60; i++) spool.append(events(10, 'b'));
    const next = reader.next(5, 1 << 20)!;
    expect(next.firstSeq).toBe(spool.droppedTotal + 1);
    spool.close();
  });

  it('deletes segments once everything in them is acked', () => {
    const dir = freshDir();
    const spool = EventSpool.open({ dir, maxBytes: 1 << 20, segmentBytes: 16 * 1024 });
    for (let i = 0; i < 50; i++) spool.append(events(10, 'a'));
    const before = readdirSync(dir).filter((f) => f.startsWith('seg-')).length;
    expect(before).toBeGreaterThan(3);
    spool.ack(spool.nextSeq - 1);
    const after = readdirSync(dir).filter((f) => f.startsWith('seg-'));
    expect(after.length).toBeLessThanOrEqual(1);
    spool.close();
    expect(existsSync(join(dir, 'meta.json'))).toBe(true);
  });
});
