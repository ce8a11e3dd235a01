import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kvmctl } from '../testing/run.js';

const good = (name: string) => `apiVersion: security.kubearmor.com/v1
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

function tree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvmctl-validate-'));
  writeFileSync(join(dir, 'a.yaml'), good('a'));
  writeFileSync(join(dir, 'notes.txt'), 'not a manifest');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'b.yaml'), `${good('b')}---\n${good('c').replace('/etc/shadow', '/etc/')}`);
  return dir;
}

describe('kvmctl validate', () => {
  it('accepts valid files and prints each object', async () => {
    const dir = tree();
    const r = await kvmctl(['validate', '-f', join(dir, 'a.yaml')]);
    expect(r).toEqual({ code: 0, stdout: 'kubearmorhostpolicy/a valid\n', stderr: '' });
  });

  it('reads directories, recursively with -R, and names file, document, object and field', async () => {
    const dir = tree();
    expect((await kvmctl(['validate', '-f', dir])).code).toBe(0);
    const r = await kvmctl(['validate', '-R', '-f', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${join(dir, 'sub', 'b.yaml')}#2 KubeArmorHostPolicy/c: spec.file.matchPaths[0].path: must be an absolute path without a trailing '/'\n`);
  });

  it('reads stdin and never prints a stack trace for garbage', async () => {
    for (const input of ['\u0000\u0001binary', '{{{{', 'kind: [', '- a\n- b', '', 'a: &x [*x]']) {
      const r = await kvmctl(['validate', '-f', '-'], input);
      expect(r.code, input).toBe(1);
      expect(r.stderr.trim().split('\n').length, r.stderr).toBeLessThanOrEqual(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('uses exit code 2 for usage errors', async () => {
    expect((await kvmctl(['validate'])).code).toBe(2);
    expect((await kvmctl(['validate', '--bogus'])).code).toBe(2);
    expect((await kvmctl(['nonsense'])).code).toBe(2);
  });

  it('fails on a missing file before validating anything', async () => {
    const r = await kvmctl(['validate', '-f', '/nonexistent/x.yaml']);
    expect(r).toMatchObject({ code: 1, stderr: 'error: /nonexistent/x.yaml: no such file or directory\n' });
  });
});
