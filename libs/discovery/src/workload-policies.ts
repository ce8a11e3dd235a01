/**
 * CiliumNetworkPolicy objects (endpointSelector) for the workloads Hubble saw on the host:
 * per workload and direction, its peers (workloads by labels, entities, FQDNs where DNS named the
 * address, else CIDRs), ports merged per peer, HTTP rules with upstream's path wildcarding, and a
 * DNS rule towards the resolver when FQDN rules need Cilium's DNS proxy.
 *
 * Selector aggregation follows upstream (label intersection) without ever widening access: only
 * peers with identical port rules, and only workloads with identical rule sets, are merged, and an
 * intersection is used only when every workload seen that it selects is one of those merged
 * (upstream also merges different port sets, and selectors that match workloads never seen
 * doing it).
 */
import { CILIUM_API_VERSION, CNP_KIND, type CiliumNetworkPolicy, type EgressRule, type IngressRule } from '@kvmservice/resources';
import { aggregatedCidr, DEFAULT_CIDR_AGGREGATION, type CidrAggregation } from './cidr.js';
import { ciliumRules, peerId, type CiliumPeer, type PeerPorts } from './cilium-rules.js';
import { NAMESPACE_LABEL, type WorkloadEndpoint } from './flow-peers.js';
import { namesOf } from './host-network.js';
import { DEFAULT_HTTP_THRESHOLD } from './http-paths.js';
import type { HostModel } from './model.js';
import { workloadPolicyName } from './names.js';

export interface WorkloadPolicyOptions {
  /** a path segment with more than this many distinct children becomes a wildcard (upstream: 5) */
  httpThreshold?: number;
  /** namespaces whose workloads get no policy (upstream: kube-system) */
  ignoreNamespaces?: readonly string[];
  /** the resolver FQDN rules send DNS through when no DNS flow of the workload names one (upstream: kube-dns) */
  dnsServer?: Record<string, string>;
  cidrAggregation?: Partial<CidrAggregation>;
  /** merge peers and workloads into label-intersection selectors (default true) */
  aggregateSelectors?: boolean;
  /** which policies: 'egress', 'ingress' or both (default) */
  directions?: readonly ('egress' | 'ingress')[];
}

export const DEFAULT_DNS_SERVER: Record<string, string> = { 'k8s-app': 'kube-dns', [NAMESPACE_LABEL]: 'kube-system' };

export interface WorkloadPolicyResult {
  policies: CiliumNetworkPolicy[];
  notes: { /** flows to or from peers whose address could not be read */ badAddresses: number };
}

type Direction = 'egress' | 'ingress';
type Peers = Map<string, PeerPorts & { endpointKey?: string }>;

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function selectorOf(e: WorkloadEndpoint): Record<string, string> {
  return { ...e.labels, ...(e.namespace !== '' ? { [NAMESPACE_LABEL]: e.namespace } : {}) };
}

function matches(selector: Record<string, string>, e: WorkloadEndpoint): boolean {
  return Object.entries(selector).every(([k, v]) => e.labels[k] === v);
}

function intersect(a: Record<string, string>, b: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a)) if (b[k] === v) out[k] = v;
  return out;
}

/**
 * Groups endpoints (of one namespace) into label selectors: an intersection of several members'
 * labels is used only when every known endpoint it selects is a member.
 */
export function aggregateSelectors(members: readonly WorkloadEndpoint[], known: readonly WorkloadEndpoint[]): { labels: Record<string, string>; members: WorkloadEndpoint[] }[] {
  const memberSet = new Set(members);
  const ns = members[0]?.namespace ?? '';
  const sameNs = known.filter((k) => k.namespace === ns);
  const safe = (sel: Record<string, string>) =>
    Object.keys(sel).length > 0 && sameNs.every((k) => !matches(sel, k) || memberSet.has(k) || members.some((m) => sameLabels(m, k)));
  const remaining = [...members].sort((a, b) => cmp(JSON.stringify(Object.entries(a.labels).sort()), JSON.stringify(Object.entries(b.labels).sort())));
  const out: { labels: Record<string, string>; members: WorkloadEndpoint[] }[] = [];
  while (remaining.length > 0) {
    const first = remaining[0]!;
    let sel = { ...first.labels };
    for (const x of remaining.slice(1)) {
      const cand = intersect(sel, x.labels);
      if (safe(cand)) sel = cand;
    }
    const covered = remaining.filter((m) => matches(sel, m));
    out.push({ labels: sel, members: covered });
    for (const c of covered) remaining.splice(remaining.indexOf(c), 1);
  }
  return out;
}

