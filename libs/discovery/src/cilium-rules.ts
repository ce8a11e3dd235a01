/**
 * Cilium ingress/egress rules from observed peers and ports: ports of one peer merged into one
 * `toPorts` entry per distinct L7 rule set, peers with the same ports sharing one rule, one peer
 * kind per rule (Cilium's Sanitize refuses mixing them), at most 40 ports per port rule, sorted.
 */
import type { EgressRule, IngressRule, PortRule } from '@kvmservice/resources';
import { httpRules } from './http-paths.js';

export type L4 = 'TCP' | 'UDP' | 'SCTP' | 'ANY';

export type CiliumPeer =
  | { kind: 'endpoint'; selector: Record<string, string> }
  | { kind: 'entity'; entity: string }
  | { kind: 'cidr'; cidr: string }
  | { kind: 'fqdn'; name: string };

/** `TCP/8080` → HTTP requests seen on it (`METHOD /path`); empty for L4 only. */
export type PortMap = Map<string, Set<string>>;

export interface PeerPorts {
  peer: CiliumPeer;
  ports: PortMap;
  /** DNS L7 rule (`matchPattern: '*'`) on these ports: the path to a resolver when FQDN rules need it */
  dns?: boolean;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function peerId(p: CiliumPeer): string {
  switch (p.kind) {
    case 'endpoint':
      return `endpoint:${JSON.stringify(Object.entries(p.selector).sort(([a], [b]) => cmp(a, b)))}`;
    case 'entity':
      return `entity:${p.entity}`;
    case 'cidr':
      return `cidr:${p.cidr}`;
    case 'fqdn':
      return `fqdn:${p.name}`;
  }
}

export function portKey(protocol: L4, port: number): string {
  return `${protocol}/${port}`;
}

function splitPortKey(k: string): { port: string; protocol: L4 } {
  const [protocol, port] = k.split('/') as [L4, string];
  return { port, protocol };
}

const MAX_PORTS = 40;

/** Port rules of one peer: L4-only ports together, each distinct HTTP rule set on its own. */
export function portRules(ports: PortMap, httpThreshold: number, dns = false): PortRule[] {
  const groups = new Map<string, { ports: string[]; http: string[] }>();
  for (const [k, http] of ports) {
    // HTTP rules only on TCP (Sanitize: non-DNS L7 is TCP only)
    const h = k.startsWith('TCP/') && !dns ? [...http].sort() : [];
    const id = JSON.stringify(h);
    const g = groups.get(id) ?? { ports: [], http: h };
    g.ports.push(k);
    groups.set(id, g);
  }
  const out: PortRule[] = [];
  for (const id of [...groups.keys()].sort()) {
    const g = groups.get(id)!;
    const sorted = g.ports.sort((a, b) => {
      const pa = splitPortKey(a);
      const pb = splitPortKey(b);
      return Number(pa.port) - Number(pb.port) || cmp(pa.protocol, pb.protocol);
    });
    for (let i = 0; i < sorted.length; i += MAX_PORTS) {
      const rule: PortRule = { ports: sorted.slice(i, i + MAX_PORTS).map(splitPortKey) };
      if (dns) rule.rules = { dns: [{ matchPattern: '*' }] };
      else if (g.http.length > 0) rule.rules = { http: httpRules(g.http, httpThreshold) };
      out.push(rule);
    }
  }
  return out;
}

type Direction = 'ingress' | 'egress';

const FIELDS: Record<Direction, Record<CiliumPeer['kind'], string | undefined>> = {
  egress: { endpoint: 'toEndpoints', entity: 'toEntities', cidr: 'toCIDR', fqdn: 'toFQDNs' },
  ingress: { endpoint: 'fromEndpoints', entity: 'fromEntities', cidr: 'fromCIDR', fqdn: undefined },
};

function peerValue(p: CiliumPeer): unknown {
  switch (p.kind) {
    case 'endpoint':
      return { matchLabels: Object.fromEntries(Object.entries(p.selector).sort(([a], [b]) => cmp(a, b))) };
    case 'entity':
      return p.entity;
    case 'cidr':
      return p.cidr;
    case 'fqdn':
      return { matchName: p.name };
  }
}

/** Rules for one direction: peers with identical port rules (and of one kind) share a rule. */
export function ciliumRules(direction: 'egress', peers: Iterable<PeerPorts>, httpThreshold: number): EgressRule[];
export function ciliumRules(direction: 'ingress', peers: Iterable<PeerPorts>, httpThreshold: number): IngressRule[];
export function ciliumRules(direction: Direction, peers: Iterable<PeerPorts>, httpThreshold: number): (EgressRule | IngressRule)[] {
  const groups = new Map<string, { field: string; values: Map<string, unknown>; toPorts: PortRule[] }>();
  for (const pp of peers) {
    const field = FIELDS[direction][pp.peer.kind];
    if (field === undefined) continue;
    const toPorts = portRules(pp.ports, httpThreshold, pp.dns);
    const id = `${field}\u0000${JSON.stringify(toPorts)}`;
    const g = groups.get(id) ?? { field, values: new Map<string, unknown>(), toPorts };
    g.values.set(peerId(pp.peer), peerValue(pp.peer));
    groups.set(id, g);
  }
  const rules = [...groups.values()].map((g) => {
    const values = [...g.values].sort(([a], [b]) => cmp(a, b)).map(([, v]) => v);
    const rule: Record<string, unknown> = { [g.field]: values };
    if (g.toPorts.length > 0) rule.toPorts = g.toPorts;
    return rule;
  });
  return rules.sort((a, b) => cmp(JSON.stringify(a), JSON.stringify(b))) as (EgressRule | IngressRule)[];
}
