// HostEvent ⇄ wire Event: exact round trip for the events the parser makes from every record
// family (AppArmor, SELinux, Linux-audit syscalls; auditd, syslog, dmesg and journald envelopes) and
// for generated events, the KubeArmor fields and eventData keys of known records, and totality of
// fromWireEvent.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromWireEvent, toWireEvent, type KubeArmorWireEvent } from './kubearmor-event.js';
import { parseLogLines } from './parse-log.js';
import type { HostEvent } from './types.js';

/** What travels: a plain JSON value (as a gRPC client or a JSON consumer would hand it on). */
const overTheWire = (w: KubeArmorWireEvent): KubeArmorWireEvent => JSON.parse(JSON.stringify(w)) as KubeArmorWireEvent;

/** Members set to undefined are absent; the round trip must give back exactly the defined ones. */
function defined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

const hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex').toUpperCase();

/** One of each record family the parser turns into events, in the envelopes the agent reads. */
const CORPUS = [
  // AppArmor: file, exec, capability, network (with SOCKADDR), signal, ptrace, mount, complain-mode ALLOWED, AUDIT, STATUS.
  'type=AVC msg=audit(1716000000.001:11): apparmor="DENIED" operation="open" class="file" profile="/usr/sbin/cupsd" name="/etc/shadow" pid=812 comm="cupsd" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
  'type=AVC msg=audit(1716000000.002:12): apparmor="DENIED" operation="exec" profile="kvms-web" name="/usr/bin/sleep" pid=2420 comm="bash" requested_mask="x" denied_mask="x" fsuid=1000 ouid=0 target="kvms-web//null-/usr/bin/sleep"',
  'type=AVC msg=audit(1716000000.003:13): apparmor="DENIED" operation="capable" profile="kvms-web" pid=3000 comm="ping" capability=13  capname="net_raw"',
  'node=web-1 type=AVC msg=audit(1716000000.004:14): apparmor="DENIED" operation="connect" class="net" profile="/usr/sbin/nginx" pid=3100 comm="nginx" family="inet" sock_type="stream" protocol=6 requested="send receive connect" denied="send receive connect" faddr=10.1.2.3 fport=5432',
  'node=web-1 type=SOCKADDR msg=audit(1716000000.004:14): saddr=020015380A0102030000000000000000',
  'node=web-1 type=EOE msg=audit(1716000000.004:14): ',
  'type=AVC msg=audit(1716000000.005:15): apparmor="DENIED" operation="signal" class="signal" profile="kvms-web" pid=4000 comm="kill" requested_mask="send" denied_mask="send" signal=term peer="unconfined"',
  'type=AVC msg=audit(1716000000.006:16): apparmor="DENIED" operation="ptrace" class="ptrace" profile="kvms-web" pid=4001 comm="strace" requested_mask="trace" denied_mask="trace" peer="unconfined"',
  'type=AVC msg=audit(1716000000.007:17): apparmor="DENIED" operation="mount" class="mount" info="failed flags match" error=-13 profile="kvms-web" name="/mnt/" pid=4002 comm="mount" fstype="tmpfs" srcname="tmpfs"',
  'type=AVC msg=audit(1716000000.008:18): apparmor="ALLOWED" operation="open" class="file" profile="p" name="/x" pid=1 comm="c" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
  'type=AVC msg=audit(1716000000.009:19): apparmor="AUDIT" operation="unlink" profile="kvms-audit" name="/home/a/b" pid=4003 comm="rm" requested_mask="d" fsuid=1000 ouid=1000',
  'type=AVC msg=audit(1716000000.010:20): apparmor="STATUS" operation="profile_load" profile="unconfined" name="/usr/bin/x" pid=1 comm="apparmor_parser"',
  // AppArmor through syslog, dmesg and journald envelopes.
  'Jul 31 17:10:35 host kernel: [ 8.123456] audit: type=1400 audit(1716000001.000:21): apparmor="DENIED" operation="open" profile="p" name="/y" pid=7 comm="c" requested_mask="w" denied_mask="w" fsuid=0 ouid=0',
  '[ 9.000001] audit: type=1400 audit(1716000002.000:22): apparmor="DENIED" operation="file_mmap" profile="p" name="/lib/x.so" pid=8 comm="c" requested_mask="m" denied_mask="m" fsuid=0 ouid=0',
  JSON.stringify({ _TRANSPORT: 'kernel', _HOSTNAME: 'j1', __REALTIME_TIMESTAMP: '1716000003123456', MESSAGE: 'audit: type=1400 audit(1716000003.123:23): apparmor="DENIED" operation="create" class="net" profile="p" pid=9 comm="c" family="inet6" sock_type="dgram" protocol=17 requested_mask="create" denied_mask="create"' }),
  // SELinux: AVC with its SYSCALL and AVC_PATH, a granted AVC, USER_AVC.
  'type=AVC msg=audit(1716000004.000:31): avc:  denied  { ioctl } for  pid=6314 comm="pam_timestamp_c" name="[96391]" dev=pipefs ino=96391 scontext=staff_u:staff_r:pam_t:s0 tcontext=system_u:system_r:xdm_t:s0-s0:c0.c1023 tclass=fifo_file',
  'type=SYSCALL msg=audit(1716000004.000:31): arch=40000003 syscall=54 success=no exit=-22 a0=2 a1=5401 a2=bfb6479c a3=bfb647dc items=0 ppid=6311 pid=6314 auid=500 uid=500 gid=500 euid=0 suid=0 fsuid=0 egid=500 sgid=500 fsgid=500 tty=(none) comm="pam_timestamp_c" exe="/sbin/pam_timestamp_check" subj=staff_u:staff_r:pam_t:s0 key=(null)',
  'type=AVC_PATH msg=audit(1716000004.000:31):  path="pipe:[96391]"',
  'type=EOE msg=audit(1716000004.000:31): ',
  'type=AVC msg=audit(1716000005.000:32): avc:  denied  { name_connect } for  pid=2000 comm="httpd" dest=5432 scontext=system_u:system_r:httpd_t:s0 tcontext=system_u:object_r:postgresql_port_t:s0 tclass=tcp_socket permissive=1',
  'type=AVC msg=audit(1716000006.000:33): avc:  granted  { execute } for  pid=2001 comm="sh" name="ls" dev="dm-0" ino=1 scontext=u:r:a_t:s0 tcontext=u:object_r:bin_t:s0 tclass=file',
  "type=USER_AVC msg=audit(1716000007.000:34): pid=715 uid=103 auid=4294967295 ses=4294967295 subj=system_u:system_r:system_dbusd_t:s0 msg='avc:  denied  { send_msg } for msgtype=method_call interface=org.freedesktop.DBus member=Hello dest=org.freedesktop.DBus spid=2922 scontext=u:r:a_t:s0 tcontext=u:r:b_t:s0 tclass=dbus permissive=0  exe=\"/usr/bin/dbus-daemon\" sauid=103 hostname=? addr=? terminal=?'",
  // Linux-audit syscalls: execve (argv hex-encoded), openat with PATH, connect/bind with SOCKADDR (IPv4, IPv6, unix).
  'type=SYSCALL msg=audit(1716000008.101:501): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=8 items=2 ppid=4000 pid=4321 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="grep" exe="/usr/bin/grep" subj=unconfined key="exec"',
  `type=EXECVE msg=audit(1716000008.101:501): argc=3 a0="grep" a1=${hex('needle with space')} a2="/srv/data"`,
  'type=CWD msg=audit(1716000008.101:501): cwd="/home/alice"',
  'type=PATH msg=audit(1716000008.101:501): item=0 name="/usr/bin/grep" inode=1311 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0',
  `type=PROCTITLE msg=audit(1716000008.101:501): proctitle=${hex('grep\0needle with space\0/srv/data')}`,
  'type=EOE msg=audit(1716000008.101:501): ',
  'type=SYSCALL msg=audit(1716000009.000:502): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7ffd a2=241 a3=1b6 items=1 ppid=1 pid=900 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="sh" exe="/usr/bin/dash" key="kvmservice-file"',
  'type=CWD msg=audit(1716000009.000:502): cwd="/"',
  'type=PATH msg=audit(1716000009.000:502): item=0 name="/etc/passwd" inode=5 dev=fd:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0',
  'type=EOE msg=audit(1716000009.000:502): ',
  'type=SYSCALL msg=audit(1716000010.000:503): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=901 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="curl" exe="/usr/bin/curl" key="kvmservice-network"',
  'type=SOCKADDR msg=audit(1716000010.000:503): saddr=02000035080808080000000000000000',
  'type=EOE msg=audit(1716000010.000:503): ',
  'type=SYSCALL msg=audit(1716000011.000:504): arch=c000003e syscall=49 success=yes exit=0 a0=3 a1=7ffd a2=1c a3=0 items=0 ppid=1 pid=902 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="sshd" exe="/usr/sbin/sshd" key="kvmservice-network"',
  'type=SOCKADDR msg=audit(1716000011.000:504): saddr=0A000016000000000000000000000000000000000000000100000000',
  'type=EOE msg=audit(1716000011.000:504): ',
  'type=SYSCALL msg=audit(1716000012.000:505): arch=c000003e syscall=42 success=no exit=-2 a0=3 a1=7ffd a2=6e a3=0 items=1 ppid=1 pid=903 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="nc" exe="/usr/bin/nc.openbsd" key="kvmservice-network"',
  `type=SOCKADDR msg=audit(1716000012.000:505): saddr=0100${hex('/run/missing.sock')}00`,
  'type=EOE msg=audit(1716000012.000:505): ',
];

