import { validateResource } from '@kvmservice/resources';
import { describe, expect, it } from 'vitest';
import { discoverPolicies, observeHubbleText, observeLogLines, policyDigest, wrapDiscoveredPolicy } from './discover.js';
import { discoverHostPolicies } from './host-policies.js';
import { createHostModel } from './model.js';

const LOG = [
  'type=AVC msg=audit(1716000000.100:10): apparmor="ALLOWED" operation="open" class="file" profile="/usr/sbin/nginx" name="/etc/nginx/nginx.conf" pid=10 comm="nginx" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
  'type=AVC msg=audit(1716000000.200:11): apparmor="ALLOWED" operation="capable" class="cap" profile="/usr/sbin/nginx" pid=10 comm="nginx" capability=10  capname="net_bind_service"',
  'type=AVC msg=audit(1716000000.300:12): apparmor="ALLOWED" operation="create" class="net" profile="/usr/sbin/nginx" pid=10 comm="nginx" family="inet" sock_type="stream" protocol=6 requested="create" denied="create"',
  'not an audit record',
  'type=AVC msg=audit(1716000000.400:13): apparmor="ALLOWED" operation="exec" profile="/usr/sbin/nginx" name="/usr/bin/id" pid=11 comm="nginx" requested_mask="x" denied_mask="x" fsuid=0 ouid=0 target="/usr/sbin/nginx//null-/usr/bin/id"',
];

describe('discoverPolicies', () => {
  it('goes from log lines to valid policies, counting what it could not read', () => {
    const model = createHostModel('web1');
    expect(observeLogLines(model, LOG, 0)).toEqual({ lines: 5, unparsed: 1, events: 4 });
    const r = discoverPolicies(model);
    expect(r.hostPolicies).toHaveLength(1);
    expect(r.hostNetworkPolicy).toBeUndefined();
    expect(r.objects).toEqual(r.hostPolicies);
    const spec = r.hostPolicies[0]!.spec;
    expect(spec.file?.matchPaths).toEqual([{ path: '/etc/nginx/nginx.conf', readOnly: true, ownerOnly: true, fromSource: [{ path: '/usr/sbin/nginx' }] }]);
    expect(spec.process?.matchPaths).toEqual([{ path: '/usr/bin/id', fromSource: [{ path: '/usr/sbin/nginx' }] }]);
    expect(spec.network?.matchProtocols).toEqual([{ protocol: 'tcp', fromSource: [{ path: '/usr/sbin/nginx' }] }]);
    expect(spec.capabilities?.matchCapabilities).toEqual([{ capability: 'net_bind_service', fromSource: [{ path: '/usr/sbin/nginx' }] }]);
    expect(r.report.first).toBe(1716000000);
    expect(r.report.warnings).toEqual([]);
    // the same model gives the same policies
    expect(discoverPolicies(model)).toEqual(r);
  });

  it('wraps a policy for review with a digest that changes with the policy', () => {
    const model = createHostModel('web1');
    observeLogLines(model, LOG.slice(0, 2), 0);
    const before = discoverHostPolicies(model).policies[0]!;
    const dsp = wrapDiscoveredPolicy(before);
    expect(validateResource(dsp)).toMatchObject({ valid: true });
    expect(dsp.spec.status).toBe('Inactive');
    expect(dsp.metadata.name).toBe(before.metadata.name);
    expect(policyDigest(structuredClone(before))).toBe(policyDigest(before));
    observeLogLines(model, LOG.slice(2), 0);
    const after = discoverHostPolicies(model).policies[0]!;
    expect(after.metadata.name).toBe(before.metadata.name);
    expect(policyDigest(after)).not.toBe(policyDigest(before));
  });

  it('warns when the model is full', () => {
    const model = createHostModel('web1', { maxEntries: 1 });
    observeLogLines(model, LOG, 0);
    expect(discoverPolicies(model).report.warnings[0]).toMatch(/^the model of web1 is full; observations not kept: .*capabilities 1/);
  });

  it('reads Hubble text into workload policies', () => {
    const model = createHostModel('vm1');
    const flow = {
      flow: {
        verdict: 'FORWARDED',
        IP: { source: '10.0.0.1', destination: '10.0.0.2' },
        l4: { TCP: { source_port: 40000, destination_port: 8080 } },
        source: { namespace: 'shop', labels: ['k8s:app=web'] },
        destination: { namespace: 'shop', labels: ['k8s:app=api'] },
        l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://api/items' } },
      },
    };
    expect(observeHubbleText(model, `${JSON.stringify(flow)}\ngarbage\n`, 0)).toEqual({ flows: 1, unparsed: [{ line: 2, reason: 'not JSON' }] });
    const r = discoverPolicies(model);
    expect(r.workloadPolicies.map((p) => Object.keys(p.spec!).sort())).toEqual([
      ['egress', 'endpointSelector'],
      ['endpointSelector', 'ingress'],
    ]);
    for (const p of r.objects) expect(validateResource(p)).toMatchObject({ valid: true });
    expect(JSON.stringify(r.workloadPolicies)).toContain('"path":"/items"');
  });
});
