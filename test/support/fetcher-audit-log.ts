/**
 * A recorded audit log of one learning session of `/usr/local/bin/fetcher`: auditd's multi-record
 * syscall events (it reads its config, connects out, runs tar) and AppArmor's complain-mode records
 * of its learning profile. `firstSerial` and `avcSerial` number the records (distinct per test).
 */
export const FETCHER = '/usr/local/bin/fetcher';
export const FETCHER_PROFILE = 'kubearmor_usrlocalbinfetcher';

const hex2 = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');
const sockaddr = (addr: string, port: number) => `0200${port.toString(16).toUpperCase().padStart(4, '0')}${addr.split('.').map((o) => hex2(Number(o))).join('')}0000000000000000`;

export function fetcherAuditLog(firstSerial: number, avcSerial: number): string[] {
  const lines: string[] = [];
  let serial = firstSerial;
  const event = (nr: number, pid: number, ppid: number, exe: string, extra: [string, string][], paths: string[], key: string) => {
    const id = `1716000000.${String(serial).padStart(3, '0')}:${serial++}`;
    const comm = exe.slice(exe.lastIndexOf('/') + 1);
    lines.push(
      `type=SYSCALL msg=audit(${id}): arch=c000003e syscall=${nr} success=yes exit=3 a0=ffffff9c a1=7ffd a2=0 a3=0 items=${paths.length} ppid=${ppid} pid=${pid} auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=2 comm="${comm}" exe="${exe}" key="${key}"`,
    );
    for (const [type, body] of extra) lines.push(`type=${type} msg=audit(${id}): ${body}`);
    paths.forEach((p, i) => lines.push(`type=PATH msg=audit(${id}): item=${i} name="${p}" inode=${1000 + i} dev=fd:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`));
    lines.push(`type=EOE msg=audit(${id}): `);
  };
  event(257, 700, 1, FETCHER, [['CWD', 'cwd="/"']], ['/etc/fetcher/config.yaml'], 'kvmservice-file');
  event(257, 700, 1, FETCHER, [['CWD', 'cwd="/"']], ['/etc/hosts'], 'kvmservice-file');
  event(42, 700, 1, FETCHER, [['SOCKADDR', `saddr=${sockaddr('203.0.113.7', 443)}`]], [], 'kvmservice-net');
  event(59, 701, 700, '/usr/bin/tar', [['EXECVE', 'argc=2 a0="tar" a1="-xf"'], ['CWD', 'cwd="/"']], ['/usr/bin/tar', '/lib64/ld-linux-x86-64.so.2'], 'kvmservice-process');
  lines.push(`type=AVC msg=audit(1716000001.000:${avcSerial}): apparmor="ALLOWED" operation="open" profile="${FETCHER_PROFILE}" name="/var/lib/fetcher/state.json" pid=700 comm="fetcher" requested_mask="wr" denied_mask="wr" fsuid=0 ouid=0`);
  lines.push(`type=AVC msg=audit(1716000001.001:${avcSerial + 1}): apparmor="ALLOWED" operation="capable" profile="${FETCHER_PROFILE}" pid=700 comm="fetcher" capability=10 capname="net_bind_service"`);
  return lines;
}