function sameLabels(a: WorkloadEndpoint, b: WorkloadEndpoint): boolean {
  const ka = Object.keys(a.labels);
  return a.namespace === b.namespace && ka.length === Object.keys(b.labels).length && ka.every((k) => a.labels[k] === b.labels[k]);
}

const portsId = (pp: PeerPorts) =>
  JSON.stringify([...pp.ports].map(([k, h]) => [k, [...h].sort()]).sort(([a], [b]) => cmp(String(a), String(b)))) + (pp.dns ? '+dns' : '');

/** Merges endpoint peers with identical ports into intersection selectors (within one namespace). */
function aggregatePeers(peers: Peers, model: HostModel): Peers {
  const known = [...model.endpoints.values()];
  const out: Peers = new Map();
  const groups = new Map<string, (PeerPorts & { endpointKey?: string })[]>();
  for (const [id, pp] of peers) {
    if (pp.endpointKey === undefined) {
      out.set(id, pp);
      continue;
    }
    const e = model.endpoints.get(pp.endpointKey)!;
    const gid = `${e.namespace}\u0000${portsId(pp)}`;
    groups.set(gid, [...(groups.get(gid) ?? []), pp]);
  }
  for (const group of groups.values()) {
    const byEndpoint = new Map(group.map((pp) => [model.endpoints.get(pp.endpointKey!)!, pp]));
    for (const agg of aggregateSelectors([...byEndpoint.keys()], known)) {
      const ns = agg.members[0]!.namespace;
      const peer: CiliumPeer = { kind: 'endpoint', selector: selectorOf({ namespace: ns, labels: agg.labels }) };
      const template = byEndpoint.get(agg.members[0]!)!;
      out.set(peerId(peer), { peer, ports: template.ports, ...(template.dns ? { dns: true } : {}) });
    }
  }
  return out;
}

function addPort(peers: Peers, peer: CiliumPeer, portKeyText: string, http: Iterable<string>, endpointKey?: string): void {
  const id = peerId(peer);
  let pp = peers.get(id);
  if (!pp) peers.set(id, (pp = { peer, ports: new Map(), ...(endpointKey !== undefined ? { endpointKey } : {}) }));
  const set = pp.ports.get(portKeyText) ?? new Set<string>();
  for (const h of http) set.add(h);
  pp.ports.set(portKeyText, set);
}

