import type { HostEvent, NetworkDetail } from '@kvmservice/auditlog';
import { ciliumPolicyProblems, validateResource, type CiliumClusterwideNetworkPolicy } from '@kvmservice/resources';
import { describe, expect, it } from 'vitest';
import { discoverHostNetworkPolicy } from './host-network.js';
import { readHubbleFlows } from './hubble.js';
import { createHostModel, observeDnsAnswer, observeEvents, observeFlows } from './model.js';

const T = 1_700_000_000_000;
const net = (exe: string, n: NetworkDetail): HostEvent => ({
  operation: 'Network',
  action: 'Allow',
  result: 'Passed',
  enforcer: 'Linux-audit',
  type: 'HostLog',
  timestampMs: T,
  process: { exe },
  network: { family: n.family ?? 'inet', sockType: 'stream', ...n },
});

function valid(p: CiliumClusterwideNetworkPolicy | undefined): CiliumClusterwideNetworkPolicy {
  expect(p).toBeDefined();
  const v = validateResource(p);
  expect(v.valid ? [] : v.errors).toEqual([]);
  expect(ciliumPolicyProblems(p!)).toEqual([]);
  return p!;
}

describe('discoverHostNetworkPolicy', () => {
  it('allows accepted connections per local port and connects per peer, keeping SSH and the control plane open', () => {
    const m = createHostModel('web1');
    observeEvents(
      m,
      [
        net('/usr/sbin/nginx', { direction: 'bind', localPort: 443 }),
        net('/usr/sbin/nginx', { direction: 'accept', localPort: 443, peerAddr: '198.51.100.7' }),
        net('/usr/sbin/nginx', { direction: 'accept', localPort: 443, peerAddr: '::ffff:198.51.100.8' }),
        net('/usr/sbin/nginx', { direction: 'accept', localPort: 8080, peerAddr: '127.0.0.1' }),
        net('/usr/bin/curl', { direction: 'connect', peerAddr: '203.0.113.5', peerPort: 443 }),
        net('/usr/bin/curl', { direction: 'connect', peerAddr: '203.0.113.5', peerPort: 80 }),
        net('/usr/sbin/ntpd', { direction: 'send', sockType: 'dgram', peerAddr: '192.0.2.123', peerPort: 123 }),
      ],
      T,
    );
    const { policy, notes } = discoverHostNetworkPolicy(m, { controlPlane: { cidrs: ['10.1.0.5/32'] } });
    const p = valid(policy);
    expect(p.kind).toBe('CiliumClusterwideNetworkPolicy');
    expect(p.spec!.nodeSelector).toEqual({ matchLabels: { 'kubernetes.io/hostname': 'web1' } });
    expect(p.spec!.ingress).toEqual([
      { fromCIDR: ['198.51.100.7/32', '198.51.100.8/32'], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] },
      { fromEntities: ['all'], toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }] }] },
      { fromEntities: ['host'], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }] }] },
    ]);
    expect(p.spec!.egress).toEqual([
      { toCIDR: ['10.1.0.5/32'], toPorts: [{ ports: [{ port: '32770', protocol: 'TCP' }] }] },
      { toCIDR: ['192.0.2.123/32'], toPorts: [{ ports: [{ port: '123', protocol: 'UDP' }] }] },
      { toCIDR: ['203.0.113.5/32'], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }, { port: '443', protocol: 'TCP' }] }] },
    ]);
    expect(notes.unusedListeners).toEqual([]);
  });

  it('names a peer by DNS and sends DNS through the resolver with a DNS rule (never HTTP)', () => {
    const m = createHostModel('web1');
    observeEvents(
      m,
      [
        net('/usr/bin/apt', { direction: 'connect', peerAddr: '151.101.2.132', peerPort: 443 }),
        net('/usr/bin/apt', { direction: 'connect', sockType: 'dgram', peerAddr: '10.0.0.2', peerPort: 53 }),
      ],
      T,
    );
    observeDnsAnswer(m, 'deb.debian.org.', ['151.101.2.132'], T);
    const flows = readHubbleFlows(
      JSON.stringify({
        flow: {
          verdict: 'FORWARDED',
          IP: { source: '10.0.0.1', destination: '10.0.0.9' },
          l4: { TCP: { source_port: 40000, destination_port: 80 } },
          source: { labels: ['reserved:host'] },
          destination: { labels: ['reserved:world'] },
          l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://10.0.0.9/x' } },
        },
      }),
    ).flows;
    observeFlows(m, flows, T);
    const { policy, notes } = discoverHostNetworkPolicy(m);
    const p = valid(policy);
    expect(p.spec!.ingress).toBeUndefined();
    expect(p.spec!.egress).toContainEqual({ toFQDNs: [{ matchName: 'deb.debian.org' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] });
    expect(p.spec!.egress).toContainEqual({
      toCIDR: ['10.0.0.2/32'],
      toPorts: [{ ports: [{ port: '53', protocol: 'TCP' }, { port: '53', protocol: 'UDP' }], rules: { dns: [{ matchPattern: '*' }] } }],
    });
    expect(p.spec!.egress).toContainEqual({ toCIDR: ['10.0.0.9/32'], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] });
    expect(JSON.stringify(p)).not.toContain('http');
    expect(notes.httpDropped).toBe(1);
  });

  it('aggregates peers into CIDRs when asked and opens a port to all past maxPeersPerPort', () => {
    const m = createHostModel('h');
    observeEvents(m, Array.from({ length: 5 }, (_, i) => net('/usr/sbin/sshd', { direction: 'accept', localPort: 2222, peerAddr: `10.2.${i}.9` })), T);
    const agg = valid(discoverHostNetworkPolicy(m, { cidrAggregation: { ipv4Prefix: 16 } }).policy);
    expect(agg.spec!.ingress![0]).toEqual({ fromCIDR: ['10.2.0.0/16'], toPorts: [{ ports: [{ port: '2222', protocol: 'TCP' }] }] });
    const wide = discoverHostNetworkPolicy(m, { maxPeersPerPort: 4 });
    expect(valid(wide.policy).spec!.ingress).toEqual([{ fromEntities: ['all'], toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }, { port: '2222', protocol: 'TCP' }] }] }]);
    expect(wide.notes.widenedPorts).toEqual(['TCP/2222']);
  });

  it('a listening port nobody used is open to all by default, closed on request; no traffic, no policy', () => {
    const m = createHostModel('h');
    observeEvents(m, [net('/usr/sbin/dnsmasq', { direction: 'bind', sockType: 'dgram', localPort: 67 })], T);
    expect(valid(discoverHostNetworkPolicy(m).policy).spec!.ingress).toEqual([
      { fromEntities: ['all'], toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }, { port: '67', protocol: 'UDP' }] }] },
    ]);
    const closed = discoverHostNetworkPolicy(m, { unusedListeners: 'omit' });
    expect(valid(closed.policy).spec!.ingress).toEqual([{ fromEntities: ['all'], toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }] }] }]);
    expect(closed.notes.unusedListeners).toEqual(['UDP/67']);
    expect(discoverHostNetworkPolicy(createHostModel('quiet')).policy).toBeUndefined();
  });
});
