import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLogLines, splitLines } from '@kvmservice/auditlog';
import { kvmctl } from '../testing/run.js';

const LOG = [
  'type=AVC msg=audit(1717259989.360:120): apparmor="DENIED" operation="open" profile="kubearmor.host" name="/etc/shadow" pid=2420 comm="cat" requested_mask="r" denied_mask="r" fsuid=1000 ouid=0',
  'type=AVC msg=audit(1717259990.100:121): avc:  denied  { read } for  pid=2421 comm="cat" name="shadow" dev="sda1" ino=1234 scontext=user_u:user_r:user_t:s0 tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0',
  'type=SYSCALL msg=audit(1717259991.000:122): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2422 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="ls" exe="/usr/bin/ls" key=(null)',
  'type=EXECVE msg=audit(1717259991.000:122): argc=1 a0="ls"',
  'type=EOE msg=audit(1717259991.000:122): ',
  'this is not an audit record',
  '\u0000\u0001\u0002 binary',
].join('\n');

describe('kvmctl parse-log', () => {
  it('prints the library JSON Lines, one per input line in order, from stdin', async () => {
    const r = await kvmctl(['parse-log'], LOG);
    expect(r.code).toBe(0);
    const expected = [...parseLogLines(splitLines(LOG))].map((x) => JSON.stringify(x));
    expect(r.stdout).toBe(expected.map((l) => `${l}\n`).join(''));
    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { line: number; format: string; event?: { operation: string; action: string; resource?: string } });
    expect(records.map((x) => x.line)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(records.map((x) => x.format)).toEqual(['apparmor', 'selinux', 'audit', 'audit', 'audit', 'unparsed', 'unparsed']);
    expect(records[0]!.event).toMatchObject({ operation: 'File', action: 'Block', resource: '/etc/shadow' });
    // Unparsed lines are reported in the output and counted on stderr, never dropped.
    expect(r.stderr).toBe('2 of 7 lines unparsed (format "unparsed" in the output)\n');
  });

  it('reads a file with -f and names a missing one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvmctl-parse-log-'));
    writeFileSync(join(dir, 'audit.log'), `${LOG}\r\n`);
    const r = await kvmctl(['parse-log', '-f', join(dir, 'audit.log'), '-o', 'json']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(7);
    const missing = await kvmctl(['parse-log', '-f', join(dir, 'nope.log')]);
    expect(missing).toEqual({ code: 1, stdout: '', stderr: `error: ${join(dir, 'nope.log')}: no such file or directory\n` });
    expect((await kvmctl(['parse-log', '-o', 'yaml'])).code).toBe(2);
  });

  it('never fails on garbage', async () => {
    for (const input of ['', '\n\n\n', 'x'.repeat(1 << 20), 'type=AVC msg=audit(', '\uFFFD\uD800 msg=audit(1.1:1): apparmor="']) {
      const r = await kvmctl(['parse-log'], input);
      expect(r.code).toBe(0);
      const n = [...splitLines(input)].length;
      expect(r.stdout === '' ? 0 : r.stdout.trim().split('\n').length).toBe(n);
    }
  });
});