function corpusEvents(): { line: number; event: HostEvent }[] {
  return [...parseLogLines(CORPUS)].flatMap((r) => (r.event ? [{ line: r.line, event: r.event }] : []));
}

describe('toWireEvent / fromWireEvent', () => {
  it('round-trips every event the parser makes from each record family exactly', () => {
    const events = corpusEvents();
    expect(events.length).toBeGreaterThanOrEqual(20);
    expect(new Set(events.map((e) => e.event.enforcer))).toEqual(new Set(['AppArmor', 'SELinux', 'Linux-audit']));
    expect([...new Set(events.map((e) => e.event.operation))].sort()).toEqual(expect.arrayContaining(['Capabilities', 'File', 'Network', 'Process']));
    const details = new Set(events.flatMap((e) => (['lsm', 'network', 'file', 'process', 'audit'] as const).filter((k) => e.event[k] !== undefined)));
    expect([...details].sort()).toEqual(['audit', 'file', 'lsm', 'network', 'process']);
    for (const [i, { line, event }] of events.entries()) {
      const wire = overTheWire(toWireEvent(event, i + 1));
      expect(wire.seq).toBe(i + 1);
      expect(fromWireEvent(wire), `line ${line}`).toStrictEqual(defined(event));
    }
  });

  it('puts the KubeArmor fields on top and the structured details in eventData', () => {
    const line =
      'type=AVC msg=audit(1712345678.123:4242): apparmor="DENIED" operation="open" profile="kvms-web" name="/etc/shadow" pid=1234 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=0';
    const [record] = [...parseLogLines([line])];
    const wire = toWireEvent(record!.event!, 7);
    expect(wire).toMatchObject({
      timestamp: 1712345678123 * 1e6,
      updatedTime: '2024-04-05T19:34:38.123Z',
      hostPid: 1234,
      pid: 1234,
      processName: 'cat',
      type: 'MatchedHostPolicy',
      operation: 'File',
      resource: '/etc/shadow',
      enforcer: 'AppArmor',
      action: 'Block',
      result: 'Permission denied',
      seq: 7,
    });
    expect(wire.eventData).toEqual({
      'lsm.aaEvent': 'DENIED',
      'lsm.profile': 'kvms-web',
      'lsm.aaOperation': 'open',
      'lsm.requestedMask': 'r',
      'lsm.deniedMask': 'r',
      'file.path': '/etc/shadow',
      'file.access': '["read"]',
      'file.fsuid': '0',
      'file.ouid': '0',
      'process.comm': 'cat',
      'audit.id': '1712345678.123:4242',
      'audit.epoch': '1712345678',
      'audit.serial': '4242',
      // AppArmor records carry no ppid and no uid: a reader must not take the zeros as root.
      _unset: 'hostPPID,uid',
    });
  });

  it('carries network, SELinux contexts, argv, capability and syscall', () => {
    const event: HostEvent = {
      operation: 'Network',
      action: 'Block',
      result: 'Permission denied',
      enforcer: 'SELinux',
      type: 'MatchedHostPolicy',
      uid: 0,
      hostPID: 10,
      hostPPID: 1,
      timestampMs: 1,
      syscall: 'connect',
      capability: 'net_raw',
      lsm: { scontextType: 'httpd_t', tcontextType: 'postgresql_port_t', scontext: 'system_u:system_r:httpd_t:s0', tclass: 'tcp_socket', permissions: ['name_connect'], permissive: false },
      network: { direction: 'connect', family: 'inet6', protocol: 'tcp', peerAddr: '::1', peerPort: 5432, localPort: 0 },
      process: { argv: ['psql', '-c', 'a,b "c"'], exe: '/usr/bin/psql' },
    };
    const wire = toWireEvent(event, 1);
    expect(wire.uid).toBe(0);
    expect(wire.eventData).toMatchObject({
      'lsm.scontextType': 'httpd_t',
      'lsm.tcontextType': 'postgresql_port_t',
      'lsm.permissions': '["name_connect"]',
      'lsm.permissive': 'false',
      'network.family': 'inet6',
      'network.peerAddr': '::1',
      'network.peerPort': '5432',
      'network.localPort': '0',
      'network.direction': 'connect',
      'process.argv': '["psql","-c","a,b \\"c\\""]',
      capability: 'net_raw',
      syscall: 'connect',
    });
    expect(wire.eventData._unset).toBeUndefined();
    expect(fromWireEvent(overTheWire(wire))).toStrictEqual(defined(event));
  });

  const text = fc.string({ maxLength: 12 });
  const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  const hostEvent: fc.Arbitrary<HostEvent> = fc.record(
    {
      timestamp: opt(text),
      timestampMs: opt(fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.double({ min: 0, max: 4e12, noNaN: true }))),
      hostName: opt(text),
      hostPID: opt(fc.integer({ min: 0, max: 2 ** 22 })),
      hostPPID: opt(fc.integer({ min: 0, max: 2 ** 22 })),
      uid: opt(fc.integer({ min: 0, max: 2 ** 31 - 1 })),
      processName: opt(text),
      parentProcessName: opt(text),
      source: opt(text),
      operation: fc.constantFrom('Process', 'File', 'Network', 'Capabilities', 'Syscall'),
      resource: opt(text),
      data: opt(text),
      action: fc.constantFrom('Allow', 'Audit', 'Block'),
      result: text,
      enforcer: fc.constantFrom('AppArmor', 'SELinux', 'Linux-audit'),
      type: fc.constantFrom('MatchedHostPolicy', 'HostLog', 'SystemEvent'),
      cwd: opt(text),
      capability: opt(text),
      syscall: opt(text),
      lsm: opt(fc.record({ profile: text, deniedMask: text, permissions: fc.array(text), permissive: fc.boolean(), tcontextType: text }, { requiredKeys: [] })),
      network: opt(fc.record({ family: text, localPort: fc.integer({ min: 0, max: 65535 }), peerAddr: text, unixPath: text }, { requiredKeys: [] })),
      file: opt(fc.record({ path: text, access: fc.array(text), flags: fc.array(text), fsuid: fc.integer({ min: -1, max: 70000 }) }, { requiredKeys: ['path', 'access'] })),
      process: opt(fc.record({ exe: text, argv: fc.array(fc.string()), cwd: text }, { requiredKeys: [] })),
      audit: opt(fc.record({ id: text, epoch: fc.nat(), serial: fc.nat(), node: text }, { requiredKeys: ['id', 'epoch', 'serial'] })),
    },
    { requiredKeys: ['operation', 'action', 'result', 'enforcer', 'type'] },
  ) as fc.Arbitrary<HostEvent>;

  it('round-trips generated events: empty strings, zero ids, empty details and sub-millisecond times included', () => {
    fc.assert(
      fc.property(hostEvent, fc.nat(), (event, seq) => {
        expect(fromWireEvent(overTheWire(toWireEvent(event, seq)))).toStrictEqual(defined(event));
      }),
      { numRuns: 1000 },
    );
  });

  it('reads any Event-shaped input without throwing', () => {
    const loose = fc.record(
      {
        timestamp: fc.oneof(fc.integer(), fc.string(), fc.double()),
        operation: fc.string(),
        action: fc.string(),
        enforcer: fc.string(),
        type: fc.string(),
        result: fc.string(),
        hostPid: fc.integer(),
        eventData: fc.dictionary(fc.oneof(fc.constantFrom('_unset', '_empty', 'file.access', 'file.fsuid', 'lsm.permissive', 'audit.epoch', 'timestampMs'), fc.string()), fc.string()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(loose, (w) => {
        const e = fromWireEvent(w);
        expect(['Process', 'File', 'Network', 'Capabilities', 'Syscall']).toContain(e.operation);
        expect(['MatchedHostPolicy', 'HostLog', 'SystemEvent']).toContain(e.type);
      }),
      { numRuns: 2000 },
    );
  });
});
