/**
 * The loader against the real semodule, in dry-run against a private copy of Debian's policy store
 * (SELinux is disabled in this kernel; the live store is checked to stay untouched): install,
 * unchanged re-install, a failed install keeps the previous module, replacement of the host's
 * previous module and of other hosts' modules in one transaction, removal, refusals, detection,
 * timeouts. The file-context lookup is cross-checked against libselinux's matchpathcon.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeHostPolicy, validateResource, type KubeArmorHostPolicy, type NormalizedHostPolicy } from '@kvmservice/resources';
import { findShadowedPaths, lookupFileContext, lookupOrder, parseFileContexts, parsePathAliases } from './file-context-lookup.js';
import {
  createPrivateStore,
  detectSelinux,
  installSelinuxModule,
  listSelinuxModules,
  readInstalledModule,
  readPathAliases,
  recordedRelabelPaths,
  removeSelinuxModule,
  runTool,
  type InstalledModule,
  type PrivateStore,
} from './loader.js';
import { matchPathContexts } from './loader-query.js';
import { renderSelinuxModule } from './render-selinux-module.js';
import { DEFAULT_PATH_ALIASES } from './render-options.js';
import { sha256Hex } from './render-names.js';

function hostPolicy(name: string, spec: Record<string, unknown>): NormalizedHostPolicy {
  const checked = validateResource({
    apiVersion: 'security.kubearmor.com/v1',
    kind: 'KubeArmorHostPolicy',
    metadata: { name },
    spec: { nodeSelector: { matchLabels: { 'kubearmor.io/hostname': '*' } }, ...spec },
  });
  if (!checked.valid) throw new Error(JSON.stringify(checked.errors));
  return normalizeHostPolicy(checked.resource as unknown as KubeArmorHostPolicy);
}

// Entries of every kind, so the lookup cross-check below covers them all.
const varied = hostPolicy('varied', {
  file: {
    matchPaths: [{ path: '/etc/hostname' }, { path: '/srv/with space/file.txt', fromSource: [{ path: '/bin/cat' }] }],
    matchDirectories: [{ dir: '/home/vagrant/selinux-test/matchDir/', recursive: true }, { dir: '/var/lib/app/', recursive: false }],
    matchPatterns: [{ pattern: '/tmp/*.log' }, { pattern: '/opt/{a,b}/[0-9]*.conf' }],
  },
  action: 'Block',
});
const diffBlock = hostPolicy('diff-block', { process: { matchPaths: [{ path: '/usr/bin/diff' }] }, action: 'Block' });
const A = renderSelinuxModule([varied], { name: 'loader-a' });
const A2 = renderSelinuxModule([varied, diffBlock], { name: 'loader-a' });
const B = renderSelinuxModule([diffBlock], { name: 'loader-b' });

const names = (mods: InstalledModule[] | { error: string }) => {
  if ('error' in mods) throw new Error(mods.error);
  return mods.filter((m) => m.name.startsWith('kvms_')).map((m) => `${m.name}:${m.sha256}`).sort();
};
const liveMarker = () => {
  const commit = '/var/lib/selinux/default/active/commit_num';
  const policy = '/etc/selinux/default/policy/policy.33';
  return `${existsSync(commit) ? sha256Hex(readFileSync(commit, 'latin1')) : '-'}:${existsSync(policy) ? statSync(policy).mtimeMs : '-'}`;
};

// One semodule transaction rebuilds the whole refpolicy: ~6 s on an idle 2-core machine, several
// times that when other test files build policies at the same time.
const SLOW = 180_000;

describe('SELinux loader (dry run against a private store)', () => {
  let store: PrivateStore;
  let live: string;
  const opts = () => ({ dryRun: true, root: store.root });

  beforeAll(() => {
    expect(A.problems).toEqual([]);
    expect(A2.moduleName).toBe(A.moduleName);
    live = liveMarker();
    store = createPrivateStore();
  });
  afterAll(() => {
    store?.dispose();
    expect(liveMarker()).toBe(live);
  });

  it('installs a module into the private store in one transaction', async () => {
    const r = await installSelinuxModule(A, opts());
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ ok: true, changed: true, removed: [], relabelled: [] });
    expect(names(await listSelinuxModules(opts()))).toEqual([`${A.moduleName}:${A.sha256}`]);
    expect(await readInstalledModule(A.moduleName, opts())).toBe(A.module);
    expect(recordedRelabelPaths(A.module)).toEqual(A.relabelPaths);
    expect(r.unparsedFileContexts).toBe(0);
    // Only the base policy's own, more specific entries inside protected directories remain.
    expect(r.shadowed.map((s) => s.path)).toEqual([]);
  }, SLOW);

  it('resolves paths exactly as libselinux does (lookup cross-checked with matchpathcon)', async () => {
    const dir = join(store.root, 'etc/selinux/default/contexts/files');
    const read = (n: string) => (existsSync(join(dir, n)) ? readFileSync(join(dir, n), 'utf8') : '');
    const ordered = lookupOrder(
      ...['file_contexts', 'file_contexts.homedirs', 'file_contexts.local'].map((n) => parseFileContexts(read(n), n).specs),
    );
    const aliases = [...parsePathAliases(read('file_contexts.subs')), ...parsePathAliases(read('file_contexts.subs_dist'))];
    const paths = [
      '/etc/hostname', '/etc/hosts', '/etc/default/useradd', '/srv/with space/file.txt', '/usr/bin/cat', '/bin/cat', '/bin/ls',
      '/home/vagrant/selinux-test/matchDir', '/home/vagrant/selinux-test/matchDir/a/b', '/home/vagrant/other', '/home/vagrant',
      '/var/lib/app', '/var/lib/app/x', '/var/lib/app/x/y', '/tmp/a.log', '/tmp/a.txt', '/tmp/d/a.log', '/opt/a/1x.conf',
      '/opt/c/1x.conf', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/root/.ssh/id_rsa', '/var/run/utmp', '/usr/sbin/sshd',
    ];
    const real = await matchPathContexts(store.root, paths);
    if ('error' in real) throw new Error(real.error);
    for (const path of paths) {
      expect(lookupFileContext(path, ordered, aliases)?.context ?? '<<none>>', path).toBe(real.get(path));
    }
    expect(findShadowedPaths(A.fileContexts, ordered, aliases)).toEqual([]);
  });

  it('does nothing when the same module is installed again', async () => {
    const r = await installSelinuxModule(A, opts());
    expect(r).toMatchObject({ ok: true, changed: false });
  }, SLOW);

  it('keeps the previous module when an install fails', async () => {
    const module = `${A2.module}(allow kvms_no_such_domain_t etc_t (file (read)))\n`;
    const broken = { ...A2, module, sha256: sha256Hex(module) };
    const r = await installSelinuxModule(broken, opts());
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/semodule exit code 1: .*kvms_no_such_domain_t|Failed to resolve/);
    expect(names(await listSelinuxModules(opts()))).toEqual([`${A.moduleName}:${A.sha256}`]);
    expect(await readInstalledModule(A.moduleName, opts())).toBe(A.module);
  }, SLOW);

  it('replaces the host\'s module with a new render', async () => {
    const r = await installSelinuxModule(A2, opts());
    expect(r).toMatchObject({ ok: true, changed: true, removed: [] });
    expect(names(await listSelinuxModules(opts()))).toEqual([`${A.moduleName}:${A2.sha256}`]);
  }, SLOW);

  it('keeps one module of ours per store: another host\'s module is removed in the same transaction', async () => {
    const r = await installSelinuxModule(B, opts());
    expect(r).toMatchObject({ ok: true, changed: true, removed: [A.moduleName] });
    expect(names(await listSelinuxModules(opts()))).toEqual([`${B.moduleName}:${B.sha256}`]);
  }, SLOW);

  it('removes a module, and removing it again is a no-op', async () => {
    expect(await removeSelinuxModule(B.moduleName, opts())).toMatchObject({ ok: true, removed: true });
    expect(names(await listSelinuxModules(opts()))).toEqual([]);
    expect(await removeSelinuxModule(B.moduleName, opts())).toMatchObject({ ok: true, removed: false });
  }, SLOW);

  it('refuses modules with problems, foreign module names and unsafe store choices without running anything', async () => {
    const withProblem = renderSelinuxModule([hostPolicy('owner', { file: { matchPaths: [{ path: '/etc/x', ownerOnly: true }] }, action: 'Block' })], { name: 'h' });
    expect(await installSelinuxModule(withProblem, opts())).toMatchObject({ ok: false, error: expect.stringMatching(/^refused: owner: spec.file.matchPaths\[0\].ownerOnly/) });
    expect(await removeSelinuxModule('unconfined', opts())).toMatchObject({ ok: false, error: expect.stringMatching(/not a KVMService module/) });
    expect(await installSelinuxModule(A, { dryRun: false, root: store.root })).toMatchObject({ ok: false, error: expect.stringMatching(/no root/) });
    expect(await installSelinuxModule(A, { dryRun: true, root: '/' })).toMatchObject({ ok: false, error: expect.stringMatching(/never uses the live store/) });
    expect(await installSelinuxModule({ ...A, moduleName: 'x y' }, opts())).toMatchObject({ ok: false, error: expect.stringMatching(/not a rendered module/) });
  });
});

describe('detectSelinux and tool runs', () => {
  it('reports this kernel\'s state from selinuxfs and getenforce', async () => {
    const status = await detectSelinux();
    if (!existsSync('/sys/fs/selinux/enforce')) {
      expect(status).toMatchObject({ enabled: false, mode: 'disabled', reason: expect.stringMatching(/\/sys\/fs\/selinux is not mounted/) });
    } else {
      expect(['enforcing', 'permissive', 'disabled']).toContain(status.mode);
    }
    expect(status.policyType).toBe('default'); // Debian's selinux-policy-default
  });

  it('reads the policy\'s path aliases (for the host facts)', () => {
    const aliases = readPathAliases();
    expect(aliases).toEqual(expect.arrayContaining([['/bin', '/usr/bin'], ['/sbin', '/usr/sbin'], ['/var/run', '/run']]));
    for (const a of DEFAULT_PATH_ALIASES) expect(aliases).toContainEqual(a);
  });

  it('asks getenforce when selinuxfs is there', async () => {
    const fake = mkdtempSync(join(tmpdir(), 'kvms-selinuxfs-'));
    try {
      writeFileSync(join(fake, 'enforce'), '0');
      mkdirSync(join(fake, 'etc'));
      writeFileSync(join(fake, 'etc/config'), 'SELINUX=permissive\nSELINUXTYPE=targeted\n');
      const status = await detectSelinux({ selinuxfs: fake, config: join(fake, 'etc/config') });
      const run = await runTool('getenforce', [], { timeoutMs: 10_000 });
      expect(run.code).toBe(0);
      expect(status.mode).toBe(run.stdout.trim().toLowerCase());
      expect(status.policyType).toBe('targeted');
    } finally {
      rmSync(fake, { recursive: true, force: true });
    }
  });

  it('bounds every tool run by a timeout and never throws', async () => {
    const slow = await runTool('sleep', ['5'], { timeoutMs: 200 });
    expect(slow).toMatchObject({ code: null, timedOut: true, error: 'timed out after 200 ms' });
    const missing = await runTool('kvms-no-such-tool', [], { timeoutMs: 1000 });
    expect(missing.code).toBeNull();
    expect(missing.error).toMatch(/ENOENT/);
  });
});
