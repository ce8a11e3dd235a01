// Property and fuzz tests for the audit log parser: random text, binary garbage, seeded
// mutations and truncations of real records (libapparmor's test_multi lines, sepolgen's logs,
// Linux-audit events), 1 MB lines. Every line must give a result (never a throw), in bounded
// time, serialisable as JSON; the stream must return every line exactly once and keep its
// pending state within its bounds.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuditStream, parseAppArmorRecord, parseLine, parseLogLines, splitLines, type ParseResult } from '@kvmservice/auditlog';
import { conformanceDir } from '../support/conformance.js';

const SEED = Number(process.env.KVMSERVICE_FUZZ_SEED ?? 424242);
// A hang is unbounded; this bound is three orders of magnitude above a normal line (µs), so
// it only trips on runaway work, not on a slow machine.
const PER_LINE_LIMIT_MS = 2000;

const testMulti = conformanceDir('apparmor', 'test_multi');
const selinux = conformanceDir('selinux');
const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex').toUpperCase();

const SEEDS: string[] = [
  ...readdirSync(testMulti)
    .filter((f) => f.endsWith('.in'))
    .map((f) => readFileSync(join(testMulti, f), 'utf8').replace(/\n$/, '')),
  ...[...splitLines(readFileSync(join(selinux, 'audit2allow__test.log'), 'utf8'))],
  ...[...splitLines(readFileSync(join(selinux, 'sepolgen__tests__test_data__short.log'), 'utf8'))],
  'type=SYSCALL msg=audit(1716000000.101:501): arch=c000003e syscall=59 success=yes exit=0 a0=55e3 a1=55e3 a2=55e3 a3=8 items=2 ppid=4000 pid=4321 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="grep" exe="/usr/bin/grep" key="exec"',
  `type=EXECVE msg=audit(1716000000.101:501): argc=3 a0="grep" a1_len=8 a1[0]=${hex('need')} a1[1]=${hex('le x')} a2="/srv"`,
  'type=CWD msg=audit(1716000000.101:501): cwd="/home/alice"',
  'type=PATH msg=audit(1716000000.101:501): item=0 name="/usr/bin/grep" inode=1311 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL',
  `type=PROCTITLE msg=audit(1716000000.101:501): proctitle=${hex('grep\0needle\0/srv')}`,
  'type=SOCKADDR msg=audit(1716000000.101:501): saddr=0A0000500000000026062800022000010248189325C8194600000000',
  'type=EOE msg=audit(1716000000.101:501): ',
  '{"_TRANSPORT":"audit","_AUDIT_TYPE":"1400","_AUDIT_ID":"7","_SOURCE_REALTIME_TIMESTAMP":"1716001234567000","MESSAGE":"AVC apparmor=\\"DENIED\\" operation=\\"open\\" profile=\\"p\\" name=\\"/x\\" pid=1 comm=\\"c\\""}',
  'node=h type=USER_AVC msg=audit(1.2:3): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=x msg=\'apparmor="DENIED" operation="dbus_bind" bus="system" name="a" mask="bind" pid=2 label="l" exe="/e" sauid=0 hostname=? addr=? terminal=?\'',
];

const INSERTS = ['"', "'", '=', ' ', '\t', '\x1d', '\n', '\r', '\0', '(', ')', ':', '.', '-', '[', ']', '{', '}', 'apparmor=', 'type=', 'msg=audit(', 'avc:', '41', 'ZZ', 'é', '\ud800', 'node=x ', '"DENIED"'];

/** A seeded mutation of a real line: insert, delete, duplicate or replace a span. */
const mutatedLine = fc
  .tuple(
    fc.constantFrom(...SEEDS),
    fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.constantFrom(...INSERTS), fc.nat({ max: 40 })), { minLength: 1, maxLength: 6 }),
  )
  .map(([base, edits]) => {
    let s = base;
    for (const [pos, op, ins, len] of edits) {
      const p = s.length === 0 ? 0 : pos % (s.length + 1);
      if (op === 0) s = s.slice(0, p) + ins + s.slice(p);
      else if (op === 1) s = s.slice(0, p) + s.slice(p + 1 + (len % 8));
      else if (op === 2) s = s.slice(0, p) + s.slice(p, p + len) + s.slice(p);
      else s = s.slice(0, p) + ins + s.slice(p + ins.length);
    }
    return s;
  });

const truncatedLine = fc.tuple(fc.constantFrom(...SEEDS), fc.nat()).map(([s, n]) => s.slice(0, n % (s.length + 1)));
const randomText = fc.string({ unit: 'binary', maxLength: 400 });
const binaryGarbage = fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b).toString('latin1'));
const kvSoup = fc
  .array(fc.tuple(fc.constantFrom('type', 'msg', 'apparmor', 'name', 'pid', 'saddr', 'a0', 'proctitle', 'scontext', 'avc:', 'node'), fc.string({ maxLength: 12 })), {
    maxLength: 30,
  })
  .map((kvs) => kvs.map(([k, v]) => `${k}=${v}`).join(' '));

