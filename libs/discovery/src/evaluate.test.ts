import type { HostEvent } from '@kvmservice/auditlog';
import { normalizeHostPolicy, validateResource, type KubeArmorHostPolicy } from '@kvmservice/resources';
import { describe, expect, it } from 'vitest';
import { evaluateHostEvent, HostPolicyEvaluator } from './evaluate.js';

function policy(name: string, spec: Omit<KubeArmorHostPolicy['spec'], 'nodeSelector'>): ReturnType<typeof normalizeHostPolicy> {
  const p: KubeArmorHostPolicy = { apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name }, spec: { nodeSelector: { matchLabels: { 'kubearmor.io/hostname': 'h' } }, ...spec } };
  const v = validateResource(p);
  if (!v.valid) throw new Error(JSON.stringify(v.errors));
  return normalizeHostPolicy(p);
}

const file = (exe: string, path: string, access: string[], owner = true): HostEvent => ({
  operation: 'File',
  action: 'Allow',
  result: 'Passed',
  enforcer: 'AppArmor',
  type: 'MatchedHostPolicy',
  process: { exe },
  file: { path, access, fsuid: 1000, ouid: owner ? 1000 : 0 },
});
const exec = (parent: string, path: string): HostEvent => ({ operation: 'Process', action: 'Allow', result: 'Passed', enforcer: 'Linux-audit', type: 'HostLog', source: parent, file: { path, access: ['exec'] } });
const net = (exe: string, family: string, sockType: string, protocol?: string): HostEvent => ({
  operation: 'Network',
  action: 'Allow',
  result: 'Passed',
  enforcer: 'AppArmor',
  type: 'MatchedHostPolicy',
  process: { exe },
  network: { family, sockType, ...(protocol ? { protocol } : {}) },
});
const cap = (exe: string, capability: string): HostEvent => ({ operation: 'Capabilities', action: 'Allow', result: 'Passed', enforcer: 'AppArmor', type: 'MatchedHostPolicy', process: { exe }, capability });

const block = { postures: { file: 'block', network: 'block', capabilities: 'block' } } as const;

