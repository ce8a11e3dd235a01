import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HOST_POLICY, type Resource } from '@kvmservice/resources';
import { kvmctl } from '../testing/run.js';
import { locateServerMessage } from './apply.js';

const policy = (name: string) => `apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: ${name}
spec:
  nodeSelector:
    matchLabels: {env: prod}
  file:
    matchPaths:
    - path: /etc/shadow
  action: Block
`;

function manyFiles(n: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvmctl-apply-'));
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `p${String(i).padStart(3, '0')}.yaml`), policy(`p${i}`));
  return dir;
}

describe('kvmctl apply (offline parts)', () => {
  it('--dry-run=client validates without any server', async () => {
    const dir = manyFiles(2);
    const r = await kvmctl(['apply', '-f', dir, '--dry-run=client']);
    expect(r).toEqual({
      code: 0,
      stdout: 'kubearmorhostpolicy.security.kubearmor.com/p0 valid (dry run)\nkubearmorhostpolicy.security.kubearmor.com/p1 valid (dry run)\n',
      stderr: '',
    });
    expect((await kvmctl(['apply', '-f', dir, '--dry-run', 'client', '-o', 'name'])).stdout).toBe(
      'kubearmorhostpolicy.security.kubearmor.com/p0\nkubearmorhostpolicy.security.kubearmor.com/p1\n',
    );
  });

  it('shows progress on a terminal only, and erases it', async () => {
    const dir = manyFiles(30);
    const quiet = await kvmctl(['apply', '-f', dir, '--dry-run=client']);
    expect(quiet.stderr).toBe('');
    const tty = await kvmctl(['apply', '-f', dir, '--dry-run=client'], { stderrIsTTY: true });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toContain('\r\x1b[Kreading files 1/30');
    expect(tty.stderr).toContain('\r\x1b[Kreading files 30/30');
    expect(tty.stderr).toContain('\r\x1b[Kvalidating files 30/30');
    expect(tty.stderr.endsWith('\r\x1b[K')).toBe(true);
    expect(tty.stdout.split('\n').filter((l) => l !== '')).toHaveLength(30);
    const off = await kvmctl(['apply', '-f', dir, '--dry-run=client'], { stderrIsTTY: true, env: { KVMCTL_NO_PROGRESS: '1' } });
    expect(off.stderr).toBe('');
  });

  it('usage errors exit 2, input errors exit 1 before any connection', async () => {
    expect((await kvmctl(['apply'])).code).toBe(2);
    expect((await kvmctl(['apply', '-f', 'x.yaml', '--dry-run=sometimes'])).code).toBe(2);
    expect((await kvmctl(['apply', '-f', 'x.yaml', '-o', 'yaml'])).code).toBe(2);
    const empty = await kvmctl(['apply', '-f', '-'], '# only a comment\n');
    expect(empty).toEqual({ code: 1, stdout: '', stderr: 'error: no objects passed to apply\n' });
    const garbage = await kvmctl(['apply', '-f', '-'], 'kind: [');
    expect(garbage.code).toBe(1);
    expect(garbage.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
    expect(garbage.stderr).toMatch(/^-: yaml: /);
    // Nothing is sent: there is no server configured, and the error is about the input.
    const invalid = await kvmctl(['apply', '-f', '-'], policy('x').replace('/etc/shadow', 'relative'));
    expect(invalid).toEqual({ code: 1, stdout: '', stderr: "- KubeArmorHostPolicy/x: spec.file.matchPaths[0].path: must be an absolute path without a trailing '/'\n" });
  });

  it('points server messages at the file and document', () => {
    const objects = [
      { location: 'a.yaml', kind: HOST_POLICY, resource: { metadata: { name: 'one' } } as Resource },
      { location: 'b.yaml#2', kind: HOST_POLICY, resource: { metadata: { name: 'two' } } as Resource },
    ];
    expect(locateServerMessage('object 2 KubeArmorHostPolicy/two: spec.x: bad\nKubeArmorHostPolicy/one: the object has been modified\nsomething else', objects)).toEqual([
      'b.yaml#2 KubeArmorHostPolicy/two: spec.x: bad',
      'a.yaml KubeArmorHostPolicy/one: the object has been modified',
      'something else',
    ]);
  });
});
