// Line framing and format detection: the same AppArmor denial written by auditd, syslog
// (BSD and RFC 3339), dmesg, journald (both transports) and the kernel's bare form must give
// the same libapparmor record; Linux-audit records keep their fields as data.
import { describe, expect, it } from 'vitest';
import { parseFields } from './fields.js';
import { frameLine } from './framing.js';
import { parseLine } from './parse-line.js';
import { decodeSockAddr } from './sockaddr.js';
import type { AaLogRecord } from './apparmor-record.js';

const FIELDS =
  'apparmor="DENIED" operation="open" class="file" profile="/usr/sbin/cupsd" name="/etc/shadow" pid=812 comm="cupsd" requested_mask="r" denied_mask="r" fsuid=0 ouid=0';
const ID = '1716001234.567:4242';
const EXPECTED: AaLogRecord = {
  event: 'DENIED',
  audit_id: ID,
  epoch: 1716001234,
  audit_sub_id: 4242,
  operation: 'open',
  class: 'file',
  profile: '/usr/sbin/cupsd',
  name: '/etc/shadow',
  pid: 812,
  comm: 'cupsd',
  requested_mask: 'r',
  denied_mask: 'r',
  fsuid: 0,
  ouid: 0,
};

const journal = (o: Record<string, unknown>): string => JSON.stringify(o);

describe('the same AppArmor record in every envelope', () => {
  it.each([
    ['auditd', `type=AVC msg=audit(${ID}): ${FIELDS}`, {}],
    ['auditd with node=', `node=db-7.example type=AVC msg=audit(${ID}): ${FIELDS}`, { hostName: 'db-7.example' }],
    ['kernel bare form', `type=1400 audit(${ID}): ${FIELDS}`, {}],
    ['printk form', `audit: type=1400 audit(${ID}): ${FIELDS}`, {}],
    ['dmesg', `[ 4123.556677] audit: type=1400 audit(${ID}): ${FIELDS}`, {}],
    ['dmesg, short stamp', `[   12.3] audit: type=1400 audit(${ID}): ${FIELDS}`, {}],
    ['BSD syslog', `May 18 03:00:34 web-1 kernel: [ 4123.556677] audit: type=1400 audit(${ID}): ${FIELDS}`, { hostName: 'web-1' }],
    ['RFC 3339 syslog', `2024-05-18T03:00:34.567891+00:00 web-1 kernel: audit: type=1400 audit(${ID}): ${FIELDS}`, { hostName: 'web-1' }],
    ['audisp-syslog', `May 18 03:00:34 web-1 audisp-syslog: type=AVC msg=audit(${ID}): ${FIELDS}`, { hostName: 'web-1' }],
    [
      'journald, kernel transport',
      journal({ _TRANSPORT: 'kernel', _HOSTNAME: 'web-2', __REALTIME_TIMESTAMP: '1716001234600000', MESSAGE: `audit: type=1400 audit(${ID}): ${FIELDS}` }),
      { hostName: 'web-2' },
    ],
    [
      'journald, audit transport',
      journal({
        _TRANSPORT: 'audit',
        _HOSTNAME: 'web-3',
        _AUDIT_TYPE: '1400',
        _AUDIT_TYPE_NAME: 'AVC',
        _AUDIT_ID: '4242',
        _SOURCE_REALTIME_TIMESTAMP: '1716001234567000',
        __REALTIME_TIMESTAMP: '1716001234600000',
        MESSAGE: `AVC ${FIELDS}`,
      }),
      { hostName: 'web-3' },
    ],
    [
      'journald, MESSAGE as bytes',
      journal({ _TRANSPORT: 'kernel', MESSAGE: [...Buffer.from(`audit: type=1400 audit(${ID}): ${FIELDS}`)] }),
      {},
    ],
  ])('%s', (_name, line, extra) => {
    const r = parseLine(line);
    expect(r.format).toBe('apparmor');
    expect(r.record).toEqual(EXPECTED);
    expect(r.event).toMatchObject({
      operation: 'File',
      resource: '/etc/shadow',
      action: 'Block',
      result: 'Permission denied',
      enforcer: 'AppArmor',
      hostPID: 812,
      timestamp: '2024-05-18T03:00:34.567Z',
      lsm: { profile: '/usr/sbin/cupsd' },
      file: { path: '/etc/shadow', access: ['read'], fsuid: 0, ouid: 0 },
      audit: { id: ID, epoch: 1716001234, serial: 4242 },
      ...extra,
    });
  });

  it('dbus-daemon in syslog: no audit header, still the record', () => {
    const r = parseLine(
      'Jul 31 17:10:35 host dbus-daemon[1692]: apparmor="DENIED" operation="dbus_method_call"  bus="session" name="org.freedesktop.DBus" path="/org/freedesktop/DBus" interface="org.freedesktop.DBus" member="Hello" mask="send" pid=2922 profile="/usr/bin/app" peer_profile="unconfined"',
    );
    expect(r.format).toBe('apparmor');
    expect(r.event).toMatchObject({ operation: 'Syscall', hostName: 'host', resource: 'org.freedesktop.DBus', lsm: { profile: '/usr/bin/app' } });
    expect(r.event?.timestamp).toBeUndefined(); // BSD syslog has no year
  });
});

