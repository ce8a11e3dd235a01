// The reconcile loop with the real loader adapters in compile-only mode: real apparmor_parser
// (-Q -K against the pinned features), Cilium files, audit rules computed; idempotence, removal,
// a profile that does not compile, the wrong LSM, and latest-wins scheduling.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderAppArmorProfiles } from '@kvmservice/apparmor';
import { normalizeHostPolicy, validateResource, type KubeArmorHostPolicy } from '@kvmservice/resources';
import { afterAll, describe, expect, it } from 'vitest';
import { requireTool } from '../../../test/support/tools.js';
import { loadApplied, loadDesired, type ArtifactResult, type Desired, type DesiredArtifact } from './desired.js';
import { createLogger } from './log.js';
import { reconcileAppArmor } from './loaders/apparmor.js';
import { applyAuditRules, auditRulesFor } from './loaders/audit-rules.js';
import { reconcileCilium } from './loaders/cilium.js';
import type { Enforcement } from './loaders/enforcement.js';
import { createLsmRunner } from './loaders/lsm-runner.js';
import { Reconciler } from './reconciler.js';
import { StateDir } from './state-dir.js';

requireTool('apparmor_parser', 'apparmor');
const log = createLogger('error');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function stateDir(): StateDir {
  const d = mkdtempSync(join(tmpdir(), 'kvmagent-reconcile-'));
  dirs.push(d);
  const s = new StateDir(d);
  s.ensure();
  return s;
}

const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

function apparmorArtifacts(...paths: string[]): DesiredArtifact[] {
  const policies = paths.map((path, i) => {
    const checked = validateResource({
      apiVersion: 'security.kubearmor.com/v1',
      kind: 'KubeArmorHostPolicy',
      metadata: { name: `block-${i}` },
      spec: { nodeSelector: { matchLabels: { 'kubearmor.io/hostname': 'web-1' } }, file: { matchPaths: [{ path }] }, action: 'Block' },
    });
    if (!checked.valid) throw new Error(JSON.stringify(checked));
    return normalizeHostPolicy(checked.resource as unknown as KubeArmorHostPolicy);
  });
  return renderAppArmorProfiles(policies, { name: 'web-1' }).artifacts.map((a) => ({
    name: a.name,
    lsm: 'apparmor',
    fileName: a.fileName,
    content: a.content,
    sha256: a.sha256,
    policies: a.policies.map((p) => p.name),
    relabelPaths: [],
  }));
}

function enforcement(s: StateDir, enforcer: Enforcement['enforcer'] = 'apparmor'): Enforcement {
  return { enforcer, kernelMode: false, compileOnlyReason: 'dry-run (--dry-run): not loaded into the kernel', stateDir: s, apparmorDir: '/nonexistent-never-used', runner: createLsmRunner({ inProcess: true }) };
}

const compiled = (s: StateDir) => (existsSync(s.path('apparmor', 'compiled')) ? readdirSync(s.path('apparmor', 'compiled')).filter((f) => !f.startsWith('.')) : []);

describe('AppArmor adapter, compile-only', () => {
  it('compiles into the state dir, changes nothing the second time, removes what left', async () => {
    const s = stateDir();
    const ctx = enforcement(s);
    const artifacts = apparmorArtifacts('/etc/shadow');
    const first = await reconcileAppArmor(artifacts, ctx);
    expect(first.map((r) => [r.name, r.state])).toEqual(artifacts.map((a) => [a.name, 'COMPILED']));
    expect(first[0]!.message).toMatch(/^compiled with apparmor_parser; dry-run/);
    expect(compiled(s).sort()).toEqual(artifacts.map((a) => a.fileName).sort());
    expect(readFileSync(s.path('apparmor', 'profiles', artifacts[0]!.fileName), 'utf8')).toBe(artifacts[0]!.content);

    const again = await reconcileAppArmor(artifacts, ctx);
    expect(again.every((r) => r.state === 'COMPILED' && r.message.includes('(unchanged)'))).toBe(true);

    expect(await reconcileAppArmor([], ctx)).toEqual([]);
    expect(compiled(s)).toEqual([]);
    expect(readdirSync(s.path('apparmor', 'profiles'))).toEqual([]);
  });

  it('reports the parser message for a profile that does not compile, and keeps the previous version', async () => {
    const s = stateDir();
    const ctx = enforcement(s);
    const good = apparmorArtifacts('/etc/shadow');
    await reconcileAppArmor(good, ctx);
    const brokenText = good[0]!.content.replace(/\}\s*$/, '  this is not apparmor\n}\n');
    const broken = [{ ...good[0]!, content: brokenText, sha256: sha(brokenText) }];
    const rows = await reconcileAppArmor(broken, ctx);
    expect(rows[0]!.state).toBe('FAILED');
    expect(rows[0]!.message).toMatch(/previous version kept/);
    expect(readFileSync(s.path('apparmor', 'profiles', good[0]!.fileName), 'utf8')).toBe(good[0]!.content);
  });

  it('refuses AppArmor artifacts on an SELinux host', async () => {
    const rows = await reconcileAppArmor(apparmorArtifacts('/etc/shadow'), enforcement(stateDir(), 'selinux'));
    expect(rows.every((r) => r.state === 'FAILED' && /enforces with SELinux/.test(r.message))).toBe(true);
  });
});