/** CiliumNetworkPolicy objects for the workload flows in the model. Pure and deterministic. */
export function discoverWorkloadPolicies(model: HostModel, options: WorkloadPolicyOptions = {}): WorkloadPolicyResult {
  const agg = { ...DEFAULT_CIDR_AGGREGATION, ...options.cidrAggregation };
  const threshold = options.httpThreshold ?? DEFAULT_HTTP_THRESHOLD;
  const ignore = new Set(options.ignoreNamespaces ?? ['kube-system']);
  const directions = new Set(options.directions ?? ['egress', 'ingress']);
  const aggregate = options.aggregateSelectors ?? true;
  const notes = { badAddresses: 0 };
  const subjects: Record<Direction, Map<string, Peers>> = { egress: new Map(), ingress: new Map() };

  const otherPeer = (key: string, direction: Direction): { peers: CiliumPeer[]; endpointKey?: string } => {
    if (key === 'host') return { peers: [{ kind: 'entity', entity: 'host' }] };
    if (key.startsWith('ent:')) return { peers: [{ kind: 'entity', entity: key.slice(4) }] };
    if (key.startsWith('ep:')) {
      const e = model.endpoints.get(key.slice(3));
      return e ? { peers: [{ kind: 'endpoint', selector: selectorOf(e) }], endpointKey: key.slice(3) } : { peers: [] };
    }
    const addr = key.slice(3);
    const names = direction === 'egress' ? namesOf(model, addr) : [];
    if (names.length > 0) return { peers: names.map((name) => ({ kind: 'fqdn', name })) };
    const cidr = aggregatedCidr(addr, agg);
    if (!cidr) notes.badAddresses++;
    return { peers: cidr ? [{ kind: 'cidr', cidr }] : [] };
  };

  for (const [key, f] of model.flows) {
    const m = /^(.*)>(.*)\|(TCP|UDP|SCTP)\|(\d+)$/.exec(key);
    if (!m) continue;
    const [, src, dst, protocol, port] = m as unknown as [string, string, string, string, string];
    const pk = `${protocol}/${port}`;
    const http = [...f.http.keys()];
    for (const [direction, subject, other] of [['egress', src, dst], ['ingress', dst, src]] as const) {
      if (!subject.startsWith('ep:') || !directions.has(direction)) continue;
      const e = model.endpoints.get(subject.slice(3));
      if (!e || ignore.has(e.namespace)) continue;
      const { peers, endpointKey } = otherPeer(other, direction);
      let map = subjects[direction].get(subject.slice(3));
      if (!map) subjects[direction].set(subject.slice(3), (map = new Map()));
      for (const p of peers) addPort(map, p, pk, http, endpointKey);
    }
  }

  const dnsServer = options.dnsServer ?? DEFAULT_DNS_SERVER;
  const policies: CiliumNetworkPolicy[] = [];
  for (const direction of ['egress', 'ingress'] as const) {
    // rules per workload
    const ruleText = new Map<string, { rules: (EgressRule | IngressRule)[]; text: string }>();
    for (const [epKey, raw] of subjects[direction]) {
      let peers = raw;
      if (direction === 'egress' && [...peers.values()].some((p) => p.peer.kind === 'fqdn')) {
        let resolver = false;
        for (const pp of [...peers.values()]) {
          if (pp.peer.kind === 'fqdn') continue;
          const dnsPorts = [...pp.ports.keys()].filter((k) => k === 'UDP/53' || k === 'TCP/53');
          if (dnsPorts.length === 0) continue;
          resolver = true;
          if (dnsPorts.length === pp.ports.size) {
            pp.dns = true;
            pp.ports = new Map([['UDP/53', new Set()], ['TCP/53', new Set()]]);
          } else {
            for (const k of dnsPorts) pp.ports.delete(k);
            peers.set(`dns:${peerId(pp.peer)}`, { peer: pp.peer, ports: new Map([['UDP/53', new Set()], ['TCP/53', new Set()]]), dns: true });
          }
        }
        if (!resolver) {
          const peer: CiliumPeer = { kind: 'endpoint', selector: dnsServer };
          peers.set(`dns:${peerId(peer)}`, { peer, ports: new Map([['UDP/53', new Set()], ['TCP/53', new Set()]]), dns: true });
        }
      }
      if (aggregate) peers = aggregatePeers(peers, model);
      const rules = direction === 'egress' ? ciliumRules('egress', peers.values(), threshold) : ciliumRules('ingress', peers.values(), threshold);
      if (rules.length > 0) ruleText.set(epKey, { rules, text: JSON.stringify(rules) });
    }
    // workloads with identical rules share a policy
    const groups = new Map<string, WorkloadEndpoint[]>();
    for (const [epKey, r] of ruleText) {
      const e = model.endpoints.get(epKey)!;
      const gid = `${e.namespace}\u0000${r.text}`;
      groups.set(gid, [...(groups.get(gid) ?? []), e]);
    }
    const known = [...model.endpoints.values()];
    for (const [gid, members] of groups) {
      const text = gid.slice(gid.indexOf('\u0000') + 1);
      const rules = JSON.parse(text) as (EgressRule | IngressRule)[];
      const selectors = aggregate ? aggregateSelectors(members, known) : members.map((m) => ({ labels: m.labels, members: [m] }));
      for (const s of selectors) {
        const ns = members[0]!.namespace;
        const spec: CiliumNetworkPolicy['spec'] = { endpointSelector: { matchLabels: Object.fromEntries(Object.entries(selectorOf({ namespace: ns, labels: s.labels })).sort(([a], [b]) => cmp(a, b))) } };
        if (direction === 'egress') spec.egress = rules as EgressRule[];
        else spec.ingress = rules as IngressRule[];
        policies.push({ apiVersion: CILIUM_API_VERSION, kind: CNP_KIND, metadata: { name: workloadPolicyName(direction, s.labels, ns) }, spec });
      }
    }
  }
  policies.sort((a, b) => cmp(a.metadata.name, b.metadata.name));
  return { policies, notes };
}
