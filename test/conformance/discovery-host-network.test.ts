/**
 * The host firewall policy end to end: raw Linux-audit records (connect/bind/accept4 with their
 * SOCKADDR records, as auditd writes them), AppArmor network records, and Hubble flows of the
 * host endpoint (a DNS answer, an HTTP request) → libs/auditlog → discovery → a
 * CiliumClusterwideNetworkPolicy with nodeSelector that Cilium 1.18's schema (ajv), Cilium's
 * Sanitize rules and libs/resources accept, with DNS L7 rules only, failsafe ports, and the
 * peers and ports the records show.
 */
import { createHostModel, discoverPolicies, observeHubbleText, observeLogLines } from '@kvmservice/discovery';
import { ciliumPolicyProblems, validateResource } from '@kvmservice/resources';
import { describe, expect, it } from 'vitest';
import { ciliumSchemaValidator } from '../support/crd-schemas.js';

/** One audit event: SYSCALL + SOCKADDR + EOE, as auditd writes it (x86_64 syscall numbers). */
function auditEvent(serial: number, syscall: number, exe: string, saddr: string): string[] {
  const id = `1716000000.${String(serial).padStart(3, '0')}:${serial}`;
  const comm = exe.slice(exe.lastIndexOf('/') + 1);
  return [
    `type=SYSCALL msg=audit(${id}): arch=c000003e syscall=${syscall} success=yes exit=0 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=${100 + serial} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="${comm}" exe="${exe}" key="kvmservice-net"`,
    `type=SOCKADDR msg=audit(${id}): saddr=${saddr}`,
    `type=EOE msg=audit(${id}): `,
  ];
}

/** sockaddr_in as the kernel logs it: family (little-endian), port and address (network order), padding. */
function sockaddrIn(addr: string, port: number): string {
  const hex = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');
  return `0200${hex(port, 4)}${addr.split('.').map((o) => hex(Number(o), 2)).join('')}0000000000000000`;
}

const CONNECT = 42;
const BIND = 49;
const ACCEPT4 = 288;

const log = [
  ...auditEvent(1, BIND, '/usr/sbin/nginx', sockaddrIn('0.0.0.0', 443)),
  ...auditEvent(2, ACCEPT4, '/usr/sbin/nginx', sockaddrIn('198.51.100.10', 54321)),
  ...auditEvent(3, ACCEPT4, '/usr/sbin/nginx', sockaddrIn('198.51.100.11', 54322)),
  ...auditEvent(4, CONNECT, '/usr/bin/curl', sockaddrIn('203.0.113.5', 443)),
  ...auditEvent(5, CONNECT, '/usr/lib/apt/methods/http', sockaddrIn('151.101.2.132', 80)),
  ...auditEvent(6, CONNECT, '/usr/lib/systemd/systemd-resolved', sockaddrIn('10.0.0.2', 53)),
  ...auditEvent(7, BIND, '/usr/sbin/chronyd', sockaddrIn('0.0.0.0', 0)),
  'type=AVC msg=audit(1716000000.800:30): apparmor="ALLOWED" operation="connect" class="net" profile="/usr/sbin/postfix" pid=300 comm="smtp" family="inet" sock_type="stream" protocol=6 requested="connect" denied="connect" faddr=192.0.2.25 fport=25',
  'type=AVC msg=audit(1716000000.900:31): apparmor="ALLOWED" operation="accept" class="net" profile="/usr/sbin/sshd" pid=301 comm="sshd" family="inet6" sock_type="stream" protocol=6 requested="accept" denied="accept" lport=22 faddr=2001:db8::7 fport=40000',
];

