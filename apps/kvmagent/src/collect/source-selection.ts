/**
 * Which audit sources to follow. Chosen automatically unless `--log-source` says: auditd's log
 * when auditd writes one (it then receives the kernel's audit records, AppArmor and SELinux
 * included), else the journal (audit and kernel transports), else the kernel's syslog file, else
 * the kernel ring buffer. One source, because the same records would otherwise arrive twice.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export type SourceSpec = { type: 'file'; path: string } | { type: 'journald' } | { type: 'dmesg' };

export interface SourceProbe {
  exists(path: string): boolean;
  hasCommand(command: string): boolean;
}

export const systemProbe: SourceProbe = {
  exists: existsSync,
  hasCommand: (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0,
};

export interface SourceChoice {
  sources: SourceSpec[];
  /** Why these (for the log). */
  reason: string;
}

export function chooseSources(requested: readonly string[], probe: SourceProbe = systemProbe): SourceChoice {
  if (requested.includes('none')) return { sources: [], reason: '--log-source none' };
  if (requested.length > 0) {
    return {
      sources: requested.map((r): SourceSpec => (r === 'journald' ? { type: 'journald' } : r === 'dmesg' ? { type: 'dmesg' } : { type: 'file', path: r })),
      reason: '--log-source',
    };
  }
  if (probe.exists('/var/log/audit/audit.log')) return { sources: [{ type: 'file', path: '/var/log/audit/audit.log' }], reason: 'auditd writes /var/log/audit/audit.log' };
  if (probe.exists('/run/systemd/journal/socket') && probe.hasCommand('journalctl')) return { sources: [{ type: 'journald' }], reason: 'no audit.log; journald is running' };
  for (const path of ['/var/log/kern.log', '/var/log/syslog', '/var/log/messages']) {
    if (probe.exists(path)) return { sources: [{ type: 'file', path }], reason: `no audit.log or journald; ${path} exists` };
  }
  if (probe.hasCommand('dmesg')) return { sources: [{ type: 'dmesg' }], reason: 'no log file found; reading the kernel ring buffer' };
  return { sources: [], reason: 'no audit source found (no audit.log, journald, kernel log file or dmesg)' };
}
