import { describe, expect, it } from 'vitest';
import { parseLine, toWireEvent } from '@kvmservice/auditlog';
import { normalizeHostPolicy, validateResource, type KubeArmorHostPolicy, type NormalizedHostPolicy } from '@kvmservice/resources';
import { renderAppArmorProfiles } from '@kvmservice/apparmor';
import type { Event } from '@kvmservice/api';
import { AttributionService, type AttributionContext } from './attribution.service.js';

function policy(name: string, spec: Record<string, unknown>): NormalizedHostPolicy {
  const checked = validateResource({ apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name }, spec: { nodeSelector: { matchLabels: { env: 'prod' } }, ...spec } });
  if (!checked.valid) throw new Error(JSON.stringify(checked.errors));
  return normalizeHostPolicy(checked.resource as unknown as KubeArmorHostPolicy);
}

/** The wire event the agent uploads for one AppArmor kernel record. */
function record(line: string): Event {
  const event = parseLine(line).event;
  if (!event) throw new Error(`not an event: ${line}`);
  return toWireEvent(event, 1) as unknown as Event;
}

const shadow = policy('shadow-block', { file: { matchPaths: [{ path: '/etc/shadow' }] }, action: 'Block' });
const gshadow = policy('gshadow-block', { file: { matchPaths: [{ path: '/etc/gshadow' }] }, action: 'Block' });
const catSrv = policy('cat-srv', { file: { matchDirectories: [{ dir: '/srv/', recursive: true, fromSource: [{ path: '/usr/bin/cat' }] }] }, action: 'Allow' });
const policies = [shadow, gshadow, catSrv];
const render = renderAppArmorProfiles(policies, { name: 'web-1' }, { postures: { file: 'block' } });
const context: AttributionContext = { lsm: 'apparmor', postures: { file: 'block' }, policies, sources: render.profileSources };

const denied = (profile: string, path: string, comm: string) =>
  `type=AVC msg=audit(1716000000.000:100): apparmor="DENIED" operation="open" profile="${profile}" name="${path}" pid=1234 comm="${comm}" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`;

describe('AttributionService', () => {
  it('names the policy whose rule decided, not every policy of the profile', () => {
    const service = new AttributionService();
    service.remember('web-1', render.profilePolicies, context);
    expect(render.profilePolicies['kubearmor.host']).toEqual(['gshadow-block', 'shadow-block']);
    expect(service.attribute('web-1', record(denied('kubearmor.host', '/etc/shadow', 'head'))).policyName).toBe('shadow-block');
    expect(service.attribute('web-1', record(denied('kubearmor.host', '/etc/gshadow', 'head'))).policyName).toBe('gshadow-block');
    // The global Block is copied into cat's profile: still that policy, judged under cat's profile.
    expect(service.attribute('web-1', record(denied('kubearmor_usrbincat', '/etc/shadow', 'cat'))).policyName).toBe('shadow-block');
  });

  it('names the policies that made the class an allow-list for a posture decision', () => {
    const service = new AttributionService();
    service.remember('web-1', render.profilePolicies, context);
    expect(service.attribute('web-1', record(denied('kubearmor_usrbincat', '/etc/hostname', 'cat'))).policyName).toBe('cat-srv');
  });

  it('falls back to the profile map without policies, or when the kernel decided otherwise (lsm.profile of the stored event)', () => {
    const mapOnly = new AttributionService();
    mapOnly.remember('web-1', render.profilePolicies);
    expect(mapOnly.attribute('web-1', record(denied('kubearmor.host', '/etc/shadow', 'head'))).policyName).toBe('gshadow-block,shadow-block');
    const service = new AttributionService();
    service.remember('web-1', render.profilePolicies, context);
    // No policy blocks /etc/motd for the dispatcher: the record is older than these policies.
    expect(service.attribute('web-1', record(denied('kubearmor.host', '/etc/motd', 'head'))).policyName).toBe('gshadow-block,shadow-block');
  });

  it('leaves logs, events of unknown hosts and named events alone', () => {
    const service = new AttributionService();
    service.remember('web-1', render.profilePolicies, context);
    const alert = record(denied('kubearmor.host', '/etc/shadow', 'head'));
    expect(service.attribute('web-2', alert).policyName).toBe('');
    expect(service.attribute('web-1', { ...alert, policyName: 'given' }).policyName).toBe('given');
    expect(service.attribute('web-1', { ...alert, type: 'HostLog' }).policyName).toBe('');
    expect(service.attribute('web-1', record(denied('constructor', '/etc/motd', 'head'))).policyName).toBe('');
    service.forget('web-1');
    expect(service.attribute('web-1', alert).policyName).toBe('');
  });
});
