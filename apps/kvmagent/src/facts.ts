/**
 * What the agent tells the control plane about its host (HostFacts), and how it will enforce:
 * OS release, kernel, architecture, active LSMs, the AppArmor feature ABI (sha256 of the features
 * tree), SELinux mode and policy, agent version, addresses — and the enforcer and whether it can
 * load into the kernel (not in dry-run, not without a usable LSM).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { machine, networkInterfaces, release } from 'node:os';
import { join } from 'node:path';
import type { HostFacts } from '@kvmservice/api';
import type { LsmChoice } from './config.js';
import type { DetectResult } from './loaders/lsm-operations.js';

export const AGENT_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export type Enforcer = 'apparmor' | 'selinux' | 'none';

export interface HostProfile {
  facts: HostFacts;
  enforcer: Enforcer;
  /** Artifacts are loaded into the kernel (false: written and compiled only). */
  kernelMode: boolean;
  /** Why artifacts are compiled only, when they are. */
  compileOnlyReason?: string;
}

/** ID, VERSION_ID and PRETTY_NAME of an os-release file (quotes and escapes as systemd defines them). */
export function parseOsRelease(text: string): { id: string; versionId: string; prettyName: string } {
  const values: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(raw);
    if (!m) continue;
    let v = m[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
    values[m[1]!] = v;
  }
  return { id: values.ID ?? '', versionId: values.VERSION_ID ?? '', prettyName: values.PRETTY_NAME ?? '' };
}

/** Active LSMs from `/sys/kernel/security/lsm` (a comma list). */
export function parseLsmList(text: string): string[] {
  return text
    .trim()
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * sha256 over the AppArmor features tree: every file as `<relative path>\0<content>\0`, in sorted
 * path order, so equal kernels give equal hashes. Empty when there is no tree.
 */
export function apparmorFeaturesSha256(dir: string): string {
  const entries: string[] = [];
  const walk = (rel: string) => {
    let names: import('node:fs').Dirent[];
    try {
      names = readdirSync(join(dir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of names) {
      const path = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) walk(path);
      else if (d.isFile()) entries.push(path);
    }
  };
  walk('');
  if (entries.length === 0) return '';
  const hash = createHash('sha256');
  for (const path of entries.sort()) {
    let content = '';
    try {
      content = readFileSync(join(dir, path), 'utf8');
    } catch {
      content = '';
    }
    hash.update(`${path}\0${content}\0`);
  }
  return hash.digest('hex');
}

export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && !(a.family === 'IPv6' && a.address.startsWith('fe80:'))) out.push(a.address);
  }
  return out.sort();
}

function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** Decides the enforcer and the mode from what the LSM libraries detected. Pure. */
export function decideEnforcement(lsm: LsmChoice, dryRun: boolean, detected: DetectResult): { enforcer: Enforcer; kernelMode: boolean; compileOnlyReason?: string } {
  const apparmorUsable = detected.apparmor.usable;
  const selinuxUsable = detected.selinux.enabled && detected.selinux.mode !== 'disabled';
  const enforcer: Enforcer = lsm === 'auto' ? (apparmorUsable ? 'apparmor' : selinuxUsable ? 'selinux' : 'none') : lsm;
  if (dryRun) return { enforcer, kernelMode: false, compileOnlyReason: 'dry-run (--dry-run): not loaded into the kernel' };
  if (enforcer === 'none') return { enforcer, kernelMode: false, compileOnlyReason: 'this host has no usable LSM (AppArmor or SELinux): not loaded into the kernel' };
  if (enforcer === 'apparmor' && !apparmorUsable) return { enforcer, kernelMode: false, compileOnlyReason: `AppArmor is not usable on this host (${detected.apparmor.reason ?? 'unknown reason'}): not loaded into the kernel` };
  if (enforcer === 'selinux' && !selinuxUsable) return { enforcer, kernelMode: false, compileOnlyReason: `SELinux is not usable on this host (${detected.selinux.reason ?? 'disabled'}): not installed` };
  return { enforcer, kernelMode: true };
}

export function buildHostProfile(lsm: LsmChoice, dryRun: boolean, detected: DetectResult, root = '/'): HostProfile {
  const os = parseOsRelease(readOr(join(root, 'etc/os-release')) || readOr(join(root, 'usr/lib/os-release')));
  const decision = decideEnforcement(lsm, dryRun, detected);
  const facts: HostFacts = {
    osId: os.id,
    osVersion: os.versionId,
    osPrettyName: os.prettyName,
    kernel: release(),
    architecture: machine(),
    lsms: parseLsmList(readOr(join(root, 'sys/kernel/security/lsm'))),
    apparmorFeaturesSha256: detected.apparmor.securityfs ? apparmorFeaturesSha256(join(root, detected.apparmor.apparmorfs, 'features')) : '',
    selinuxPolicyType: detected.selinux.policyType ?? '',
    selinuxPolicyVersion: detected.selinux.policyVersion ?? '',
    selinuxMode: detected.selinux.mode,
    agentVersion: AGENT_VERSION,
    enforcer: decision.enforcer,
    dryRun: !decision.kernelMode,
    ipAddresses: hostAddresses(),
  };
  return { facts, ...decision };
}
