// The SELinux adapter in compile-only mode with the real semodule, linking into a private copy of
// Debian's refpolicy kept in the state dir: linked, unchanged the second time, removed; refused on
// a host that does not enforce with SELinux.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeHostPolicy, validateResource, type KubeArmorHostPolicy } from '@kvmservice/resources';
import { listSelinuxModules, renderSelinuxModule } from '@kvmservice/selinux';
import { afterAll, describe, expect, it } from 'vitest';
import { requireTool } from '../../../../test/support/tools.js';
import type { DesiredArtifact } from '../desired.js';
import { StateDir } from '../state-dir.js';
import type { Enforcement } from './enforcement.js';
import { createLsmRunner } from './lsm-runner.js';
import { reconcileSelinux } from './selinux.js';

requireTool('semodule', 'semodule-utils');
const root = mkdtempSync(join(tmpdir(), 'kvmagent-selinux-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function moduleArtifact(): DesiredArtifact {
  const checked = validateResource({
    apiVersion: 'security.kubearmor.com/v1',
    kind: 'KubeArmorHostPolicy',
    metadata: { name: 'guard-keys' },
    spec: { nodeSelector: { matchLabels: { 'kubearmor.io/hostname': 'rhel-1' } }, file: { matchDirectories: [{ dir: '/srv/keys/', recursive: true }] }, action: 'Block' },
  });
  if (!checked.valid) throw new Error(JSON.stringify(checked));
  const r = renderSelinuxModule([normalizeHostPolicy(checked.resource as unknown as KubeArmorHostPolicy)], { name: 'rhel-1' });
  expect(r.problems).toEqual([]);
  return { name: r.moduleName, lsm: 'selinux', fileName: `${r.moduleName}.cil`, content: r.module, sha256: r.sha256, policies: ['guard-keys'], relabelPaths: r.relabelPaths };
}

describe('SELinux adapter, compile-only', () => {
  const stateDir = new StateDir(join(root, 'state'));
  stateDir.ensure();
  const ctx = (enforcer: Enforcement['enforcer']): Enforcement => ({
    enforcer,
    kernelMode: false,
    compileOnlyReason: 'dry-run (--dry-run): not loaded into the kernel',
    stateDir,
    apparmorDir: '/nonexistent-never-used',
    runner: createLsmRunner({ inProcess: true }),
  });
  const ours = async () => {
    const list = await listSelinuxModules({ dryRun: true, root: stateDir.path('selinux', 'store') });
    if ('error' in list) throw new Error(list.error);
    return list.filter((m) => m.name.startsWith('kvms_')).map((m) => m.name);
  };

  it('links the module into a private store, changes nothing the second time, removes it', { timeout: 120_000 }, async () => {
    const artifact = moduleArtifact();
    const [row] = await reconcileSelinux([artifact], ctx('selinux'));
    expect(row).toMatchObject({ name: artifact.name, state: 'COMPILED', policies: ['guard-keys'] });
    expect(row!.message).toMatch(/^linked against a private copy of the policy store.*; dry-run/);
    expect(await ours()).toEqual([artifact.name]);
    expect(readFileSync(stateDir.path('selinux', artifact.fileName), 'utf8')).toBe(artifact.content);

    const [again] = await reconcileSelinux([artifact], ctx('selinux'));
    expect(again!.message).toContain('unchanged');

    expect(await reconcileSelinux([], ctx('selinux'))).toEqual([]);
    expect(await ours()).toEqual([]);
    expect(readdirSync(stateDir.path('selinux')).filter((f) => f.endsWith('.cil'))).toEqual([]);
    expect(existsSync(stateDir.path('selinux', 'store', 'var/lib/selinux'))).toBe(true);
  });

  it('refuses a module on a host without SELinux', async () => {
    const [row] = await reconcileSelinux([moduleArtifact()], ctx('apparmor'));
    expect(row).toMatchObject({ state: 'FAILED', message: expect.stringContaining('does not enforce with SELinux') });
  });
});
