/**
 * DiscoveredPolicy (security.kubearmor.com/v1, short name `dsp`): a policy proposed by discovery,
 * awaiting review. `spec.policy` wraps a KubeArmorHostPolicy or a Cilium policy, validated as its
 * own kind; `spec.status` is Inactive until a person activates it.
 */
import { ObjectMeta } from '../meta.js';
import { Check, Nested, OneOf, Optional } from '../validation/decorators.js';
import { isPlainObject } from '../virtualmachine/kubearmor-virtual-machine.js';

export const DISCOVERED_POLICY_API_VERSION = 'security.kubearmor.com/v1';
export const DISCOVERED_POLICY_KIND = 'DiscoveredPolicy';
/** The CRD's enum, lower-case spellings included. */
export const DISCOVERED_POLICY_STATES = ['Inactive', 'inactive', 'Active', 'active', 'PendingUpdates'] as const;

export class DiscoveredPolicySpec {
  @OneOf(DISCOVERED_POLICY_STATES) status!: (typeof DISCOVERED_POLICY_STATES)[number];
  /** Validated as a resource of its own kind by the DiscoveredPolicy kind check. */
  @Check('policy', isPlainObject, 'must be an object') policy!: Record<string, unknown>;
}


export class DiscoveredPolicy {
  @OneOf([DISCOVERED_POLICY_API_VERSION]) apiVersion!: typeof DISCOVERED_POLICY_API_VERSION;
  @OneOf([DISCOVERED_POLICY_KIND]) kind!: typeof DISCOVERED_POLICY_KIND;
  @Nested(() => ObjectMeta) metadata!: ObjectMeta;
  @Nested(() => DiscoveredPolicySpec) spec!: DiscoveredPolicySpec;
  @Optional() @Check('status', isPlainObject, 'must be an object') status?: Record<string, unknown>;
}
