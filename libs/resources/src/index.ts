/**
 * @kvmservice/resources — the resource model: kinds, validation with field paths, YAML/JSON I/O,
 * host selection, and the normalised view of host policies.
 */
export * from './meta.js';
export * from './kinds.js';
export * from './documents.js';
export * from './selector.js';
export * from './validation/field-error.js';
export * from './validation/validate-resource.js';
export * from './validation/report.js';
export * from './validation/input-set.js';
export * from './hostpolicy/kubearmor-host-policy.js';
export * from './hostpolicy/normalized.js';
export * from './hostpolicy/normalize.js';
export * from './hostpolicy/safe-text.js';
export * from './cilium/cilium-network-policy.js';
export * from './cilium/sanitize.js';
export * from './cilium/cidr.js';
export * from './virtualmachine/kubearmor-virtual-machine.js';
export * from './discoveredpolicy/discovered-policy.js';