let linesChecked = 0;
let slowest = 0;

/** parseLine must return a well-formed result, quickly, that JSON can carry. */
function checkLine(line: string): ParseResult {
  const t0 = performance.now();
  const r = parseLine(line);
  parseAppArmorRecord(line);
  const dt = performance.now() - t0;
  slowest = Math.max(slowest, dt);
  linesChecked++;
  expect(['apparmor', 'selinux', 'audit', 'unparsed']).toContain(r.format);
  expect(r.record).toBeTypeOf('object');
  expect(() => JSON.stringify(r)).not.toThrow();
  expect(dt, `line took ${dt.toFixed(1)} ms: ${JSON.stringify(line.slice(0, 200))}`).toBeLessThan(PER_LINE_LIMIT_MS);
  return r;
}

describe('audit log parser under fuzzing', () => {
  it('never throws or hangs on random text, binary garbage and key=value soup', () => {
    fc.assert(fc.property(fc.oneof(randomText, binaryGarbage, kvSoup), (line) => void checkLine(line)), { numRuns: 4000, seed: SEED });
  });

  it('never throws or hangs on mutated and truncated real records', () => {
    fc.assert(fc.property(fc.oneof(mutatedLine, truncatedLine), (line) => void checkLine(line)), { numRuns: 7000, seed: SEED + 1 });
  });

  it('handles every truncation of every seed line', () => {
    for (const s of SEEDS.slice(0, 60)) for (let n = 0; n <= s.length; n += 3) checkLine(s.slice(0, n));
  });

  it('handles 1 MB lines: refused as too long by default, parsed in linear time when allowed', () => {
    const big = [
      'x'.repeat(1 << 20),
      'type=AVC msg=audit(1.2:3): apparmor="DENIED" ' + 'name="/a" '.repeat(100_000),
      'type=AVC msg=audit(1.2:3): apparmor="DENIED" info="' + 'a'.repeat(1 << 20),
      'type=SYSCALL msg=audit(1.2:3): ' + 'k=v '.repeat(260_000),
      '{"MESSAGE":"' + 'apparmor= '.repeat(100_000) + '"}',
      'type=AVC msg=audit(1.2:3): avc:  denied  { ' + 'read '.repeat(200_000) + '} for scontext=a:b:c tcontext=a:b:c tclass=file',
      'Jan  1 00:00:00 ' + 'h'.repeat(1 << 20),
      '[' + ' '.repeat(1 << 20),
      Buffer.from(Array.from({ length: 1 << 20 }, (_, k) => (k * 7919) & 0xff)).toString('latin1'),
    ];
    for (const line of big) {
      const r = checkLine(line);
      expect(r).toMatchObject({ format: 'unparsed', record: { reason: 'too-long', length: line.length } });
      const t0 = performance.now();
      const full = parseLine(line, { maxLineLength: 2 << 20 });
      const dt = performance.now() - t0;
      expect(() => JSON.stringify(full)).not.toThrow();
      expect(dt, `1 MB line took ${dt.toFixed(0)} ms`).toBeLessThan(5000);
    }
  });

  it('returns every line of a fuzzed stream exactly once and stays within its bounds', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(mutatedLine, truncatedLine, fc.constantFrom(...SEEDS)), { minLength: 1, maxLength: 120 }), (lines) => {
        const s = new AuditStream({ maxPendingEvents: 8, maxRecordsPerEvent: 4, maxPendingChars: 4000 });
        const seen: number[] = [];
        let now = 0;
        for (const l of lines) {
          for (const r of s.feed(l, (now += 7))) seen.push(r.line ?? -1);
          expect(s.counters.pendingEvents).toBeLessThanOrEqual(8);
        }
        for (const r of s.flush()) seen.push(r.line ?? -1);
        expect(seen.sort((a, b) => a - b)).toEqual(lines.map((_, k) => k + 1));
        const c = s.counters;
        expect(c.lines).toBe(lines.length);
        expect(c.parsed + c.unparsed).toBe(lines.length);
        expect(c.pendingEvents).toBe(0);
        const ordered = [...parseLogLines(lines, { maxEventSpanLines: 5 })];
        expect(ordered.map((r) => r.line)).toEqual(lines.map((_, k) => k + 1));
        linesChecked += lines.length;
      }),
      { numRuns: 300, seed: SEED + 2 },
    );
  });

  it('checked at least 10 000 lines', () => {
    expect(linesChecked).toBeGreaterThanOrEqual(10_000);
    console.log(`auditlog fuzz: ${linesChecked} lines, slowest single line ${slowest.toFixed(2)} ms`);
  });
});
