/**
 * Who is at each end of a Hubble flow, in the terms a Cilium policy selects by: the host itself,
 * a workload (namespace + labels), a Cilium entity, or a plain address.
 */
import { isLabelKey } from '@kvmservice/resources';
import type { HubbleEndpoint } from './hubble.js';

export interface WorkloadEndpoint {
  /** '' for containers outside Kubernetes */
  namespace: string;
  labels: Record<string, string>;
}

export type FlowPeer =
  | { kind: 'host' }
  | { kind: 'endpoint'; key: string; endpoint: WorkloadEndpoint }
  | { kind: 'entity'; entity: string }
  | { kind: 'ip'; ip: string };

/** Cilium's label that carries the namespace; policies select by it. */
export const NAMESPACE_LABEL = 'k8s:io.kubernetes.pod.namespace';

const LABEL_SOURCES = new Set(['k8s', 'container', 'unspec', 'any', 'cilium-generated']);
/** Labels that change with every rollout or say nothing about the workload (upstream strips them too). */
const VOLATILE_LABEL = /^(io\.cilium\.k8s\.policy\.|io\.cilium\.k8s\.namespace\.labels\.|io\.kubernetes\.pod\.namespace$|pod-template-hash$|controller-revision-hash$|pod-template-generation$|controller-uid$|batch\.kubernetes\.io\/|statefulset\.kubernetes\.io\/pod-name$|apps\.kubernetes\.io\/pod-index$)/;
/** Entities in upstream's order of preference when a peer carries several reserved labels. */
const ENTITY_ORDER = ['kube-apiserver', 'remote-node', 'health', 'init', 'ingress', 'unmanaged'];
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** `k8s:app=web` → ['app', 'web']; `k8s:common:x` (no `=`) → ['common', 'x']; other sources → undefined. */
export function parseCiliumLabel(label: string): { source: string; key: string; value: string } | undefined {
  const colon = label.indexOf(':');
  const source = colon > 0 ? label.slice(0, colon) : 'unspec';
  const rest = colon > 0 ? label.slice(colon + 1) : label;
  const eq = rest.indexOf('=');
  if (eq >= 0) return { source, key: rest.slice(0, eq), value: rest.slice(eq + 1) };
  const c = rest.indexOf(':');
  if (c > 0) return { source, key: rest.slice(0, c), value: rest.slice(c + 1) };
  return { source, key: rest, value: '' };
}

/** Stable text for an endpoint: `namespace/k=v,k=v` with keys sorted. */
export function endpointKey(e: WorkloadEndpoint): string {
  return `${e.namespace}/${Object.keys(e.labels)
    .sort()
    .map((k) => `${k}=${e.labels[k]}`)
    .join(',')}`;
}

export function peerKey(p: FlowPeer): string {
  switch (p.kind) {
    case 'host':
      return 'host';
    case 'endpoint':
      return `ep:${p.key}`;
    case 'entity':
      return `ent:${p.entity}`;
    case 'ip':
      return `ip:${p.ip}`;
  }
}

/** The peer at one end of a flow, or undefined when neither labels nor an address say who it is. */
export function flowPeer(e: HubbleEndpoint, ip: string | undefined): FlowPeer | undefined {
  const reserved: string[] = [];
  const labels: Record<string, string> = {};
  let namespace = e.namespace;
  for (const raw of e.labels) {
    const l = parseCiliumLabel(raw);
    if (!l) continue;
    if (l.source === 'reserved') {
      reserved.push(l.key);
      continue;
    }
    if (!LABEL_SOURCES.has(l.source)) continue;
    if (l.key === 'io.kubernetes.pod.namespace') {
      namespace ??= l.value;
      continue;
    }
    // only what a Kubernetes label selector can hold reaches a policy
    if (VOLATILE_LABEL.test(l.key) || !isLabelKey(l.key) || !LABEL_VALUE.test(l.value)) continue;
    labels[l.key] = l.value;
  }
  if (reserved.includes('host')) return { kind: 'host' };
  if (reserved.length > 0) {
    const entity = ENTITY_ORDER.find((x) => reserved.includes(x));
    if (entity) return { kind: 'entity', entity };
    // world, unknown, or a reserved label Cilium has no entity for: the address is all we know
    return ip ? { kind: 'ip', ip: ip.toLowerCase() } : undefined;
  }
  if (Object.keys(labels).length > 0) {
    // containers Cilium manages outside Kubernetes have labels but no namespace ('')
    const endpoint = { namespace: namespace ?? '', labels };
    return { kind: 'endpoint', key: endpointKey(endpoint), endpoint };
  }
  return ip ? { kind: 'ip', ip: ip.toLowerCase() } : undefined;
}
