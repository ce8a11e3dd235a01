/**
 * Visibility → Linux-audit rules (auditctl), so that allowed actions are logged too, not only
 * what an LSM denied or audited. The rules are scoped so that a busy host is not flooded:
 *
 *   process   execve/execveat (64-bit; and 32-bit on x86_64)
 *   file      opens that failed with EACCES/EPERM, and successful opens by login sessions
 *             (auid >= 1000, set) — daemons' routine opens are left out
 *   network   connect/bind with an IPv4 or IPv6 address (addrlen 16 or 28; Unix sockets, the bulk
 *             of local traffic, are left out); accept is left out (every inbound connection of a
 *             busy server) — listening services show by their bind
 *   capabilities  no rule: capability use is seen through the LSM's own records
 *
 * Every rule carries a key `kvmservice-<kind>`, which is how the agent finds and removes its own
 * rules (`auditctl -D -k`) and nobody else's. Rules stay in the kernel while the agent is stopped
 * (like loaded profiles) and are removed when visibility is turned off.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import type { VisibilityKind } from '../config.js';
import type { ArtifactResult } from '../desired.js';
import { writeFileAtomic } from '../state-dir.js';

export const RULE_KEY_PREFIX = 'kvmservice-';

export interface AuditRule {
  kind: VisibilityKind;
  args: string[];
}

/** The rules for a visibility set on an architecture (`process.arch` naming). Pure. */
export function auditRulesFor(visibility: ReadonlySet<VisibilityKind>, arch: string = process.arch, keyPrefix = RULE_KEY_PREFIX): AuditRule[] {
  const archs = arch === 'x64' ? ['b64', 'b32'] : ['b64'];
  // aarch64 and newer architectures have no open(2) and creat(2).
  const opens = arch === 'x64' ? 'open,openat,openat2,creat' : 'openat,openat2';
  const rules: AuditRule[] = [];
  const rule = (kind: VisibilityKind, ...args: string[]) => rules.push({ kind, args: ['-a', 'always,exit', ...args, '-k', `${keyPrefix}${kind}`] });
  if (visibility.has('process')) for (const a of archs) rule('process', '-F', `arch=${a}`, '-S', 'execve,execveat');
  if (visibility.has('file')) {
    rule('file', '-F', 'arch=b64', '-S', opens, '-F', 'exit=-EACCES');
    rule('file', '-F', 'arch=b64', '-S', opens, '-F', 'exit=-EPERM');
    rule('file', '-F', 'arch=b64', '-S', opens, '-F', 'success=1', '-F', 'auid>=1000', '-F', 'auid!=4294967295');
  }
  if (visibility.has('network')) {
    rule('network', '-F', 'arch=b64', '-S', 'connect,bind', '-F', 'a2=16');
    rule('network', '-F', 'arch=b64', '-S', 'connect,bind', '-F', 'a2=28');
  }
  return rules;
}

export function rulesText(rules: readonly AuditRule[]): string {
  return rules.map((r) => `auditctl ${r.args.join(' ')}\n`).join('');
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

function run(command: string, args: string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr, error: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const failure = (r: Run) => (r.error ?? `${r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`}`).split('\n').slice(0, 4).join(' | ');

export interface AuditRuleOptions {
  /** Where the installed (or, in dry-run, computed) rules are recorded. */
  stateFile: string;
  /** Compute and record only. */
  dryRun: boolean;
  dryRunReason: string;
  auditctl?: string;
  keyPrefix?: string;
}

const ROW = { name: 'linux-audit-rules', lsm: 'linux-audit', policies: [] as string[] };

/**
 * Makes the host's rules with our keys exactly `rules`. Returns a status row when there is
 * something to report (rules wanted, or a failure), undefined when visibility is off and nothing
 * of ours is installed.
 */
export async function applyAuditRules(rules: readonly AuditRule[], options: AuditRuleOptions): Promise<ArtifactResult | undefined> {
  const text = rulesText(rules);
  const sha256 = createHash('sha256').update(text).digest('hex');
  const kinds = [...new Set(rules.map((r) => r.kind))].join(', ');
  const prefix = options.keyPrefix ?? RULE_KEY_PREFIX;
  let recorded = '';
  try {
    recorded = readFileSync(options.stateFile, 'utf8');
  } catch {
    recorded = '';
  }
  if (options.dryRun) {
    if (rules.length === 0) {
      rmSync(options.stateFile, { force: true });
      return undefined;
    }
    if (recorded !== text) writeFileAtomic(options.stateFile, text);
    return { ...ROW, sha256, state: 'COMPILED', message: `${rules.length} audit rules for ${kinds} written to ${options.stateFile}, not installed; ${options.dryRunReason}` };
  }
  const auditctl = options.auditctl ?? 'auditctl';
  const status = await run(auditctl, ['-s']);
  if (status.code !== 0) {
    if (rules.length === 0 && recorded === '') return undefined;
    const why = status.error?.includes('ENOENT') ? 'auditctl not found (install auditd)' : `auditctl -s failed: ${failure(status)}`;
    return { ...ROW, sha256, state: 'FAILED', message: `${why}: visibility of ${kinds || 'nothing'} is not collected; only LSM records are` };
  }
  const enabled = /^enabled (\d)/m.exec(status.stdout)?.[1];
  const listed = await run(auditctl, ['-l']);
  const ours = listed.stdout.split('\n').filter((l) => l.includes(`key=${prefix}`));
  const keys = [...new Set(ours.map((l) => /key=(\S+)/.exec(l)?.[1]).filter((k): k is string => k !== undefined))];
  const unchanged = recorded === text && ours.length === rules.length;
  if (!unchanged) {
    if (enabled === '2') {
      return { ...ROW, sha256, state: 'FAILED', message: 'audit rules are locked until reboot (auditctl -s: enabled 2): the visibility rules cannot be changed' };
    }
    for (const key of keys) {
      const d = await run(auditctl, ['-D', '-k', key]);
      if (d.code !== 0) return { ...ROW, sha256, state: 'FAILED', message: `removing the previous rules (key ${key}) failed: ${failure(d)}` };
    }
    for (const rule of rules) {
      const a = await run(auditctl, rule.args);
      if (a.code !== 0) {
        // All or nothing: what was added in this run goes again.
        for (const k of new Set(rules.map((r) => `${prefix}${r.kind}`))) await run(auditctl, ['-D', '-k', k]);
        rmSync(options.stateFile, { force: true });
        return { ...ROW, sha256, state: 'FAILED', message: `auditctl ${rule.args.join(' ')} failed: ${failure(a)}; no visibility rules installed` };
      }
    }
    if (rules.length === 0) rmSync(options.stateFile, { force: true });
    else writeFileAtomic(options.stateFile, text);
  }
  if (rules.length === 0) return undefined;
  const disabled = enabled === '0' ? '; kernel auditing is disabled (auditctl -s: enabled 0), so no records until auditd enables it' : '';
  return { ...ROW, sha256, state: 'APPLIED', message: `${rules.length} audit rules for ${kinds} installed${unchanged ? ' (unchanged)' : ''}${disabled}` };
}
