// Multi-record Linux-audit events as auditd writes them (record order of audit_log_exit():
// SYSCALL, then EXECVE/SOCKADDR, CWD, PATH items, PROCTITLE, EOE), assembled by AuditStream.
import { describe, expect, it } from 'vitest';
import { AuditStream } from './audit-stream.js';
import { parseLogLines } from './parse-log.js';
import type { AaLogRecord } from './apparmor-record.js';
import type { HostEvent, ParseResult } from './types.js';

const hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex').toUpperCase();

function syscall(id: string, nr: number, rest: string): string {
  return (
    `type=SYSCALL msg=audit(${id}): arch=c000003e syscall=${nr} ${rest} auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 ` +
    `fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3`
  );
}

const EXECVE_EVENT = [
  syscall('1716000000.101:501', 59, 'success=yes exit=0 a0=55e3c2f0a0 a1=55e3c2f0d0 a2=55e3c2f100 a3=8 items=2 ppid=4000 pid=4321') +
    ' comm="grep" exe="/usr/bin/grep" subj=unconfined key="exec"',
  `type=EXECVE msg=audit(1716000000.101:501): argc=4 a0="grep" a1="-r" a2=${hex('needle with space')} a3="/srv/data"`,
  'type=CWD msg=audit(1716000000.101:501): cwd="/home/alice"',
  'type=PATH msg=audit(1716000000.101:501): item=0 name="/usr/bin/grep" inode=1311 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0',
  'type=PATH msg=audit(1716000000.101:501): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=2049 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0',
  `type=PROCTITLE msg=audit(1716000000.101:501): proctitle=${hex('grep\0-r\0needle with space\0/srv/data')}`,
  'type=EOE msg=audit(1716000000.101:501): ',
];

function run(lines: string[], stream = new AuditStream()): ParseResult[] {
  const out: ParseResult[] = [];
  let now = 0;
  for (const l of lines) out.push(...stream.feed(l, now++));
  out.push(...stream.flush());
  return out;
}

function eventsOf(results: ParseResult[]): HostEvent[] {
  return results.flatMap((r) => (r.event ? [r.event] : []));
}

