import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderAppArmorProfiles } from '@kvmservice/apparmor';
import { normalizeHostPolicy, parseDocuments, type KubeArmorHostPolicy } from '@kvmservice/resources';
import { renderSelinuxModule } from '@kvmservice/selinux';
import { kvmctl } from '../testing/run.js';

const policy = (name: string, labels: Record<string, string>, body: string) => `apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: ${name}
spec:
  nodeSelector:
    matchLabels: ${JSON.stringify(labels)}
${body}`;

const shadow = policy('block-shadow', { env: 'prod' }, `  file:
    matchPaths:
    - path: /etc/shadow
  action: Block
`);
const curl = policy('curl-only-tmp', { 'kubearmor.io/hostname': 'web-1' }, `  file:
    matchDirectories:
    - dir: /tmp/
      fromSource:
      - path: /usr/bin/curl
  action: Allow
`);
const syscalls = policy('audit-unlink', { env: 'prod' }, `  syscalls:
    matchSyscalls:
    - syscall:
      - unlink
  action: Audit
`);

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'kvmctl-render-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

const normalized = (...texts: string[]) => texts.map((t) => normalizeHostPolicy(parseDocuments(t, 'x')[0]!.object as KubeArmorHostPolicy));

describe('kvmctl render --lsm apparmor', () => {
  it('prints every artifact of the library render, each after a header comment', async () => {
    const d = dir({ 'a.yaml': shadow, 'b.yaml': curl });
    const r = await kvmctl(['render', '-f', d]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Without --hostname/--labels every policy is rendered as selecting the host.
    const expected = renderAppArmorProfiles(normalized(shadow, curl), { name: 'localhost' });
    expect(expected.artifacts.length).toBeGreaterThanOrEqual(2);
    expect(r.stdout).toBe(expected.artifacts.map((a) => `# kvmctl render: ${a.fileName}\n${a.content}`).join(''));
  });

  it('renders only the policies selecting --hostname/--labels, with --posture', async () => {
    const d = dir({ 'a.yaml': `${shadow}---\n${curl}` });
    const web1 = await kvmctl(['render', '-f', d, '--hostname', 'web-1', '--posture', 'file=block']);
    expect(web1.code).toBe(0);
    const expected = renderAppArmorProfiles(normalized(curl), { name: 'web-1' }, { postures: { file: 'block' } });
    expect(web1.stdout).toBe(expected.artifacts.map((a) => `# kvmctl render: ${a.fileName}\n${a.content}`).join(''));
    expect(web1.stdout).not.toContain('/etc/shadow');
    expect(web1.stdout).toContain('postures: file=block network=audit capabilities=audit');

    const prod = await kvmctl(['render', '-f', d, '--hostname', 'db-1', '--labels', 'env=prod']);
    expect(prod.stdout).toContain('/etc/shadow');
    expect(prod.stdout).not.toContain('/tmp/');

    const none = await kvmctl(['render', '-f', d, '--labels', 'env=dev']);
    expect(none).toMatchObject({ code: 0, stdout: '' });
    expect(none.stderr).toMatch(/^no policy in the input selects host localhost \(labels env=dev,kubearmor\.io\/hostname=localhost,kubernetes\.io\/hostname=localhost\)\n$/);
  });

  it('writes one file per artifact with --out and prints their paths', async () => {
    const d = dir({ 'a.yaml': `${shadow}---\n${curl}` });
    const out = join(mkdtempSync(join(tmpdir(), 'kvmctl-out-')), 'profiles');
    const r = await kvmctl(['render', '-f', d, '--out', out]);
    expect(r.code).toBe(0);
    const expected = renderAppArmorProfiles(normalized(shadow, curl), { name: 'localhost' });
    expect(readdirSync(out).sort()).toEqual(expected.artifacts.map((a) => a.fileName).sort());
    for (const a of expected.artifacts) expect(readFileSync(join(out, a.fileName), 'utf8')).toBe(a.content);
    expect(r.stdout).toBe(expected.artifacts.map((a) => `${join(out, a.fileName)}\n`).join(''));
  });

  it('reports rules AppArmor cannot express on stderr and renders the rest', async () => {
    const d = dir({ 'p.yaml': `${shadow}---\n${syscalls}` });
    const r = await kvmctl(['render', '-f', d]);
    expect(r.code).toBe(0);
    const expected = renderAppArmorProfiles(normalized(shadow, syscalls), { name: 'localhost' });
    for (const u of expected.unenforceable) {
      expect(r.stderr).toContain(`warning: ${join(d, 'p.yaml')}#2 KubeArmorHostPolicy/${u.policy}: ${u.field}: ${u.reason} (not enforced by AppArmor)\n`);
    }
    expect(r.stdout).toContain('/etc/shadow');
  });

  it('invalid input: the errors of validate, exit 1, nothing on stdout', async () => {
    const d = dir({ 'bad.yaml': `${shadow}---\n${shadow.replace('block-shadow', 'broken').replace('/etc/shadow', '/etc/')}` });
    const validate = await kvmctl(['validate', '-f', d]);
    const r = await kvmctl(['render', '-f', d]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${join(d, 'bad.yaml')}#2 KubeArmorHostPolicy/broken: spec.file.matchPaths[0].path: must be an absolute path without a trailing '/'\n`);
    expect(r.stderr).toBe(validate.stderr);
  });

  it('checks its flags (exit 2)', async () => {
    const d = dir({ 'a.yaml': shadow });
    expect((await kvmctl(['render', '-f', d, '--lsm', 'tomoyo'])).code).toBe(2);
    const posture = await kvmctl(['render', '-f', d, '--posture', 'file=deny']);
    expect(posture).toMatchObject({ code: 2, stdout: '' });
    expect(posture.stderr).toBe('error: --posture: posture "file=deny": value must be one of allow, audit, block\n');
    expect((await kvmctl(['render', '-f', d, '--hostname', 'Web_1'])).code).toBe(2);
    expect((await kvmctl(['render', '-f', d, '--labels', 'env'])).code).toBe(2);
    expect((await kvmctl(['render'])).code).toBe(2);
  });

  it('skips kinds that do not render to an LSM, saying so', async () => {
    const host = 'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorVirtualMachine\nmetadata:\n  name: web-1\n';
    const r = await kvmctl(['render', '-f', '-'], `${host}---\n${shadow}`);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('-#1 KubeArmorVirtualMachine/web-1: skipped (only KubeArmorHostPolicy renders to apparmor)\n');
    expect(r.stdout).toContain('/etc/shadow');
  });
});

describe('kvmctl render --lsm selinux', () => {
  it('prints the CIL module and the file-context list of the library render', async () => {
    const d = dir({ 'a.yaml': `${shadow}---\n${curl}` });
    const r = await kvmctl(['render', '-f', d, '--lsm', 'selinux', '--hostname', 'web-1', '--labels', 'env=prod']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = renderSelinuxModule(normalized(shadow, curl), { name: 'web-1' });
    expect(m.problems).toEqual([]);
    const contexts = m.fileContexts.map((fc) => `${fc.pathRegex}\t${fc.context}\n`).join('');
    expect(contexts).toContain('/etc/shadow');
    expect(r.stdout).toBe(
      `; kvmctl render: ${m.moduleName}.cil\n${m.module}` +
        `# kvmctl render: ${m.moduleName}.file_contexts\n# after installing: restorecon -R ${m.relabelPaths.join(' ')}\n${contexts}`,
    );
  });

  it('writes the module and the file contexts with --out', async () => {
    const d = dir({ 'a.yaml': shadow });
    const out = mkdtempSync(join(tmpdir(), 'kvmctl-out-'));
    const r = await kvmctl(['render', '-f', d, '--lsm', 'selinux', '--hostname', 'db-1', '--labels', 'env=prod', '--out', out]);
    expect(r.code).toBe(0);
    const m = renderSelinuxModule(normalized(shadow), { name: 'db-1' });
    expect(readdirSync(out).sort()).toEqual([`${m.moduleName}.cil`, `${m.moduleName}.file_contexts`]);
    expect(readFileSync(join(out, `${m.moduleName}.cil`), 'utf8')).toBe(m.module);
  });

  it('renders nothing when a rule cannot be expressed (exit 1, each problem named)', async () => {
    const d = dir({ 'p.yaml': `${shadow}---\n${syscalls}` });
    const r = await kvmctl(['render', '-f', d, '--lsm', 'selinux']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const m = renderSelinuxModule(normalized(shadow, syscalls), { name: 'localhost' });
    expect(m.problems.length).toBeGreaterThan(0);
    expect(r.stderr).toBe(m.problems.map((p) => `${join(d, 'p.yaml')}#2 KubeArmorHostPolicy/${p.policy}: ${p.field}: ${p.reason}\n`).join(''));
  });
});
