/**
 * The host firewall policy: a CiliumClusterwideNetworkPolicy with `nodeSelector` for the host,
 * from what the host's programs connected to and accepted (audit/LSM records) and from Hubble
 * flows of the host endpoint. Ingress per local port from the peers seen (CIDRs, aggregated as
 * configured; loopback as the `host` entity; workloads by their labels); egress per peer (a DNS
 * name where one resolved to the address, else a CIDR) with its ports merged. Only DNS L7 rules —
 * never HTTP, which Cilium drops from host policies while leaving every port open (cilium#44493).
 * Failsafe ports (SSH in, the control plane's gRPC out) are always kept open in a direction the
 * policy restricts. A direction nothing was seen in is left unrestricted.
 */
import { CCNP_KIND, CILIUM_API_VERSION, type CiliumClusterwideNetworkPolicy, type CiliumLabelSelector, type EgressRule, type IngressRule } from '@kvmservice/resources';
import { aggregatedCidr, DEFAULT_CIDR_AGGREGATION, isLoopback, parseAddress, type CidrAggregation } from './cidr.js';
import { ciliumRules, peerId, portKey, type CiliumPeer, type L4, type PeerPorts } from './cilium-rules.js';
import { NAMESPACE_LABEL } from './flow-peers.js';
import type { HostModel } from './model.js';
import { hostNetworkPolicyName } from './names.js';

export interface FailsafePort {
  port: number;
  protocol: L4;
  /** peers allowed; default every peer (`all`) */
  cidrs?: string[];
}

export interface HostNetworkOptions {
  /** how peer addresses are grouped into CIDRs (default: each address alone, /32 and /128) */
  cidrAggregation?: Partial<CidrAggregation>;
  /** more distinct peer CIDRs than this on one port: allow the port from every peer (`all`). Default 32 */
  maxPeersPerPort?: number;
  /** ports kept open inbound; default SSH (22/TCP) from every peer */
  failsafeIngress?: readonly FailsafePort[];
  /** ports kept open outbound; default the control plane's gRPC port (32770/TCP) */
  failsafeEgress?: readonly FailsafePort[];
  /** the control plane's gRPC port (default 32770) and addresses, for the default failsafeEgress */
  controlPlane?: { port?: number; cidrs?: string[] };
  /** a listening port no peer was seen on: allow it from every peer (default), or leave it closed */
  unusedListeners?: 'allowAll' | 'omit';
  /** host label the nodeSelector matches (default kubernetes.io/hostname, which every host carries) */
  hostLabel?: string;
}

export const DEFAULT_CONTROL_PLANE_PORT = 32770;
export const DEFAULT_SSH_PORT = 22;

export interface HostNetworkNotes {
  /** listening ports without a peer seen (allowed from all, or left closed with unusedListeners: omit) */
  unusedListeners: string[];
  /** ports whose peers were replaced by `all` (more than maxPeersPerPort) */
  widenedPorts: string[];
  /** HTTP requests seen on host flows, which a host policy cannot carry (L4 kept) */
  httpDropped: number;
  /** connections whose peer address could not be read */
  badAddresses: number;
}

export interface HostNetworkResult {
  policy?: CiliumClusterwideNetworkPolicy;
  notes: HostNetworkNotes;
}

type Peers = Map<string, PeerPorts>;

function add(peers: Peers, peer: CiliumPeer, protocol: L4, port: number): void {
  const id = peerId(peer);
  let pp = peers.get(id);
  if (!pp) peers.set(id, (pp = { peer, ports: new Map() }));
  const k = portKey(protocol, port);
  if (!pp.ports.has(k)) pp.ports.set(k, new Set());
}

function selectorOf(model: HostModel, epKey: string): Record<string, string> | undefined {
  const e = model.endpoints.get(epKey);
  if (!e) return undefined;
  return { ...e.labels, ...(e.namespace !== '' ? { [NAMESPACE_LABEL]: e.namespace } : {}) };
}

/** The peer an address is: loopback → host entity, else its (aggregated) CIDR. */
function addressPeer(addr: string, agg: CidrAggregation): CiliumPeer | undefined {
  const parsed = parseAddress(addr);
  if (!parsed) return undefined;
  if (isLoopback(parsed)) return { kind: 'entity', entity: 'host' };
  const cidr = aggregatedCidr(addr, agg);
  return cidr ? { kind: 'cidr', cidr } : undefined;
}

/** DNS names the model saw for an address, sorted. */
export function namesOf(model: HostModel, addr: string): string[] {
  const names = model.dns.get(addr.toLowerCase());
  return names ? [...names.keys()].sort() : [];
}

