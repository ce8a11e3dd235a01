/** Which hosts a policy selects, as the control plane decides it (ARCHITECTURE.md §3). */
import {
  CLUSTERWIDE_NETWORK_POLICY,
  HOST_POLICY,
  NETWORK_POLICY,
  hostLabels,
  hostSelectorMatches,
  labelSelectorMatches,
  type LabelSelector,
  type Resource,
  type ResourceKind,
} from '@kvmservice/resources';
import { list, obj } from '../output/fields.js';

/** Kinds whose objects select hosts. */
export const HOST_SELECTING_KINDS: readonly ResourceKind[] = [HOST_POLICY, CLUSTERWIDE_NETWORK_POLICY, NETWORK_POLICY];

export function policySelectsHost(kind: ResourceKind, policy: Resource, host: Resource): boolean {
  const labels = hostLabels(host.metadata.name, host.metadata.labels);
  const spec = obj(policy.spec);
  if (kind === HOST_POLICY) return hostSelectorMatches(obj(obj(spec.nodeSelector).matchLabels) as Record<string, string>, labels);
  // Cilium: a rule with a nodeSelector (host firewall) selects hosts; endpointSelector rules select workloads.
  const rules = [policy.spec, ...list((policy as unknown as { specs?: unknown }).specs)].map(obj);
  return rules.some((r) => r.nodeSelector !== undefined && labelSelectorMatches(obj(r.nodeSelector) as LabelSelector, labels));
}
