// Collector with a scripted source and a real spool: events parsed, tagged and numbered, the
// visibility filter, unparsed counting per kind of source, and resume positions that never skip
// a line whose event is still being assembled.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromWireEvent, type KubeArmorWireEvent } from '@kvmservice/auditlog';
import { afterEach, describe, expect, it } from 'vitest';
import { EventSpool } from '../spool.js';
import { Collector } from './collector.js';
import type { LogSource } from './log-source.js';

class ScriptedSource implements LogSource {
  linesTruncated = 0;
  readonly startPosition = null;
  private sink: ((line: string, position: unknown) => void) | undefined;
  constructor(
    readonly key: string,
    readonly kind: 'audit' | 'mixed',
  ) {}
  start(sink: (line: string, position: unknown) => void): void {
    this.sink = sink;
  }
  write(...lines: string[]): void {
    for (const l of lines) this.sink!(l, { line: l.slice(0, 20) });
  }
  async stop(): Promise<void> {}
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(visibility: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'kvmagent-collect-'));
  dirs.push(dir);
  const spool = EventSpool.open({ dir, maxBytes: 1 << 20, sync: false });
  const collector = new Collector({ spool, hostName: 'web-1', visibility: new Set(visibility) as Set<'process'>, flushMs: 10 });
  return { spool, collector };
}

function spooled(spool: EventSpool): KubeArmorWireEvent[] {
  const r = spool.reader(1);
  const out: KubeArmorWireEvent[] = [];
  for (let b = r.next(1000, 1 << 20); b; b = r.next(1000, 1 << 20)) out.push(...(b.events as KubeArmorWireEvent[]));
  return out;
}

const DENIED = (n: number) =>
  `type=AVC msg=audit(1716000000.${String(n).padStart(3, '0')}:${n}): apparmor="DENIED" operation="open" profile="kvms-web" name="/etc/secret-${n}" pid=77 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`;
const EOE = (n: number) => `type=EOE msg=audit(1716000000.${String(n).padStart(3, '0')}:${n}): `;
const EXECVE = [
  'type=SYSCALL msg=audit(1716000001.000:900): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=8 items=1 ppid=1 pid=4321 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="ls" exe="/usr/bin/ls" key="kvmservice-process"',
  'type=EXECVE msg=audit(1716000001.000:900): argc=1 a0="ls"',
  'type=EOE msg=audit(1716000001.000:900): ',
];

describe('Collector', () => {
  it('turns LSM records into numbered wire events tagged with the host', async () => {
    const { spool, collector } = setup();
    const source = new ScriptedSource('file:/a', 'audit');
    collector.add(source);
    source.write(DENIED(1), EOE(1), DENIED(2), EOE(2));
    await collector.stop();
    const events = spooled(spool);
    expect(events.map((e) => [e.seq, e.resource, e.hostName, e.action])).toEqual([
      [1, '/etc/secret-1', 'web-1', 'Block'],
      [2, '/etc/secret-2', 'web-1', 'Block'],
    ]);
    expect(fromWireEvent(events[0]!).lsm?.profile).toBe('kvms-web');
    expect(collector.counters).toMatchObject({ linesRead: 4, eventsParsed: 2, eventsSpooled: 2, linesUnparsed: 0 });
  });

  it('keeps visibility logs only for the kinds visibility asks for; alerts always', async () => {
    const off = setup();
    const a = new ScriptedSource('file:/a', 'audit');
    off.collector.add(a);
    a.write(...EXECVE, DENIED(3), EOE(3));
    await off.collector.stop();
    expect(spooled(off.spool).map((e) => e.operation)).toEqual(['File']);
    expect(off.collector.counters.eventsFiltered).toBe(1);

    const on = setup(['process']);
    const b = new ScriptedSource('file:/a', 'audit');
    on.collector.add(b);
    b.write(...EXECVE, DENIED(3), EOE(3));
    await on.collector.stop();
    expect(spooled(on.spool).map((e) => [e.operation, e.type])).toEqual([
      ['Process', 'HostLog'],
      ['File', 'MatchedHostPolicy'],
    ]);
  });

  it('counts non-records as unparsed in audit logs and as ignored in system logs', async () => {
    const { collector } = setup();
    const audit = new ScriptedSource('file:/var/log/audit/audit.log', 'audit');
    const syslog = new ScriptedSource('file:/var/log/kern.log', 'mixed');
    collector.add(audit);
    collector.add(syslog);
    audit.write('garbage', '', 'type=AVC msg=audit(');
    syslog.write('Jan  1 00:00:00 host kernel: [1.0] eth0: link up', 'Jan  1 00:00:01 host cron[1]: job');
    await collector.stop();
    expect(collector.counters.linesUnparsed).toBe(2);
    expect(collector.counters.linesIgnored).toBe(2);
  });

  it('records as resume position the line before an event still waiting for its EOE', async () => {
    const { spool, collector } = setup(['process']);
    const source = new ScriptedSource('file:/a', 'audit');
    collector.add(source);
    source.write(DENIED(5), EOE(5));
    source.write(EXECVE[0]!, EXECVE[1]!); // no EOE yet
    collector.flush();
    // The SYSCALL line is pending: a restart must read it again, so the position is the EOE(5) line's.
    expect(spool.positions()['file:/a']).toEqual({ line: EOE(5).slice(0, 20) });
    source.write(EXECVE[2]!);
    collector.flush();
    expect(spool.positions()['file:/a']).toEqual({ line: EXECVE[2]!.slice(0, 20) });
    await collector.stop();
  });

  it('emits an event whose EOE never comes, after the parser timeout', async () => {
    let now = 0;
    const dir = mkdtempSync(join(tmpdir(), 'kvmagent-collect-'));
    dirs.push(dir);
    const spool = EventSpool.open({ dir, maxBytes: 1 << 20, sync: false });
    const collector = new Collector({ spool, hostName: 'h', visibility: new Set(), flushMs: 10, now: () => now });
    const source = new ScriptedSource('file:/a', 'audit');
    collector.add(source);
    source.write(DENIED(7)); // AVC without EOE: held for assembly
    now = 5000;
    await new Promise((r) => setTimeout(r, 1300)); // the expiry timer runs once a second
    expect(spooled(spool).map((e) => e.resource)).toEqual(['/etc/secret-7']);
    await collector.stop();
  });
});