const hubble = [
  {
    flow: {
      time: '2024-05-18T03:00:00Z',
      verdict: 'FORWARDED',
      IP: { source: '10.0.0.2', destination: '10.0.0.1' },
      l4: { UDP: { source_port: 53, destination_port: 40000 } },
      source: { labels: ['reserved:world'] },
      destination: { labels: ['reserved:host'] },
      is_reply: true,
      l7: { type: 'RESPONSE', dns: { query: 'deb.debian.org.', ips: ['151.101.2.132'] } },
    },
  },
  {
    flow: {
      time: '2024-05-18T03:00:01Z',
      verdict: 'FORWARDED',
      IP: { source: '10.0.0.1', destination: '10.0.3.4' },
      l4: { TCP: { source_port: 40001, destination_port: 8080 } },
      source: { labels: ['reserved:host'] },
      destination: { namespace: 'shop', labels: ['k8s:app=api', 'k8s:io.kubernetes.pod.namespace=shop'] },
      l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://api:8080/health' } },
    },
  },
]
  .map((f) => JSON.stringify(f))
  .join('\n');

describe('host firewall policy from audit records and Hubble flows', () => {
  const model = createHostModel('web1');
  const read = observeLogLines(model, log, 1716000000000);
  const flows = observeHubbleText(model, hubble, 1716000000000);
  const result = discoverPolicies(model, { hostNetwork: { controlPlane: { cidrs: ['10.9.0.1/32'] } } });
  const policy = result.hostNetworkPolicy!;

  it('reads every record', () => {
    expect(read).toEqual({ lines: log.length, unparsed: 0, events: 9 });
    expect(flows.unparsed).toEqual([]);
    // the one record saying nothing: chronyd binding port 0
    expect(model.stats.skipped.unknownProtocol).toBe(1);
  });

  it('is a valid host policy: Cilium schema, Sanitize rules, libs/resources', () => {
    const schema = ciliumSchemaValidator('CiliumClusterwideNetworkPolicy');
    expect(schema(policy) ? [] : schema.errors).toEqual([]);
    expect(ciliumPolicyProblems(policy)).toEqual([]);
    const v = validateResource(policy);
    expect(v.valid ? [] : v.errors).toEqual([]);
    expect(policy.spec!.nodeSelector).toEqual({ matchLabels: { 'kubernetes.io/hostname': 'web1' } });
  });

  it('allows ingress on the ports something accepted on, from the peers seen, and keeps SSH open', () => {
    expect(policy.spec!.ingress).toEqual([
      { fromCIDR: ['198.51.100.10/32', '198.51.100.11/32'], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] },
      { fromCIDR: ['2001:db8::7/128'], toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }] }] },
      { fromEntities: ['all'], toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }] }] },
    ]);
  });

  it('allows egress per peer, by name where DNS said, DNS through the resolver, the control plane, never HTTP', () => {
    const egress = policy.spec!.egress!;
    expect(egress).toContainEqual({ toFQDNs: [{ matchName: 'deb.debian.org' }], toPorts: [{ ports: [{ port: '80', protocol: 'ANY' }] }] });
    expect(egress).toContainEqual({ toCIDR: ['10.0.0.2/32'], toPorts: [{ ports: [{ port: '53', protocol: 'TCP' }, { port: '53', protocol: 'UDP' }], rules: { dns: [{ matchPattern: '*' }] } }] });
    expect(egress).toContainEqual({ toCIDR: ['203.0.113.5/32'], toPorts: [{ ports: [{ port: '443', protocol: 'ANY' }] }] });
    expect(egress).toContainEqual({ toCIDR: ['192.0.2.25/32'], toPorts: [{ ports: [{ port: '25', protocol: 'TCP' }] }] });
    expect(egress).toContainEqual({ toCIDR: ['10.9.0.1/32'], toPorts: [{ ports: [{ port: '32770', protocol: 'TCP' }] }] });
    expect(egress).toContainEqual({
      toEndpoints: [{ matchLabels: { app: 'api', 'k8s:io.kubernetes.pod.namespace': 'shop' } }],
      toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }] }],
    });
    expect(egress).toHaveLength(6);
    expect(JSON.stringify(policy)).not.toContain('"http"');
    expect(result.report.hostNetwork!.httpDropped).toBe(1);
    expect(result.report.warnings).toContain('1 HTTP requests of the host endpoint kept as L4 only (host policies carry DNS L7 rules only)');
  });
});