describe('evaluateHostEvent', () => {
  const nginx = policy('nginx', {
    action: 'Allow',
    file: {
      matchPaths: [
        { path: '/etc/nginx/nginx.conf', readOnly: true, fromSource: [{ path: '/usr/sbin/nginx' }] },
        { path: '/run/nginx.pid', ownerOnly: true, fromSource: [{ path: '/usr/sbin/nginx' }] },
      ],
      matchDirectories: [
        { dir: '/var/log/nginx/', fromSource: [{ path: '/usr/sbin/nginx' }] },
        { dir: '/usr/share/nginx/', recursive: true, readOnly: true, fromSource: [{ path: '/usr/sbin/nginx' }] },
      ],
    },
    process: { matchPaths: [{ path: '/usr/bin/id', fromSource: [{ path: '/usr/sbin/nginx' }] }] },
    network: { matchProtocols: [{ protocol: 'tcp', fromSource: [{ path: '/usr/sbin/nginx' }] }] },
    capabilities: { matchCapabilities: [{ capability: 'net_bind_service', fromSource: [{ path: '/usr/sbin/nginx' }] }] },
  });

  it('allows what the rules allow and applies the posture to the rest of an allow-listed class', () => {
    const ev = new HostPolicyEvaluator([nginx], block);
    expect(ev.evaluate(file('/usr/sbin/nginx', '/etc/nginx/nginx.conf', ['read']))).toMatchObject({ decision: 'Allow', reason: 'rule', rule: { policy: 'nginx', field: 'spec.file.matchPaths[0]' } });
    expect(ev.evaluate(file('/usr/sbin/nginx', '/etc/nginx/nginx.conf', ['write']))).toMatchObject({ decision: 'Block', reason: 'posture', policies: ['nginx'] });
    expect(ev.evaluate(file('/usr/sbin/nginx', '/etc/shadow', ['read']))).toMatchObject({ decision: 'Block', reason: 'posture' });
    // directories: one level, or recursive
    expect(ev.evaluate(file('/usr/sbin/nginx', '/var/log/nginx/access.log', ['write'])).decision).toBe('Allow');
    expect(ev.evaluate(file('/usr/sbin/nginx', '/var/log/nginx/old/access.log', ['write'])).decision).toBe('Block');
    expect(ev.evaluate(file('/usr/sbin/nginx', '/usr/share/nginx/html/a/b/index.html', ['read'])).decision).toBe('Allow');
    // ownerOnly: other users are denied outright
    expect(ev.evaluate(file('/usr/sbin/nginx', '/run/nginx.pid', ['write'], true)).decision).toBe('Allow');
    expect(ev.evaluate(file('/usr/sbin/nginx', '/run/nginx.pid', ['write'], false))).toMatchObject({ decision: 'Block', reason: 'rule' });
    // AppArmor: process and file rules are one allow-list
    expect(ev.evaluate(exec('/usr/sbin/nginx', '/usr/bin/id')).decision).toBe('Allow');
    expect(ev.evaluate(exec('/usr/sbin/nginx', '/bin/sh')).decision).toBe('Block');
    expect(ev.evaluate(net('/usr/sbin/nginx', 'inet', 'stream', 'tcp')).decision).toBe('Allow');
    expect(ev.evaluate(net('/usr/sbin/nginx', 'inet', 'dgram', 'udp')).decision).toBe('Block');
    expect(ev.evaluate(cap('/usr/sbin/nginx', 'net_bind_service')).decision).toBe('Allow');
    expect(ev.evaluate(cap('/usr/sbin/nginx', 'sys_admin')).decision).toBe('Block');
  });

  it('leaves other programs alone and uses the default posture (audit)', () => {
    expect(evaluateHostEvent([nginx], file('/usr/bin/cat', '/etc/shadow', ['read']))).toMatchObject({ decision: 'Allow', reason: 'unrestricted', source: '/usr/bin/cat' });
    expect(evaluateHostEvent([nginx], file('/usr/sbin/nginx', '/etc/shadow', ['read']))).toMatchObject({ decision: 'Audit', reason: 'posture' });
    expect(evaluateHostEvent([nginx], { operation: 'Syscall', action: 'Allow', result: 'Passed', enforcer: 'AppArmor', type: 'MatchedHostPolicy' })).toMatchObject({ reason: 'not-mediated' });
  });

  it('Block beats Audit beats Allow; a fromSource rule overrides a global rule on the same target', () => {
    const global = policy('global', { action: 'Block', file: { matchPaths: [{ path: '/etc/shadow' }] } });
    const audit = policy('audit', { action: 'Audit', file: { matchDirectories: [{ dir: '/etc/', recursive: true }] } });
    const allowCat = policy('cat', { action: 'Allow', file: { matchPaths: [{ path: '/etc/shadow', fromSource: [{ path: '/usr/bin/cat' }] }] } });
    const ev = new HostPolicyEvaluator([global, audit, allowCat]);
    expect(ev.evaluate(file('/usr/bin/head', '/etc/shadow', ['read']))).toMatchObject({ decision: 'Block', rule: { policy: 'global' } });
    expect(ev.evaluate(file('/usr/bin/head', '/etc/passwd', ['read']))).toMatchObject({ decision: 'Audit', rule: { policy: 'audit' } });
    // cat's own rule replaces the global Block on the same path (upstream rule maps); the global Audit dir still matches
    expect(ev.evaluate(file('/usr/bin/cat', '/etc/shadow', ['read']))).toMatchObject({ decision: 'Audit' });
  });

  it('on SELinux file and process rules are separate allow-lists', () => {
    const onlyFiles = policy('f', { action: 'Allow', file: { matchPaths: [{ path: '/etc/x', fromSource: [{ path: '/bin/p' }] }] } });
    expect(evaluateHostEvent([onlyFiles], exec('/bin/p', '/bin/ls'), block).decision).toBe('Block');
    expect(evaluateHostEvent([onlyFiles], exec('/bin/p', '/bin/ls'), { ...block, lsm: 'selinux' }).decision).toBe('Allow');
  });

  it('matches patterns, execnames and socket types', () => {
    const p = policy('p', {
      action: 'Allow',
      file: { matchPatterns: [{ pattern: '/proc/*/cmdline' }] },
      process: { matchPaths: [{ execname: 'ping' }] },
      network: { matchProtocols: [{ protocol: 'raw', fromSource: [{ path: '/bin/ping' }] }] },
    });
    const ev = new HostPolicyEvaluator([p], block);
    expect(ev.evaluate(file('/bin/x', '/proc/42/cmdline', ['read'])).decision).toBe('Allow');
    expect(ev.evaluate(file('/bin/x', '/proc/42/task/1/cmdline', ['read'])).decision).toBe('Block');
    expect(ev.evaluate(exec('/bin/sh', '/usr/local/bin/ping')).decision).toBe('Allow');
    expect(ev.evaluate(net('/bin/ping', 'inet', 'raw', 'icmp')).decision).toBe('Allow');
  });
});
