import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flowPeer, parseCiliumLabel } from './flow-peers.js';
import { readHubbleFlows } from './hubble.js';
import { kubeArmorLogToHostEvent } from './kubearmor-log.js';
import { hostNetworkPolicyName, hostPolicyName, workloadPolicyName } from './names.js';
import { NAME_PATTERN } from '@kvmservice/resources';

const observeLine = JSON.stringify({
  flow: {
    time: '2024-05-01T10:00:00.123Z',
    verdict: 'FORWARDED',
    IP: { source: '10.0.1.5', destination: '10.0.2.7', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 51234, destination_port: 8080, flags: { SYN: true } } },
    source: { ID: 12, identity: 3456, namespace: 'shop', labels: ['k8s:app=web', 'k8s:io.kubernetes.pod.namespace=shop', 'k8s:pod-template-hash=abc'], pod_name: 'web-1' },
    destination: { namespace: 'shop', labels: ['k8s:app=api'], pod_name: 'api-1' },
    destination_names: ['api.shop.example'],
    Type: 'L7',
    traffic_direction: 'EGRESS',
    is_reply: { value: false },
    l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://api:8080/items/7', protocol: 'HTTP/1.1' } },
  },
  node_name: 'vm1',
  time: '2024-05-01T10:00:00.123Z',
});

describe('readHubbleFlows', () => {
  it('reads `hubble observe -o json` lines', () => {
    const r = readHubbleFlows(`${observeLine}\n\nnot json\n{"foo":1}\n`);
    expect(r.unparsed).toEqual([
      { line: 3, reason: 'not JSON' },
      { line: 4, reason: 'not a Hubble flow (no source, destination or IP)' },
    ]);
    expect(r.flows).toHaveLength(1);
    expect(r.flows[0]).toMatchObject({
      time: '2024-05-01T10:00:00.123Z',
      verdict: 'FORWARDED',
      sourceIp: '10.0.1.5',
      destinationIp: '10.0.2.7',
      l4: { protocol: 'TCP', sourcePort: 51234, destinationPort: 8080 },
      destinationNames: ['api.shop.example'],
      trafficDirection: 'EGRESS',
      reply: false,
      l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://api:8080/items/7' } },
      nodeName: 'vm1',
    });
  });

  it('reads a JSON array of flows and is total', () => {
    const r = readHubbleFlows(`[${JSON.stringify(JSON.parse(observeLine).flow)}, 3, {"reply": true, "IP": {}}]`);
    expect(r.flows).toHaveLength(2);
    expect(r.flows[1]!.reply).toBe(true);
    expect(r.unparsed).toEqual([{ line: 2, reason: 'not a JSON object' }]);
    fc.assert(
      fc.property(fc.string(), (s) => {
        const out = readHubbleFlows(s);
        expect(Array.isArray(out.flows) && Array.isArray(out.unparsed)).toBe(true);
      }),
    );
    fc.assert(fc.property(fc.jsonValue(), (v) => void readHubbleFlows(JSON.stringify(v))));
  });
});

describe('flow peers', () => {
  it('reads Cilium labels and strips volatile ones', () => {
    expect(parseCiliumLabel('k8s:app=web')).toEqual({ source: 'k8s', key: 'app', value: 'web' });
    expect(parseCiliumLabel('k8s:common:x')).toEqual({ source: 'k8s', key: 'common', value: 'x' });
    expect(flowPeer({ labels: ['k8s:app=web', 'k8s:pod-template-hash=1', 'k8s:io.kubernetes.pod.namespace=shop'] }, '10.0.0.1')).toEqual({
      kind: 'endpoint',
      key: 'shop/app=web',
      endpoint: { namespace: 'shop', labels: { app: 'web' } },
    });
    expect(flowPeer({ labels: ['reserved:host'] }, '10.0.0.1')).toEqual({ kind: 'host' });
    expect(flowPeer({ labels: ['reserved:world'] }, '1.2.3.4')).toEqual({ kind: 'ip', ip: '1.2.3.4' });
    expect(flowPeer({ labels: ['reserved:remote-node', 'reserved:host'] }, '1.2.3.4')).toEqual({ kind: 'host' });
    expect(flowPeer({ labels: ['reserved:kube-apiserver', 'reserved:remote-node'] }, '1.2.3.4')).toEqual({ kind: 'entity', entity: 'kube-apiserver' });
    expect(flowPeer({ labels: [] }, undefined)).toBeUndefined();
  });
});