describe('Cilium adapter', () => {
  it('writes the policies as received, claims no enforcement, removes what left', () => {
    const s = stateDir();
    const content = '{"kind":"CiliumClusterwideNetworkPolicy"}\n';
    const artifact: DesiredArtifact = { name: 'cilium-host-policies', lsm: 'cilium', fileName: 'cilium-host-policies.jsonl', content, sha256: sha(content), policies: ['p'], relabelPaths: [] };
    const [row] = reconcileCilium([artifact], s);
    expect(row).toMatchObject({ state: 'COMPILED', message: expect.stringContaining('no Cilium agent on this host, so not enforced') });
    expect(readFileSync(s.path('cilium', 'cilium-host-policies.jsonl'), 'utf8')).toBe(content);
    expect(reconcileCilium([{ ...artifact, fileName: '../escape' }], s)[0]!.state).toBe('FAILED');
    expect(reconcileCilium([{ ...artifact, content: 'tampered' }], s)[0]!.message).toMatch(/sha256/);
    reconcileCilium([], s);
    expect(readdirSync(s.path('cilium'))).toEqual([]);
  });
});

describe('audit rules', () => {
  it('are scoped per visibility kind and keyed', () => {
    expect(auditRulesFor(new Set(), 'x64')).toEqual([]);
    const rules = auditRulesFor(new Set(['process', 'file', 'network', 'capabilities']), 'x64');
    expect(rules.map((r) => r.kind)).toEqual(['process', 'process', 'file', 'file', 'file', 'network', 'network']);
    expect(rules.every((r) => r.args.at(-2) === '-k' && r.args.at(-1) === `kvmservice-${r.kind}`)).toBe(true);
    // Unix sockets (addrlen 110) are not logged; IPv4 (16) and IPv6 (28) are.
    expect(rules.filter((r) => r.kind === 'network').map((r) => r.args.join(' '))).toEqual([
      '-a always,exit -F arch=b64 -S connect,bind -F a2=16 -k kvmservice-network',
      '-a always,exit -F arch=b64 -S connect,bind -F a2=28 -k kvmservice-network',
    ]);
    expect(auditRulesFor(new Set(['file']), 'arm64').every((r) => !r.args.includes('open,openat,openat2,creat'))).toBe(true);
  });

  it('in dry-run are written to the state dir and reported as not installed', async () => {
    const s = stateDir();
    const row = await applyAuditRules(auditRulesFor(new Set(['process'])), { stateFile: s.path('audit-rules.txt'), dryRun: true, dryRunReason: 'dry-run' });
    expect(row).toMatchObject({ name: 'linux-audit-rules', state: 'COMPILED', message: expect.stringContaining('not installed') });
    expect(readFileSync(s.path('audit-rules.txt'), 'utf8')).toContain('-S execve,execveat');
    expect(await applyAuditRules([], { stateFile: s.path('audit-rules.txt'), dryRun: true, dryRunReason: 'dry-run' })).toBeUndefined();
    expect(existsSync(s.path('audit-rules.txt'))).toBe(false);
  });

  it('say so when auditctl is missing', async () => {
    const s = stateDir();
    const row = await applyAuditRules(auditRulesFor(new Set(['process'])), { stateFile: s.path('audit-rules.txt'), dryRun: false, dryRunReason: '', auditctl: '/nonexistent/auditctl' });
    expect(row).toMatchObject({ state: 'FAILED', message: expect.stringMatching(/^auditctl not found \(install auditd\)/) });
  });
});

describe('Reconciler', () => {
  const desired = (revision: number, artifacts: DesiredArtifact[] = []): Desired => ({
    revision,
    hostname: 'web-1',
    policies: [],
    artifacts,
    visibility: [],
    learningBinaries: [],
    learningUntil: 0,
    problems: [],
  });

  it('keeps the desired state and the result on disk', async () => {
    const s = stateDir();
    const r = new Reconciler(s, async (d) => d.artifacts.map((a): ArtifactResult => ({ name: a.name, lsm: a.lsm, sha256: a.sha256, state: 'COMPILED', message: 'ok', policies: [] })), log);
    const outcome = await r.submit(desired(7, apparmorArtifacts('/etc/shadow')), 'control-plane');
    expect(outcome.superseded).toBe(false);
    const onDisk = loadDesired(s.desiredFile);
    expect(onDisk.kind === 'ok' && onDisk.value.revision).toBe(7);
    const applied = loadApplied(s.appliedFile);
    expect(applied.kind === 'ok' && applied.value.revision).toBe(7);
    expect(r.applied?.revision).toBe(7);
    // A state read from disk is applied but not written back.
    await r.submit(desired(3), 'disk');
    const still = loadDesired(s.desiredFile);
    expect(still.kind === 'ok' && still.value.revision).toBe(7);
  });

  it('applies one state at a time and only the newest of those that waited', async () => {
    const s = stateDir();
    const seen: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const r = new Reconciler(
      s,
      async (d) => {
        seen.push(d.revision);
        if (d.revision === 1) await gate;
        return [];
      },
      log,
    );
    const one = r.submit(desired(1), 'control-plane');
    const two = r.submit(desired(2), 'control-plane');
    const three = r.submit(desired(3), 'control-plane');
    release();
    expect(await one).toMatchObject({ superseded: false });
    expect(await two).toEqual({ superseded: true });
    expect(await three).toMatchObject({ superseded: false, applied: { revision: 3 } });
    expect(seen).toEqual([1, 3]);
  });

  it('reports every artifact failed when applying throws, and keeps going', async () => {
    const s = stateDir();
    let calls = 0;
    const r = new Reconciler(
      s,
      async () => {
        if (calls++ === 0) throw new Error('boom');
        return [];
      },
      log,
    );
    const first = await r.submit(desired(1, apparmorArtifacts('/etc/shadow')), 'control-plane');
    expect(first.superseded === false && first.applied.artifacts.every((a) => a.state === 'FAILED' && a.message === 'agent error: boom')).toBe(true);
    const second = await r.submit(desired(2), 'control-plane');
    expect(second).toMatchObject({ superseded: false, applied: { revision: 2, artifacts: [] } });
  });
});