function nodeSelector(host: string, label: string): CiliumLabelSelector {
  // a label value is at most 63 characters; longer host names select through an expression
  return host.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(host)
    ? { matchLabels: { [label]: host } }
    : { matchExpressions: [{ key: label, operator: 'In', values: [host] }] };
}

/** The host firewall policy for what the model saw, or none when the model saw no network traffic. */
export function discoverHostNetworkPolicy(model: HostModel, options: HostNetworkOptions = {}): HostNetworkResult {
  const agg = { ...DEFAULT_CIDR_AGGREGATION, ...options.cidrAggregation };
  const maxPeers = options.maxPeersPerPort ?? 32;
  const notes: HostNetworkNotes = { unusedListeners: [], widenedPorts: [], httpDropped: 0, badAddresses: 0 };
  const cpPort = options.controlPlane?.port ?? DEFAULT_CONTROL_PLANE_PORT;
  const failIn = options.failsafeIngress ?? [{ port: DEFAULT_SSH_PORT, protocol: 'TCP' }];
  const failOut = options.failsafeEgress ?? [{ port: cpPort, protocol: 'TCP', ...(options.controlPlane?.cidrs ? { cidrs: options.controlPlane.cidrs } : {}) }];

  // ---- ingress: local port → peers ----
  const listening = new Map<string, { protocol: L4; port: number; sources: Set<string> }>();
  const ingressPeers = new Map<string, CiliumPeer[]>(); // portKey → peers
  const unknownPort: { protocol: L4; peer: CiliumPeer; source: string }[] = [];
  const egress: Peers = new Map();
  const peerOf = (addr: string): CiliumPeer | undefined => {
    if (addr === '') return { kind: 'entity', entity: 'all' };
    const p = addressPeer(addr, agg);
    if (!p) notes.badAddresses++;
    return p;
  };
  const listen = (protocol: L4, port: number, source: string) => {
    const k = portKey(protocol, port);
    const l = listening.get(k) ?? { protocol, port, sources: new Set<string>() };
    l.sources.add(source);
    listening.set(k, l);
  };
  const admit = (k: string, peer: CiliumPeer) => ingressPeers.set(k, [...(ingressPeers.get(k) ?? []), peer]);
  for (const key of model.conns.keys()) {
    const [direction, protocol, addr, portText, source = ''] = key.split('|') as [string, L4, string, string, string?];
    const port = Number(portText);
    if (direction === 'listen') listen(protocol, port, source);
    else if (direction === 'ingress') {
      listen(protocol, port, '');
      if (addr !== '') {
        const p = peerOf(addr);
        if (p) admit(portKey(protocol, port), p);
      }
    } else if (direction === 'ingressPeer') {
      const p = peerOf(addr);
      if (p) unknownPort.push({ protocol, peer: p, source });
    } else if (direction === 'egress') {
      const names = addr === '' ? [] : namesOf(model, addr);
      if (names.length > 0) for (const name of names) add(egress, { kind: 'fqdn', name }, protocol, port);
      else {
        const p = peerOf(addr);
        if (p) add(egress, p, protocol, port);
      }
    }
  }
  // Hubble flows of the host endpoint
  for (const [key, f] of model.flows) {
    const m = /^(.*)>(.*)\|(TCP|UDP|SCTP)\|(\d+)$/.exec(key);
    if (!m) continue;
    const [, src, dst, protocol, portText] = m as unknown as [string, string, string, L4, string];
    const port = Number(portText);
    if (src !== 'host' && dst !== 'host') continue;
    notes.httpDropped += [...f.http.values()].reduce((n, s) => n + s.count, 0);
    const other = src === 'host' ? dst : src;
    let peer: CiliumPeer | undefined;
    if (other.startsWith('ep:')) {
      const selector = selectorOf(model, other.slice(3));
      if (selector) peer = { kind: 'endpoint', selector };
    } else if (other.startsWith('ent:')) peer = { kind: 'entity', entity: other.slice(4) };
    else if (other.startsWith('ip:')) {
      const addr = other.slice(3);
      const names = src === 'host' ? namesOf(model, addr) : [];
      if (names.length > 0) {
        for (const name of names) add(egress, { kind: 'fqdn', name }, protocol, port);
        continue;
      }
      peer = peerOf(addr);
    } else if (other === 'host') peer = { kind: 'entity', entity: 'host' };
    if (!peer) continue;
    if (src === 'host') add(egress, peer, protocol, port);
    else {
      listen(protocol, port, '');
      admit(portKey(protocol, port), peer);
    }
  }
  // An accepted peer without its local port (Linux audit's accept) belongs to the ports its program
  // listens on (any program's, when its own are unknown); a listener whose protocol was unknown
  // (ANY) takes the accepting socket's protocol.
  for (const { protocol, peer, source } of unknownPort) {
    const fits = (l: { protocol: L4 }) => l.protocol === protocol || l.protocol === 'ANY';
    const own = [...listening.values()].filter((l) => fits(l) && l.sources.has(source));
    for (const l of own.length > 0 ? own : [...listening.values()].filter(fits)) {
      if (l.protocol === 'ANY') {
        listening.delete(portKey('ANY', l.port));
        listen(protocol, l.port, source);
      }
      admit(portKey(protocol, l.port), peer);
    }
  }

  const ingress: Peers = new Map();
  for (const [k, l] of [...listening].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const peers = ingressPeers.get(k) ?? [];
    if (peers.length === 0) {
      notes.unusedListeners.push(k);
      if ((options.unusedListeners ?? 'allowAll') === 'allowAll') add(ingress, { kind: 'entity', entity: 'all' }, l.protocol, l.port);
      continue;
    }
    const distinct = new Map(peers.map((p) => [peerId(p), p]));
    const cidrs = [...distinct.values()].filter((p) => p.kind === 'cidr');
    if (cidrs.length > maxPeers) {
      notes.widenedPorts.push(k);
      add(ingress, { kind: 'entity', entity: 'all' }, l.protocol, l.port);
      for (const p of distinct.values()) if (p.kind !== 'cidr') add(ingress, p, l.protocol, l.port);
    } else for (const p of distinct.values()) add(ingress, p, l.protocol, l.port);
  }

  // DNS: FQDN rules only work when Cilium's DNS proxy sees the lookups
  const fqdn = [...egress.values()].some((p) => p.peer.kind === 'fqdn');
  if (fqdn) {
    const resolvers: CiliumPeer[] = [];
    for (const pp of egress.values()) {
      if (pp.peer.kind === 'fqdn') continue;
      const udp = pp.ports.delete(portKey('UDP', 53));
      const tcp = pp.ports.delete(portKey('TCP', 53));
      const any = pp.ports.delete(portKey('ANY', 53));
      if (udp || tcp || any) resolvers.push(pp.peer);
      if (pp.ports.size === 0) egress.delete(peerId(pp.peer));
    }
    if (resolvers.length === 0) resolvers.push({ kind: 'entity', entity: 'all' });
    for (const r of resolvers) {
      const id = `dns:${peerId(r)}`;
      egress.set(id, { peer: r, ports: new Map([[portKey('UDP', 53), new Set()], [portKey('TCP', 53), new Set()]]), dns: true });
    }
  }

  // a listener seen (even one left closed) means ingress was observed, so it is restricted
  const hasIngress = ingress.size > 0 || listening.size > 0;
  const hasEgress = egress.size > 0;
  if (!hasIngress && !hasEgress) return { notes };
  const failsafe = (peers: Peers, ports: readonly FailsafePort[]) => {
    for (const f of ports) {
      if (f.cidrs && f.cidrs.length > 0) for (const cidr of f.cidrs) add(peers, { kind: 'cidr', cidr }, f.protocol, f.port);
      else add(peers, { kind: 'entity', entity: 'all' }, f.protocol, f.port);
    }
  };
  if (hasIngress) failsafe(ingress, failIn);
  if (hasEgress) failsafe(egress, failOut);

  const spec: CiliumClusterwideNetworkPolicy['spec'] = {
    description: `Discovered by KVMService for host ${model.host}; failsafe ports kept open: ${[
      ...(hasIngress ? failIn.map((f) => `in ${f.port}/${f.protocol}`) : []),
      ...(hasEgress ? failOut.map((f) => `out ${f.port}/${f.protocol}`) : []),
    ].join(', ')}`,
    nodeSelector: nodeSelector(model.host, options.hostLabel ?? 'kubernetes.io/hostname'),
  };
  if (hasIngress) spec.ingress = ciliumRules('ingress', ingress.values(), 0) as IngressRule[];
  if (hasEgress) spec.egress = ciliumRules('egress', egress.values(), 0) as EgressRule[];
  return {
    policy: { apiVersion: CILIUM_API_VERSION, kind: CCNP_KIND, metadata: { name: hostNetworkPolicyName(model.host) }, spec },
    notes,
  };
}