describe('AuditStream: multi-record Linux-audit events', () => {
  it('assembles execve: argv from EXECVE (hex-encoded argument decoded), cwd, binary from PATH item 0', () => {
    const stream = new AuditStream();
    const before = EXECVE_EVENT.slice(0, -1).flatMap((l, k) => stream.feed(l, k));
    expect(before).toEqual([]); // nothing until EOE
    const out = stream.feed(EXECVE_EVENT[EXECVE_EVENT.length - 1] ?? '', 10);
    expect(out.map((r) => r.line)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const [ev, ...more] = eventsOf(out);
    expect(more).toEqual([]);
    expect(ev).toMatchObject({
      operation: 'Process',
      enforcer: 'Linux-audit',
      type: 'HostLog',
      action: 'Allow',
      result: 'Passed',
      hostPID: 4321,
      hostPPID: 4000,
      uid: 1000,
      processName: '/usr/bin/grep',
      resource: '/usr/bin/grep -r needle with space /srv/data',
      data: 'syscall=SYS_EXECVE key=exec',
      cwd: '/home/alice',
      syscall: 'execve',
      timestamp: '2024-05-18T02:40:00.101Z',
      audit: { id: '1716000000.101:501', epoch: 1716000000, serial: 501 },
      process: { argv: ['grep', '-r', 'needle with space', '/srv/data'], exe: '/usr/bin/grep', comm: 'grep' },
      file: { path: '/usr/bin/grep', access: ['exec'], ouid: 0 },
    });
    expect(out[1]?.record).toMatchObject({ type: 'EXECVE', fields: { a2: 'needle with space' } });
    expect(stream.counters).toMatchObject({ lines: 7, parsed: 7, unparsed: 0, eventsCompleted: 1, pendingEvents: 0 });
  });

  it('joins long arguments split by the kernel into aN[i] chunks across EXECVE records', () => {
    const id = '1716000001.000:600';
    const long = 'x'.repeat(40) + ' y';
    const lines = [
      syscall(id, 59, 'success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=77') + ' comm="sh" exe="/usr/bin/dash" key=(null)',
      `type=EXECVE msg=audit(${id}): argc=3 a0="sh" a1="-c" a2_len=42 a2[0]=${hex(long.slice(0, 20))}`,
      `type=EXECVE msg=audit(${id}): a2[1]=${hex(long.slice(20))}`,
      `type=PATH msg=audit(${id}): item=0 name="/bin/sh" inode=1 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL`,
      `type=EOE msg=audit(${id}): `,
    ];
    const [ev] = eventsOf(run(lines));
    expect(ev?.process?.argv).toEqual(['sh', '-c', long]);
    expect(ev?.resource).toBe(`/bin/sh -c ${long}`);
  });

  it('assembles openat with PATH items: the created file, not its PARENT; flags and access from a2; relative names against CWD', () => {
    const id = '1716000002.500:700';
    const lines = [
      syscall(id, 257, 'success=yes exit=3 a0=ffffff9c a1=7ffd1c a2=241 a3=1b6 items=2 ppid=4000 pid=4400') + ' comm="tee" exe="/usr/bin/tee" key="files"',
      `type=CWD msg=audit(${id}): cwd="/var/lib/app"`,
      `type=PATH msg=audit(${id}): item=0 name="state/" inode=91 dev=fd:00 mode=040755 ouid=998 ogid=998 rdev=00:00 nametype=PARENT`,
      `type=PATH msg=audit(${id}): item=1 name="state/out.json" inode=92 dev=fd:00 mode=0100644 ouid=998 ogid=998 rdev=00:00 nametype=CREATE`,
      `type=PROCTITLE msg=audit(${id}): proctitle=${hex('tee\0state/out.json')}`,
      `type=EOE msg=audit(${id}): `,
    ];
    const [ev] = eventsOf(run(lines));
    expect(ev).toMatchObject({
      operation: 'File',
      resource: '/var/lib/app/state/out.json',
      data: 'syscall=SYS_OPENAT fd=-100 flags=O_WRONLY|O_CREAT|O_TRUNC key=files',
      file: { path: '/var/lib/app/state/out.json', access: ['write', 'create'], flags: ['O_WRONLY', 'O_CREAT', 'O_TRUNC'], fsuid: 1000, ouid: 998 },
      process: { argv: ['tee', 'state/out.json'] },
    });
  });

  it('reports a failed open with its errno', () => {
    const id = '1716000003.000:701';
    const lines = [
      syscall(id, 2, 'success=no exit=-13 a0=7ffd a1=0 a2=0 a3=0 items=1 ppid=1 pid=9') + ' comm="cat" exe="/usr/bin/cat" key=(null)',
      `type=PATH msg=audit(${id}): item=0 name="/etc/shadow" inode=5 dev=fd:00 mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL`,
      `type=EOE msg=audit(${id}): `,
    ];
    const [ev] = eventsOf(run(lines));
    expect(ev).toMatchObject({ operation: 'File', resource: '/etc/shadow', result: 'Permission denied', file: { access: ['read'], flags: ['O_RDONLY'] } });
  });

  it.each([
    ['IPv4 connect', 42, '020001BB5DB8D8220000000000000000', { direction: 'connect', family: 'inet', peerAddr: '93.184.216.34', peerPort: 443 }, 'sa_family=AF_INET sin_port=443 sin_addr=93.184.216.34'],
    [
      'IPv6 connect',
      42,
      '0A0000500000000026062800022000010248189325C8194600000000',
      { direction: 'connect', family: 'inet6', peerAddr: '2606:2800:220:1:248:1893:25c8:1946', peerPort: 80 },
      'sa_family=AF_INET6 sin6_port=80 sin6_addr=2606:2800:220:1:248:1893:25c8:1946',
    ],
    [
      'IPv4-mapped IPv6 connect',
      42,
      '0A001F90' + '00000000' + '00000000000000000000FFFFC0A8010A' + '00000000',
      { family: 'inet6', peerAddr: '::ffff:192.168.1.10', peerPort: 8080 },
      'sa_family=AF_INET6 sin6_port=8080 sin6_addr=::ffff:192.168.1.10',
    ],
    ['unix connect', 42, '01002F72756E2F73797374656D642F6A6F75726E616C2F736F636B657400', { direction: 'connect', family: 'unix', unixPath: '/run/systemd/journal/socket' }, 'sa_family=AF_UNIX sun_path=/run/systemd/journal/socket'],
    ['abstract unix connect', 42, '0100002F746D702F2E5831312D756E69782F5830', { family: 'unix', unixPath: '@/tmp/.X11-unix/X0' }, 'sa_family=AF_UNIX sun_path=@/tmp/.X11-unix/X0'],
    ['IPv4 bind', 49, '02001F90000000000000000000000000', { direction: 'bind', family: 'inet', localAddr: '0.0.0.0', localPort: 8080 }, 'sa_family=AF_INET sin_port=8080 sin_addr=0.0.0.0'],
    ['IPv4 accept4', 288, '0200D4310A0000070000000000000000', { direction: 'accept', family: 'inet', peerAddr: '10.0.0.7', peerPort: 54321 }, 'sa_family=AF_INET sin_port=54321 sin_addr=10.0.0.7'],
  ])('assembles %s with its SOCKADDR', (_name, nr, saddr, network, resource) => {
    const id = `1716000004.${String(nr).padStart(3, '0')}:8${nr}`;
    const lines = [
      syscall(id, nr, 'success=no exit=-115 a0=5 a1=7ffc2a1b3c40 a2=10 a3=0 items=0 ppid=2000 pid=2001') + ' comm="curl" exe="/usr/bin/curl" key="net"',
      `type=SOCKADDR msg=audit(${id}): saddr=${saddr}`,
      `type=PROCTITLE msg=audit(${id}): proctitle=${hex('curl\0https://example.com')}`,
      `type=EOE msg=audit(${id}): `,
    ];
    const [ev] = eventsOf(run(lines));
    expect(ev).toMatchObject({ operation: 'Network', network, resource, data: 'syscall=SYS_' + ev?.syscall?.toUpperCase() + ' fd=5 key=net' });
  });

  it('keeps interleaved events apart and emits each at its own EOE', () => {
    const a = '1716000005.000:900';
    const b = '1716000005.001:901';
    const lines = [
      syscall(a, 257, 'success=yes exit=3 a0=ffffff9c a1=1 a2=0 a3=0 items=1 ppid=1 pid=10') + ' comm="a" exe="/usr/bin/a" key=(null)',
      syscall(b, 42, 'success=yes exit=0 a0=4 a1=1 a2=10 a3=0 items=0 ppid=1 pid=20') + ' comm="b" exe="/usr/bin/b" key=(null)',
      `type=SOCKADDR msg=audit(${b}): saddr=02000035080808080000000000000000`,
      `type=PATH msg=audit(${a}): item=0 name="/etc/hosts" inode=1 dev=fd:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL`,
      `type=EOE msg=audit(${b}): `,
      `type=EOE msg=audit(${a}): `,
    ];
    const stream = new AuditStream();
    const byFeed = lines.map((l, k) => stream.feed(l, k));
    expect(byFeed.map((rs) => rs.map((r) => r.line))).toEqual([[], [], [], [], [2, 3, 5], [1, 4, 6]]);
    const evs = eventsOf(byFeed.flat());
    expect(evs.map((e) => [e.processName, e.operation, e.resource])).toEqual([
      ['/usr/bin/b', 'Network', 'sa_family=AF_INET sin_port=53 sin_addr=8.8.8.8'],
      ['/usr/bin/a', 'File', '/etc/hosts'],
    ]);
  });

  it('puts the event on the AppArmor record, enriched by its SYSCALL, PROCTITLE and node', () => {
    const id = '1716000006.000:950';
    const lines = [
      `node=web-1 type=AVC msg=audit(${id}): apparmor="DENIED" operation="connect" class="net" profile="/usr/sbin/nginx" pid=3100 comm="nginx" family="inet" sock_type="stream" protocol=6 requested="send receive connect" denied="send receive connect" faddr=10.1.2.3 fport=5432`,
      `node=web-1 ${syscall(id, 42, 'success=no exit=-13 a0=7 a1=7ffe a2=10 a3=0 items=0 ppid=3000 pid=3100')} comm="nginx" exe="/usr/sbin/nginx" subj=/usr/sbin/nginx key=(null)`,
      `node=web-1 type=SOCKADDR msg=audit(${id}): saddr=02001538${'0A010203'}0000000000000000`,
      `node=web-1 type=PROCTITLE msg=audit(${id}): proctitle=${hex('nginx: worker process')}`,
      `node=web-1 type=EOE msg=audit(${id}): `,
    ];
    const out = run(lines);
    expect(out.map((r) => r.format)).toEqual(['apparmor', 'audit', 'audit', 'audit', 'audit']);
    expect(out.filter((r) => r.event).map((r) => r.line)).toEqual([1]);
    expect(out[0]?.event).toMatchObject({
      hostName: 'web-1',
      operation: 'Network',
      enforcer: 'AppArmor',
      action: 'Block',
      result: 'Permission denied',
      hostPID: 3100,
      hostPPID: 3000,
      uid: 1000,
      processName: '/usr/sbin/nginx',
      syscall: 'connect',
      lsm: { profile: '/usr/sbin/nginx', aaEvent: 'DENIED', aaOperation: 'connect' },
      network: { direction: 'connect', family: 'inet', sockType: 'stream', protocol: 'tcp', peerAddr: '10.1.2.3', peerPort: 5432 },
      audit: { id, node: 'web-1', serial: 950 },
    });
    expect((out[0]?.record as AaLogRecord).class).toBe('net');
  });

  it('joins AVC_PATH to the SELinux AVCs of its event (sepolgen post-processing)', () => {
    const id = '1162850331.422:978';
    const out = run([
      `type=AVC msg=audit(${id}): avc:  denied  { ioctl } for  pid=6314 comm="pam_timestamp_c" name="[96391]" dev=pipefs ino=96391 scontext=staff_u:staff_r:pam_t:s0 tcontext=system_u:system_r:xdm_t:s0-s0:c0.c1023 tclass=fifo_file`,
      `type=SYSCALL msg=audit(${id}): arch=40000003 syscall=54 success=no exit=-22 a0=2 a1=5401 a2=bfb6479c a3=bfb647dc items=0 ppid=6311 pid=6314 auid=500 uid=500 gid=500 euid=0 suid=0 fsuid=0 egid=500 sgid=500 fsgid=500 tty=(none) comm="pam_timestamp_c" exe="/sbin/pam_timestamp_check" subj=staff_u:staff_r:pam_t:s0 key=(null)`,
      `type=AVC_PATH msg=audit(${id}):  path="pipe:[96391]"`,
    ]);
    expect(out[0]?.record).toMatchObject({ kind: 'AVC', path: 'pipe:[96391]' });
    expect(out[0]?.event).toMatchObject({
      enforcer: 'SELinux',
      operation: 'File',
      resource: 'pipe:[96391]',
      processName: '/sbin/pam_timestamp_check',
      hostPPID: 6311,
      syscall: 'ioctl',
      lsm: { scontextType: 'pam_t', tcontextType: 'xdm_t', tclass: 'fifo_file', permissions: ['ioctl'] },
    });
  });

  it('waits a bounded time for an EOE: by the caller clock, or by later log time', () => {
    const s = new AuditStream({ eventTimeoutMs: 1000, logTimeWindowMs: 2000 });
    const avc =
      'type=AVC msg=audit(1716000007.000:1): apparmor="ALLOWED" operation="open" class="file" profile="p" name="/x" pid=1 comm="c" requested_mask="r" denied_mask="r" fsuid=0 ouid=0';
    expect(s.feed(avc, 5000)).toEqual([]);
    expect(s.flush(5999)).toEqual([]);
    const out = s.flush(6000);
    expect(out.map((r) => r.line)).toEqual([1]);
    expect(out[0]?.event?.file?.path).toBe('/x');

    const s2 = new AuditStream({ eventTimeoutMs: 1_000_000, logTimeWindowMs: 2000 });
    expect(s2.feed(avc, 0)).toEqual([]);
    expect(s2.feed(avc.replace('1716000007.000:1', '1716000008.500:2'), 0)).toEqual([]);
    // 2.5 s of log time later: the first is over, the second still open
    expect(s2.feed(avc.replace('1716000007.000:1', '1716000009.500:3'), 0).map((r) => r.line)).toEqual([1]);
    expect(s2.counters).toMatchObject({ eventsTimedOut: 1, pendingEvents: 2 });
  });

  it('emits single-record user-space events at once', () => {
    const s = new AuditStream();
    const out = s.feed(
      "type=USER_AVC msg=audit(1716000010.000:5): pid=715 uid=103 auid=4294967295 ses=4294967295 subj=unconfined msg='apparmor=\"DENIED\" operation=\"dbus_method_call\"  bus=\"system\" path=\"/org/freedesktop/systemd1\" interface=\"org.freedesktop.systemd1.Manager\" member=\"GetUnit\" mask=\"send\" name=\"org.freedesktop.systemd1\" pid=2330 label=\"snap.x\" peer_pid=1 peer_label=\"unconfined\"  exe=\"/usr/bin/dbus-daemon\" sauid=103 hostname=? addr=? terminal=?'",
      0,
    );
    expect(out.length).toBe(1);
    expect(out[0]?.event).toMatchObject({ operation: 'Syscall', enforcer: 'AppArmor', hostPID: 2330, lsm: { profile: 'snap.x' } });
  });

  it('bounds memory: too many pending events evicts the oldest early, too many records per event are emitted alone', () => {
    const s = new AuditStream({ maxPendingEvents: 2, maxRecordsPerEvent: 2, eventTimeoutMs: 1e9, logTimeWindowMs: 1e9 });
    const rec = (serial: number): string => `type=CWD msg=audit(1716000011.000:${serial}): cwd="/"`;
    expect(s.feed(rec(1), 0)).toEqual([]);
    expect(s.feed(rec(2), 0)).toEqual([]);
    expect(s.feed(rec(3), 0).map((r) => r.line)).toEqual([1]);
    expect(s.feed(rec(3), 0)).toEqual([]);
    expect(s.feed(rec(3), 0).map((r) => r.line)).toEqual([5]); // third record of serial 3
    expect(s.counters).toMatchObject({ lines: 5, eventsEvictedEarly: 1, droppedByBound: 1, pendingEvents: 2 });
    expect(s.flush().map((r) => r.line)).toEqual([2, 3, 4]);
  });

  it('bounds pending text: an event over maxPendingChars is emitted at once', () => {
    const s = new AuditStream({ maxPendingChars: 100, eventTimeoutMs: 1e9, logTimeWindowMs: 1e9 });
    const out = s.feed(`type=CWD msg=audit(1716000012.000:1): cwd="${'a'.repeat(200)}"`, 0);
    expect(out.map((r) => r.line)).toEqual([1]);
    expect(s.counters.eventsEvictedEarly).toBe(1);
  });

  it('names the parent process from an earlier exec of the parent pid', () => {
    const parentExec = EXECVE_EVENT.map((l) => l.replace('pid=4321', 'pid=4000').replace('ppid=4000', 'ppid=1'));
    const out = run([...parentExec, ...EXECVE_EVENT.map((l) => l.replace(/1716000000\.101:501/g, '1716000000.200:502'))]);
    const evs = eventsOf(out);
    expect(evs.map((e) => [e.hostPID, e.parentProcessName, e.source])).toEqual([
      [4000, undefined, '/usr/bin/grep'],
      [4321, '/usr/bin/grep', '/usr/bin/grep'],
    ]);
  });

  it('returns every fed line exactly once and counts unparsed lines', () => {
    const lines = [...EXECVE_EVENT.slice(0, 3), '', 'random words', '\u0000\u0001binary', ...EXECVE_EVENT.slice(3)];
    const s = new AuditStream();
    const out = run(lines, s);
    expect(out.map((r) => r.line).sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(lines.map((_, k) => k + 1));
    expect(s.counters).toMatchObject({ lines: 10, parsed: 7, unparsed: 3 });
  });
});

describe('parseLogLines', () => {
  it('yields one record per line, in input order, with the assembled event on the SYSCALL line', () => {
    const lines = ['junk', ...EXECVE_EVENT, 'type=AVC msg=audit(1716000000.300:503): apparmor="STATUS" operation="profile_load" profile="unconfined" name="/usr/bin/x" pid=1 comm="apparmor_parser"'];
    const out = [...parseLogLines(lines)];
    expect(out.map((r) => [r.line, r.format])).toEqual([
      [1, 'unparsed'],
      [2, 'audit'],
      [3, 'audit'],
      [4, 'audit'],
      [5, 'audit'],
      [6, 'audit'],
      [7, 'audit'],
      [8, 'audit'],
      [9, 'apparmor'],
    ]);
    expect(out[1]?.event?.operation).toBe('Process');
    expect(out[8]?.event).toMatchObject({ type: 'SystemEvent', resource: '/usr/bin/x' });
    expect(out.filter((r) => r.event).length).toBe(2);
  });

  it('does not hold lines back longer than maxEventSpanLines for an event without EOE', () => {
    const avc = 'type=AVC msg=audit(1716000000.400:504): apparmor="DENIED" operation="open" profile="p" name="/y" pid=1 comm="c" requested_mask="r" denied_mask="r" fsuid=0 ouid=0';
    const gen = parseLogLines(
      (function* () {
        yield avc;
        for (let k = 0; k < 50; k++) yield 'noise';
        throw new Error('input should not be read this far before the AVC is emitted');
      })(),
      { maxEventSpanLines: 10 },
    );
    const first = gen.next();
    expect(first.value).toMatchObject({ line: 1, format: 'apparmor', event: { resource: '/y' } });
  });
});
