import { describe, expect, it } from 'vitest';
import type { Resource } from '@kvmservice/resources';
import { describeHost } from './describe-host.js';
import { policyResults } from './host-policy-results.js';

const P = (name: string, kind = 'KubeArmorHostPolicy') => ({ kind, name, resourceVersion: '10' });

const status = {
  connected: true,
  servedBy: 'r1',
  facts: { osPrettyName: 'Debian GNU/Linux 12 (bookworm)', kernel: '6.1.0-21-amd64', architecture: 'x86_64', lsms: ['lockdown', 'capability', 'apparmor'], enforcer: 'apparmor', dryRun: false, apparmorFeaturesSha256: 'abc', ipAddresses: ['10.0.0.5'] },
  agent: { version: '0.1.0', connectedAt: '2026-01-01T00:00:00.000Z', lastHeartbeat: '2026-01-01T00:09:55.000Z', eventsDropped: 3, eventsSpooled: 0, linesUnparsed: 1 },
  desired: {
    revision: 42,
    hash: 'h42',
    policies: [P('a-applied'), P('b-failed'), P('c-audit-syscalls'), P('d-deleted'), P('net', 'CiliumClusterwideNetworkPolicy')],
    problems: [{ policy: 'c-audit-syscalls', field: 'spec.syscalls.matchSyscalls[0]', reason: 'not expressible in AppArmor' }],
    at: '2026-01-01T00:09:00.000Z',
  },
  applied: {
    revision: 42,
    hash: 'h42',
    artifacts: [
      { name: 'kubearmor.host', lsm: 'apparmor', state: 'APPLIED', message: '', policies: ['a-applied', 'c-audit-syscalls', 'd-deleted'] },
      { name: 'kubearmor_usr_bin_curl', lsm: 'apparmor', state: 'FAILED', message: 'apparmor_parser: syntax error at line 12', policies: ['b-failed'] },
      { name: 'cilium-host-policies', lsm: 'cilium', state: 'COMPILED', message: 'no cilium agent', policies: ['net'] },
    ],
    at: '2026-01-01T00:09:01.000Z',
  },
  conditions: [{ type: 'PolicyApplied', status: 'False', reason: 'Failed', message: 'kubearmor_usr_bin_curl: apparmor_parser: syntax error at line 12', lastTransitionTime: '2026-01-01T00:09:01.000Z' }],
};

describe('per-policy result of a host', () => {
  it('names the result of each policy and the error of a failed one', () => {
    const selected = [P('a-applied'), P('b-failed'), P('c-audit-syscalls'), P('e-new'), P('net', 'CiliumClusterwideNetworkPolicy')];
    expect(policyResults(status, selected).map((r) => [r.kind, r.name, r.result, r.message])).toEqual([
      ['CiliumClusterwideNetworkPolicy', 'net', 'Compiled', 'compiled, not loaded: no cilium agent'],
      ['KubeArmorHostPolicy', 'a-applied', 'Applied', ''],
      ['KubeArmorHostPolicy', 'b-failed', 'Failed', 'kubearmor_usr_bin_curl: apparmor_parser: syntax error at line 12'],
      ['KubeArmorHostPolicy', 'c-audit-syscalls', 'Applied,Unenforceable', 'not enforced: spec.syscalls.matchSyscalls[0]: not expressible in AppArmor'],
      ['KubeArmorHostPolicy', 'd-deleted', 'Applied', 'no longer selects the host (removal pending)'],
      ['KubeArmorHostPolicy', 'e-new', 'Pending', 'not in the desired state sent to the host yet'],
    ]);
  });

  it('is Pending while the applied state lags, and says why when the agent is away', () => {
    const lagging = { ...status, applied: { ...status.applied, revision: 40, hash: 'h40' } };
    expect(policyResults(lagging, [P('a-applied')]).find((r) => r.name === 'a-applied')).toMatchObject({ result: 'Pending', message: 'revision 42 not applied yet (applied: 40)' });
    expect(policyResults({ connected: false }, [P('a-applied')])[0]).toMatchObject({ result: 'Pending', message: 'the agent is not connected; the policy is sent when it connects' });
    const noArtifact = { ...status, applied: { ...status.applied, artifacts: [] } };
    expect(policyResults(noArtifact, [P('a-applied')]).find((r) => r.name === 'a-applied')).toMatchObject({ result: 'NotRendered' });
  });
});

describe('describe kvm', () => {
  it('lays out facts, connection, conditions, policies, artifacts and alerts', () => {
    const host = {
      apiVersion: 'security.kubearmor.com/v1',
      kind: 'KubeArmorVirtualMachine',
      metadata: { name: 'web-1', labels: { env: 'prod', tier: 'web' }, creationTimestamp: '2026-01-01T00:00:00.000Z', resourceVersion: '7' },
      spec: { defaultPosture: { file: 'block' }, visibility: ['process', 'file'] },
      status,
    } as unknown as Resource;
    const text = describeHost({
      host,
      selected: [P('a-applied'), P('b-failed'), P('c-audit-syscalls'), P('net', 'CiliumClusterwideNetworkPolicy')],
      alerts: { error: 'cannot reach kvmservice' },
      alertLimit: 10,
      now: new Date('2026-01-01T00:10:00.000Z'),
    });
    expect(text).toContain('Name:               web-1\n');
    expect(text).toContain('Labels:             env=prod\n                    tier=web\n');
    expect(text).toContain('CreationTimestamp:  2026-01-01T00:00:00.000Z (10m ago)\n');
    expect(text).toContain('  Default posture:  file=block network=audit capabilities=audit\n');
    expect(text).toContain('  Connected:        True (served by replica r1)\n');
    expect(text).toContain('  Last heartbeat:   2026-01-01T00:09:55.000Z (5s ago)\n');
    expect(text).toContain('  Events dropped:   3\n');
    expect(text).toContain('  Enforcer:         apparmor\n');
    expect(text).toMatch(/^ {2}PolicyApplied\s+False\s+Failed\s+2026-01-01T00:09:01\.000Z\s+kubearmor_usr_bin_curl: apparmor_parser: syntax error at line 12$/m);
    expect(text).toContain('Applied revision:   42 (reported 59s ago)\n');
    expect(text).toMatch(/^ {2}KubeArmorHostPolicy\s+b-failed\s+10\s+Failed\s+kubearmor_usr_bin_curl: apparmor_parser: syntax error at line 12$/m);
    expect(text).toMatch(/^ {2}kubearmor_usr_bin_curl\s+apparmor\s+FAILED\s+b-failed\s+apparmor_parser: syntax error at line 12$/m);
    expect(text).toContain('Recent alerts (last 10):\n  <unavailable: cannot reach kvmservice>\n');
  });
});
