import { describe, expect, it } from 'vitest';
import { validateResource } from '../validation/validate-resource.js';
import type { KubeArmorHostPolicy } from './kubearmor-host-policy.js';
import { normalizeHostPolicy } from './normalize.js';

function policy(spec: Record<string, unknown>): KubeArmorHostPolicy {
  const object = { apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name: 'p' }, spec: { nodeSelector: { matchLabels: { a: 'b' } }, ...spec } };
  const result = validateResource(object);
  if (!result.valid) throw new Error(JSON.stringify(result.errors));
  return result.resource as unknown as KubeArmorHostPolicy;
}

describe('normalizeHostPolicy', () => {
  it('defaults the action to Block', () => {
    const n = normalizeHostPolicy(policy({ file: { matchPaths: [{ path: '/etc/shadow' }] } }));
    expect(n.action).toBe('Block');
    expect(n.rules[0]).toMatchObject({ class: 'file', action: 'Block', target: { kind: 'path', path: '/etc/shadow' }, field: 'spec.file.matchPaths[0]' });
  });

  it('inherits severity, tags, message and action item ← block ← policy', () => {
    const n = normalizeHostPolicy(
      policy({
        severity: 5,
        tags: ['global'],
        message: 'global-msg',
        action: 'Audit',
        process: {
          tags: ['process'],
          message: 'process-msg',
          matchDirectories: [{ dir: '/usr/bin/', recursive: true, severity: 3 }],
          matchPaths: [{ path: '/bin/ls', action: 'Block', tags: ['item'] }],
        },
        file: { matchPaths: [{ path: '/etc/hosts' }] },
      }),
    );
    const [ls, usrbin, hosts] = [n.rules.find((r) => r.field === 'spec.process.matchPaths[0]'), n.rules.find((r) => r.field === 'spec.process.matchDirectories[0]'), n.rules.find((r) => r.class === 'file')];
    expect(usrbin).toMatchObject({ severity: 3, tags: ['process'], message: 'process-msg', action: 'Audit', target: { kind: 'dir', dir: '/usr/bin/', recursive: true } });
    expect(ls).toMatchObject({ severity: 5, tags: ['item'], message: 'process-msg', action: 'Block' });
    expect(hosts).toMatchObject({ severity: 5, tags: ['global'], message: 'global-msg', action: 'Audit' });
  });

  it('expands comma lists into one rule each and lower-cases protocols', () => {
    const n = normalizeHostPolicy(
      policy({
        network: { matchProtocols: [{ protocol: 'TCP, udp', fromSource: [{ path: '/usr/bin/curl' }] }] },
        capabilities: { matchCapabilities: [{ capability: 'net_raw,chown', fromSource: [{ path: '/bin/ping' }] }] },
      }),
    );
    expect(n.rules.filter((r) => r.class === 'network').map((r) => (r as { protocol: string }).protocol)).toEqual(['tcp', 'udp']);
    expect(n.rules.filter((r) => r.class === 'capability').map((r) => (r as { capability: string }).capability)).toEqual(['net_raw', 'chown']);
    expect(n.rules.every((r) => 'fromSource' in r && r.fromSource.length === 1)).toBe(true);
  });

  it('treats syscall rules as Audit whatever the action', () => {
    const n = normalizeHostPolicy(policy({ action: 'Block', syscalls: { matchSyscalls: [{ syscall: ['unlink'] }] } }));
    expect(n.rules[0]).toMatchObject({ class: 'syscall', action: 'Audit', syscalls: ['unlink'] });
  });

  it('keeps execname and the written object untouched', () => {
    const p = policy({ process: { matchPaths: [{ execname: 'nc' }] } });
    const before = JSON.stringify(p);
    expect(normalizeHostPolicy(p).rules[0]).toMatchObject({ target: { kind: 'execname', name: 'nc' } });
    expect(JSON.stringify(p)).toBe(before);
  });
});
