/**
 * The loader against the real apparmor_parser. This machine has no AppArmor LSM, so sets are
 * applied in dry-run (compile-only with the pinned features); kernel mode is exercised where the
 * real parser fails to load, which must roll back.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeHostPolicy, validateResource, type KubeArmorHostPolicy, type NormalizedHostPolicy } from '@kvmservice/resources';
import { applyAppArmorProfiles, type ApplicableArtifact, type ApplyOptions } from './loader.js';
import { detectAppArmor } from './loader-detect.js';
import { renderAppArmorProfiles } from './render.js';

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

const headBlock = hostPolicy('head-block', { file: { matchPaths: [{ path: '/etc/hostname', fromSource: [{ path: '/usr/bin/head' }] }] }, action: 'Block' });
const catBlock = hostPolicy('cat-block', { file: { matchPaths: [{ path: '/etc/shadow', fromSource: [{ path: '/usr/bin/cat' }] }] }, action: 'Block' });
const diffBlock = hostPolicy('diff-block', { process: { matchPaths: [{ path: '/usr/bin/diff' }] }, action: 'Block' });

const render = (...policies: NormalizedHostPolicy[]) => renderAppArmorProfiles(policies, { name: 'test-host' }).artifacts;

function withContent(a: ApplicableArtifact, content: string): ApplicableArtifact {
  return { ...a, content, sha256: createHash('sha256').update(content).digest('hex') };
}

let root: string;
// The real parser from Debian's apparmor package; when it is missing every apply fails with
// "apparmor_parser could not be run", so these tests fail rather than skip.
const parser = 'apparmor_parser';
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'apparmor-loader-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fresh(name: string): ApplyOptions & { dir: string; stateDir: string; bootInclude: string } {
  const base = join(root, name);
  mkdirSync(base, { recursive: true });
  return { dir: join(base, 'apparmor.d', 'kvmservice.d'), stateDir: join(base, 'state'), bootInclude: join(base, 'apparmor.d', 'kvmservice'), dryRun: true, parserPath: parser };
}

const files = (dir: string) => readdirSync(dir).filter((f) => !f.startsWith('.')).sort();

describe('applyAppArmorProfiles (dry-run, real apparmor_parser)', () => {
  it('writes and compiles a set, then reports it unchanged', async () => {
    const o = fresh('apply');
    const set = render(headBlock, diffBlock);
    const first = await applyAppArmorProfiles(set, o);
    expect(first.mode).toBe('compile-only');
    expect(first.ok).toBe(true);
    expect(first.results.map((r) => [r.name, r.status])).toEqual([
      ['kubearmor.host', 'applied'],
      ['kubearmor_usrbinhead', 'applied'],
    ]);
    expect(files(o.dir)).toEqual(['kubearmor.host', 'kubearmor_usrbinhead']);
    for (const a of set) expect(readFileSync(join(o.dir, a.fileName), 'utf8')).toBe(a.content);
    // Compiled binary policy for each profile.
    expect(files(join(o.stateDir, 'compiled'))).toEqual(['kubearmor.host', 'kubearmor_usrbinhead']);
    expect(readFileSync(join(o.stateDir, 'compiled', 'kubearmor.host')).length).toBeGreaterThan(1000);
    // The boot include loads the whole directory, and the whole set compiles that way.
    expect(readFileSync(o.bootInclude, 'utf8')).toContain(`include if exists "${o.dir}"`);
    expect(first.boot).toEqual({ file: o.bootInclude, ok: true, message: 'the whole set compiles as loaded at boot' });

    const second = await applyAppArmorProfiles(set, o);
    expect(second.ok).toBe(true);
    expect(second.results.map((r) => r.status)).toEqual(['unchanged', 'unchanged']);
  });

  it('keeps the previous version on disk when a profile fails to compile, and reports the parser message', async () => {
    const o = fresh('rollback-compile');
    const v1 = render(headBlock, diffBlock);
    expect((await applyAppArmorProfiles(v1, o)).ok).toBe(true);
    const compiledBefore = readFileSync(join(o.stateDir, 'compiled', 'kubearmor_usrbinhead'));

    // v2: head's profile changed but broken, the dispatcher changed and fine, a new cat profile.
    const v2 = render(headBlock, diffBlock, catBlock).map((a) =>
      a.name === 'kubearmor_usrbinhead' ? withContent(a, a.content.replace('klmrw,', 'klmrw\n  netwrk tcp,')) : a,
    );
    const report = await applyAppArmorProfiles(v2, o);
    expect(report.ok).toBe(false);
    const head = report.results.find((r) => r.name === 'kubearmor_usrbinhead')!;
    expect(head.status).toBe('failed');
    expect(head.message).toContain('AppArmor parser error');
    expect(head.message).toContain('previous version kept');
    for (const r of report.results.filter((x) => x.name !== 'kubearmor_usrbinhead')) {
      expect(r.status).toBe('failed');
      expect(r.message).toContain('not applied: kubearmor_usrbinhead did not compile');
    }
    // Nothing changed: same files, same content, same compiled policy; the new profile never appeared.
    expect(files(o.dir)).toEqual(['kubearmor.host', 'kubearmor_usrbinhead']);
    for (const a of v1) expect(readFileSync(join(o.dir, a.fileName), 'utf8')).toBe(a.content);
    expect(readFileSync(join(o.stateDir, 'compiled', 'kubearmor_usrbinhead'))).toEqual(compiledBefore);
  });

  it('rolls back profiles already applied in the run when a later one fails to load', async () => {
    const o = fresh('rollback-load');
    const v1 = render(headBlock, diffBlock);
    expect((await applyAppArmorProfiles(v1, o)).ok).toBe(true);
    // v2 changes head, adds cat, and changes the dispatcher; the dispatcher is loaded last.
    const v2 = render(headBlock, diffBlock, catBlock, hostPolicy('more', { file: { matchPaths: [{ path: '/etc/gshadow', fromSource: [{ path: '/usr/bin/head' }] }] }, action: 'Block' }));
    // A real failure of the "load" step: the parser cannot write the dispatcher's compiled output.
    mkdirSync(join(o.stateDir, 'compiled', '.kubearmor.host.new'), { recursive: true });
    const report = await applyAppArmorProfiles(v2, o);
    // The loader cleared its own uncommitted output while rolling back.
    expect(existsSync(join(o.stateDir, 'compiled', '.kubearmor.host.new'))).toBe(false);

    expect(report.ok).toBe(false);
    const byName = Object.fromEntries(report.results.map((r) => [r.name, r]));
    expect(byName['kubearmor.host']!.status).toBe('failed');
    expect(byName['kubearmor.host']!.message).toContain('rolled back: previous version restored');
    expect(byName['kubearmor_usrbincat']!.message).toContain('rolled back (new profile removed)');
    expect(byName['kubearmor_usrbinhead']!.message).toContain('rolled back (previous version restored)');
    expect(files(o.dir)).toEqual(['kubearmor.host', 'kubearmor_usrbinhead']);
    for (const a of v1) expect(readFileSync(join(o.dir, a.fileName), 'utf8')).toBe(a.content);
    expect(existsSync(join(o.stateDir, 'compiled', 'kubearmor_usrbincat'))).toBe(false);

    // Once the cause is gone the same set applies.
    const retry = await applyAppArmorProfiles(v2, o);
    expect(retry.ok).toBe(true);
    expect(files(o.dir)).toEqual(['kubearmor.host', 'kubearmor_usrbincat', 'kubearmor_usrbinhead']);
  });

  it('removes profiles that left the set', async () => {
    const o = fresh('removal');
    expect((await applyAppArmorProfiles(render(headBlock, catBlock, diffBlock), o)).ok).toBe(true);
    const report = await applyAppArmorProfiles(render(diffBlock, catBlock), o);
    expect(report.ok).toBe(true);
    expect(report.removed).toEqual([{ fileName: 'kubearmor_usrbinhead', status: 'removed', message: 'file and compiled profile removed (dry-run)' }]);
    expect(files(o.dir)).toEqual(['kubearmor.host', 'kubearmor_usrbincat']);
    expect(files(join(o.stateDir, 'compiled'))).toEqual(['kubearmor.host', 'kubearmor_usrbincat']);
    // An empty set removes everything; the boot include still compiles (nothing to load).
    const empty = await applyAppArmorProfiles([], o);
    expect(empty.ok).toBe(true);
    expect(empty.removed.map((r) => r.status)).toEqual(['removed', 'removed']);
    expect(files(o.dir)).toEqual([]);
    expect(empty.boot?.ok).toBe(true);
  });

  it('refuses a corrupted or unsafe set without touching anything', async () => {
    const o = fresh('invalid');
    const set = render(headBlock);
    expect((await applyAppArmorProfiles(set, o)).ok).toBe(true);
    const tampered = set.map((a, i) => (i === 0 ? { ...a, content: `${a.content}\n  /etc/** rw,` } : a));
    const r1 = await applyAppArmorProfiles(tampered, o);
    expect(r1.ok).toBe(false);
    expect(r1.results[0]!.message).toContain('content does not match its sha256');
    const escape = await applyAppArmorProfiles([{ ...set[0]!, fileName: '../../passwd' }], o);
    expect(escape.ok).toBe(false);
    expect(escape.results[0]!.message).toContain('file name "../../passwd" must be');
    const twice = await applyAppArmorProfiles([set[0]!, set[0]!], o);
    expect(twice.results[1]!.message).toContain('appears twice');
    for (const a of set) expect(readFileSync(join(o.dir, a.fileName), 'utf8')).toBe(a.content);
  });

  it('times out a parser run and reports it', async () => {
    const o = fresh('timeout');
    const report = await applyAppArmorProfiles(render(headBlock, diffBlock), { ...o, timeoutMs: 1 });
    expect(report.ok).toBe(false);
    expect(report.results.some((r) => r.message.includes('timed out after 1 ms'))).toBe(true);
    expect(existsSync(join(o.dir, 'kubearmor.host'))).toBe(false);
  });

  it('runs one apply per directory at a time', async () => {
    const o = fresh('serial');
    const [a, b] = await Promise.all([applyAppArmorProfiles(render(headBlock), o), applyAppArmorProfiles(render(headBlock), o)]);
    expect(a.results.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect(b.results.map((r) => r.status)).toEqual(['unchanged', 'unchanged']);
  });
});

describe('applyAppArmorProfiles (kernel mode without an AppArmor kernel)', () => {
  it('fails to load with the parser message and restores the previous files', async () => {
    const o = fresh('kernel');
    // A previous good set on disk (as the agent left it), then a kernel apply on this LSM-less machine.
    const v1 = render(headBlock);
    mkdirSync(o.dir, { recursive: true });
    for (const a of v1) writeFileSync(join(o.dir, a.fileName), a.content);
    const v2 = render(headBlock, catBlock);
    const report = await applyAppArmorProfiles(v2, { ...o, dryRun: false, bootInclude: null, apparmorfs: join(root, 'no-securityfs') });
    expect(report.mode).toBe('kernel');
    expect(report.ok).toBe(false);
    const failed = report.results.find((r) => r.message.includes('rolled back:'))!;
    // apparmor_parser's own words when there is no securityfs to load into.
    expect(failed.message).toMatch(/unable to find a suitable fs|Permission denied|Access denied/i);
    expect(files(o.dir)).toEqual(['kubearmor.host', 'kubearmor_usrbinhead']);
    for (const a of v1) expect(readFileSync(join(o.dir, a.fileName), 'utf8')).toBe(a.content);
  });
});

describe('detectAppArmor', () => {
  it('reports this machine as not usable, with the reason', async () => {
    const status = await detectAppArmor();
    if (existsSync('/sys/module/apparmor/parameters/enabled')) {
      expect(status.enabled).toBe(readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y');
    } else {
      expect(status).toMatchObject({ enabled: false, usable: false });
      expect(status.reason).toContain('/sys/module/apparmor/parameters/enabled is missing');
    }
  });

  it('reads a prepared tree: module parameter, securityfs mount point, features', async () => {
    const fake = join(root, 'fake-root');
    mkdirSync(join(fake, 'sys/module/apparmor/parameters'), { recursive: true });
    writeFileSync(join(fake, 'sys/module/apparmor/parameters/enabled'), 'Y\n');
    mkdirSync(join(fake, 'proc'), { recursive: true });
    writeFileSync(join(fake, 'proc/mounts'), 'proc /proc proc rw 0 0\nsecurityfs /sys/kernel/security securityfs rw,nosuid 0 0\n');
    expect(await detectAppArmor({ root: fake })).toMatchObject({ enabled: true, securityfs: false, usable: false, reason: 'securityfs is not mounted with AppArmor at /sys/kernel/security/apparmor' });
    for (const f of ['file', 'network_v8', 'domain']) mkdirSync(join(fake, 'sys/kernel/security/apparmor/features', f), { recursive: true });
    expect(await detectAppArmor({ root: fake })).toEqual({
      enabled: true,
      securityfs: true,
      usable: true,
      apparmorfs: '/sys/kernel/security/apparmor',
      features: ['domain', 'file', 'network_v8'],
    });
    writeFileSync(join(fake, 'sys/module/apparmor/parameters/enabled'), 'N\n');
    expect((await detectAppArmor({ root: fake })).reason).toBe('AppArmor is disabled in the kernel (parameters/enabled is "N")');
  });
});