describe('Linux-audit records', () => {
  it('keeps fields as data: quotes removed, hex-encoded untrusted strings decoded, registers left alone', () => {
    const r = parseLine(
      'type=SYSCALL msg=audit(1716001300.001:77): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=10 a2=0 a3=0 items=1 ppid=1 pid=55 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=6D7920636174 exe="/usr/bin/cat" key=(null)\x1dARCH=x86_64 SYSCALL=openat AUID="unset" UID="root"',
    );
    expect(r.format).toBe('audit');
    expect(r.record).toMatchObject({
      type: 'SYSCALL',
      audit_id: '1716001300.001:77',
      epoch: 1716001300,
      ms: 1,
      serial: 77,
      fields: { comm: 'my cat', a1: '10', key: '(null)', tty: '(none)', SYSCALL: 'openat', UID: 'root' },
    });
    expect(r.event).toMatchObject({ operation: 'File', syscall: 'openat', processName: '/usr/bin/cat', uid: 0 });
  });

  it('does not let later text replace a field the kernel wrote first', () => {
    const f = parseFields('pid=1 comm="x pid=2" pid=3 exe=2F62696E2F7368');
    expect({ ...f }).toEqual({ pid: '1', comm: 'x pid=2', exe: '/bin/sh' });
  });

  it('reads the old DAEMON_START header (no colon) and unknown numeric types', () => {
    const d = parseLine('type=DAEMON_START msg=audit(1162905957.883:2600) auditd start, ver=1.2.9, format=raw, auid=4294967295 pid=2166 res=success, auditd pid=21');
    expect(d).toMatchObject({ format: 'audit', record: { type: 'DAEMON_START', serial: 2600 } });
    const u = parseLine('audit: type=1999 audit(1716001300.001:78): foo=bar');
    expect(u).toMatchObject({ format: 'audit', record: { type: 'UNKNOWN[1999]', fields: { foo: 'bar' } } });
  });

  it('decodes SOCKADDR addresses', () => {
    expect(decodeSockAddr('0200005000000000')).toEqual({ family: 'inet', familyNumber: 2, port: 80, addr: '0.0.0.0' });
    expect(decodeSockAddr('0A000035000000000000000000000000000000000000000100000000')).toMatchObject({ family: 'inet6', port: 53, addr: '::1' });
    expect(decodeSockAddr('10000000000000000000000000000000')).toMatchObject({ family: 'netlink', netlinkPid: 0 });
    expect(decodeSockAddr('zz')).toBeUndefined();
  });
});

describe('unparsed lines', () => {
  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['{"MESSAGE": "trunc', 'malformed-json'],
    ['Oct 29 07:55:58 jory01-ubuntu syslogd 1.5.0#2ubuntu6: restart.', 'not-an-audit-record'],
    ['type=SYSCALL msg=audit(1716001300.0', 'truncated'],
    ['x'.repeat(70_000), 'too-long'],
  ])('%j is reported as %s, with its length and first characters', (line, reason) => {
    const r = parseLine(line);
    expect(r.format).toBe('unparsed');
    expect(r.record).toEqual({ reason, length: line.length, text: line.slice(0, 200) });
  });

  it('frames without throwing on binary garbage', () => {
    const f = frameLine('\u0000\u00ff\ud800type=');
    expect(f.body.length).toBeGreaterThan(0);
  });
});
