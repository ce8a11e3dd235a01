import { describe, expect, it } from 'vitest';
import type { Resource } from '../meta.js';
import { discoveredPolicyTarget, inputSetProblems, MAX_OBJECT_BYTES } from './input-set.js';

const hsp = (name: string, extra: Record<string, unknown> = {}) =>
  ({ apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name }, spec: { nodeSelector: { matchLabels: { a: 'b' } }, file: { matchPaths: [{ path: '/x' }] }, ...extra } }) as unknown as Resource;
const dsp = (name: string, status: string, target = 'p') =>
  ({ apiVersion: 'security.kubearmor.com/v1', kind: 'DiscoveredPolicy', metadata: { name }, spec: { status, policy: hsp(target) } }) as unknown as Resource;
const at = (resources: Resource[]) => resources.map((resource, i) => ({ location: `f.yaml#${i + 1}`, resource }));

describe('inputSetProblems', () => {
  it('accepts distinct objects, and DiscoveredPolicies that put distinct policies in force', () => {
    expect(inputSetProblems(at([hsp('a'), hsp('b'), dsp('d1', 'Active', 'p1'), dsp('d2', 'Inactive', 'p2'), dsp('d3', 'PendingUpdates', 'a')]))).toEqual([]);
  });

  it('names an object given twice where it appears again', () => {
    expect(inputSetProblems(at([hsp('a'), hsp('a')]))).toEqual(['f.yaml#2 KubeArmorHostPolicy/a: appears more than once in one apply (also at f.yaml#1)']);
  });

  it('refuses a policy given and put in force, and one policy put in force by two', () => {
    expect(inputSetProblems(at([dsp('d1', 'Active', 'p'), hsp('p')]))).toEqual([
      'f.yaml#1 DiscoveredPolicy/d1: spec.status: puts KubeArmorHostPolicy/p in force or removes it, and KubeArmorHostPolicy/p is also given (at f.yaml#2); apply one of them',
    ]);
    expect(inputSetProblems(at([dsp('d1', 'active', 'p'), dsp('d2', 'Inactive', 'p')]))).toEqual([
      'f.yaml#2 DiscoveredPolicy/d2: spec.status: KubeArmorHostPolicy/p is also put in force or removed by DiscoveredPolicy/d1; one DiscoveredPolicy per policy',
    ]);
    expect(discoveredPolicyTarget(dsp('d', 'PendingUpdates'))).toBeUndefined();
  });

  it('refuses an object larger than a stored object may be', () => {
    const [line] = inputSetProblems(at([hsp('big', { message: 'm'.repeat(MAX_OBJECT_BYTES) })]));
    expect(line).toMatch(/^f\.yaml#1 KubeArmorHostPolicy\/big: \d+ bytes, more than the 1048576 bytes an object may take$/);
  });
});