describe('names', () => {
  it('are stable, valid object names and tell binaries apart', () => {
    const a = hostPolicyName('Web_1.example.com', '/usr/bin/a-b');
    const b = hostPolicyName('Web_1.example.com', '/usr/bin/a/b');
    expect(a).toMatch(/^autopol-host-web-1-example-com-usr-bin-a-b-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(hostPolicyName('h', '/x')).toBe(hostPolicyName('h', '/x'));
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 500 }), (host, bin) => {
        for (const n of [hostPolicyName(host, bin), hostPolicyName(host, undefined), hostNetworkPolicyName(host), workloadPolicyName('egress', { [host]: bin }, host)]) {
          expect(n.length).toBeLessThanOrEqual(253);
          expect(n).toMatch(NAME_PATTERN);
        }
      }),
    );
  });
});

describe('kubeArmorLogToHostEvent', () => {
  it('reads KubeArmor log records, keys in any case', () => {
    expect(kubeArmorLogToHostEvent({ operation: 'File', source: '/bin/sleep 1', resource: '/etc/ld.so.cache', data: 'syscall=SYS_OPENAT fd=-100 flags=O_RDONLY|O_CLOEXEC', result: 'Passed', timestamp: 1624925146 })).toMatchObject({
      operation: 'File',
      action: 'Allow',
      timestampMs: 1624925146000,
      process: { exe: '/bin/sleep' },
      file: { path: '/etc/ld.so.cache', access: ['read'] },
    });
    expect(kubeArmorLogToHostEvent({ Operation: 'process', SOURCE: '/bin/bash', resource: '/usr/bin/id -u', result: 'Permission denied' })).toMatchObject({
      operation: 'Process',
      action: 'Block',
      parentProcessName: '/bin/bash',
      file: { path: '/usr/bin/id', access: ['exec'] },
    });
    expect(kubeArmorLogToHostEvent({ operation: 'Network', source: '/usr/bin/curl', resource: 'sa_family=AF_INET sin_port=443 sin_addr=10.0.0.1', data: 'syscall=SYS_CONNECT fd=3' })).toMatchObject({
      network: { family: 'inet', direction: 'connect', peerAddr: '10.0.0.1', peerPort: 443 },
    });
    expect(kubeArmorLogToHostEvent({ operation: 'dance' })).toBe('unknown operation "dance"');
    expect(kubeArmorLogToHostEvent([1])).toBe('not a JSON object');
  });
});

describe('untrusted flow data', () => {
  it('keeps labels a selector cannot hold and names toFQDNs cannot hold out of the model', async () => {
    const { createHostModel, observeDnsAnswer } = await import('./model.js');
    expect(flowPeer({ labels: ['k8s:bad key=x', 'k8s:app=web', 'k8s:x=bad value'] }, undefined)).toEqual({
      kind: 'endpoint',
      key: '/app=web',
      endpoint: { namespace: '', labels: { app: 'web' } },
    });
    const m = createHostModel('h');
    for (const name of ['a..b', '.x', 'ok.example.com.', 'bad name', `${'a'.repeat(300)}`, 'x"y']) observeDnsAnswer(m, name, ['1.2.3.4'], 0);
    expect([...m.dns.get('1.2.3.4')!.keys()]).toEqual(['ok.example.com']);
  });
});
