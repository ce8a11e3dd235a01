/** The kinds KVMService stores, with their names as kubectl users type them. */
import { CCNP_KIND, CILIUM_API_VERSION, CNP_KIND, CiliumClusterwideNetworkPolicy, CiliumNetworkPolicy } from './cilium/cilium-network-policy.js';
import { ciliumPolicyProblems } from './cilium/sanitize.js';
import { DISCOVERED_POLICY_API_VERSION, DISCOVERED_POLICY_KIND, DiscoveredPolicy } from './discoveredpolicy/discovered-policy.js';
import { HOST_POLICY_API_VERSION, HOST_POLICY_KIND, KubeArmorHostPolicy, hostPolicyProblems } from './hostpolicy/kubearmor-host-policy.js';
import type { FieldError } from './validation/field-error.js';
import { KubeArmorVirtualMachine, VIRTUAL_MACHINE_API_VERSION, VIRTUAL_MACHINE_KIND, virtualMachineProblems } from './virtualmachine/kubearmor-virtual-machine.js';

export interface ResourceKind {
  kind: string;
  apiVersion: string;
  plural: string;
  singular: string;
  shortNames: string[];
  /** The class whose decorators describe the schema. */
  schema: new () => object;
  /** Cross-field rules decorators cannot express; the object has already passed the schema. */
  problems?: (object: never) => FieldError[];
}

export const VIRTUAL_MACHINE: ResourceKind = {
  kind: VIRTUAL_MACHINE_KIND,
  apiVersion: VIRTUAL_MACHINE_API_VERSION,
  plural: 'kubearmorvirtualmachines',
  singular: 'kubearmorvirtualmachine',
  shortNames: ['kvm', 'vm', 'host'],
  schema: KubeArmorVirtualMachine,
  problems: virtualMachineProblems,
};

export const HOST_POLICY: ResourceKind = {
  kind: HOST_POLICY_KIND,
  apiVersion: HOST_POLICY_API_VERSION,
  plural: 'kubearmorhostpolicies',
  singular: 'kubearmorhostpolicy',
  shortNames: ['hsp'],
  schema: KubeArmorHostPolicy,
  problems: hostPolicyProblems,
};

export const CLUSTERWIDE_NETWORK_POLICY: ResourceKind = {
  kind: CCNP_KIND,
  apiVersion: CILIUM_API_VERSION,
  plural: 'ciliumclusterwidenetworkpolicies',
  singular: 'ciliumclusterwidenetworkpolicy',
  shortNames: ['ccnp'],
  schema: CiliumClusterwideNetworkPolicy,
  problems: ciliumPolicyProblems,
};

export const NETWORK_POLICY: ResourceKind = {
  kind: CNP_KIND,
  apiVersion: CILIUM_API_VERSION,
  plural: 'ciliumnetworkpolicies',
  singular: 'ciliumnetworkpolicy',
  shortNames: ['cnp'],
  schema: CiliumNetworkPolicy,
  problems: ciliumPolicyProblems,
};

export const DISCOVERED_POLICY: ResourceKind = {
  kind: DISCOVERED_POLICY_KIND,
  apiVersion: DISCOVERED_POLICY_API_VERSION,
  plural: 'discoveredpolicies',
  singular: 'discoveredpolicy',
  shortNames: ['dsp'],
  schema: DiscoveredPolicy,
};

export const RESOURCE_KINDS: readonly ResourceKind[] = [VIRTUAL_MACHINE, HOST_POLICY, CLUSTERWIDE_NETWORK_POLICY, NETWORK_POLICY, DISCOVERED_POLICY];

/** Finds a kind by kind name, plural, singular or short name (case-insensitive), as kubectl does. */
export function findKind(name: string): ResourceKind | undefined {
  const n = name.toLowerCase();
  const base = n.includes('.') ? n.slice(0, n.indexOf('.')) : n;
  return RESOURCE_KINDS.find((k) => k.kind.toLowerCase() === base || k.plural === base || k.singular === base || k.shortNames.includes(base));
}

/** Kinds a DiscoveredPolicy may wrap. */
export const DISCOVERABLE_KINDS: readonly ResourceKind[] = [HOST_POLICY, CLUSTERWIDE_NETWORK_POLICY, NETWORK_POLICY];
