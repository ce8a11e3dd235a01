/**
 * @kvmservice/discovery — policy discovery from what hosts actually do: an incremental, bounded
 * model of observed behaviour per host and binary (from the HostEvents of libs/auditlog and
 * Hubble flows), KubeArmorHostPolicy and Cilium policies generated from it, a host-policy
 * evaluator, and aa-logprof's per-event rule derivation. Pure: no I/O, no clock.
 */
export {
  createHostModel,
  observeEvents,
  observeFlows,
  observeDnsAnswer,
  DEFAULT_LIMITS,
  OVERFLOW_KINDS,
  FLOW_SKIP_REASONS,
  MODEL_VERSION,
  type HostModel,
  type ModelLimits,
  type ModelStats,
  type ObserveOptions,
  type OverflowKind,
  type FlowSkipReason,
  type Seen,
  type FileSeen,
  type FlowSeen,
  type SourceModel,
} from './model.js';
export { serializeModel, parseModel, mergeModels, cloneModel, MODEL_KIND, type ParsedModel } from './model-json.js';
export { SKIP_REASONS, readEvent, networkProtocol, ACCESS_READ, ACCESS_WRITE, ACCESS_MAP, type SkipReason, type Observation, type Connection } from './observation.js';
export { sourceOf, isBinaryPath, type SourceResolver } from './source.js';
export {
  discoverHostPolicies,
  modelLsm,
  DEFAULT_COLLAPSE_ROOTS,
  DEFAULT_NEVER_COLLAPSE,
  DEFAULT_DIRECTORY_THRESHOLD,
  SOURCE_ANNOTATION,
  type HostPolicyOptions,
  type HostPolicyResult,
  type HostPolicyNotes,
  type Lsm,
} from './host-policies.js';
export {
  discoverHostNetworkPolicy,
  DEFAULT_CONTROL_PLANE_PORT,
  DEFAULT_SSH_PORT,
  type HostNetworkOptions,
  type HostNetworkResult,
  type HostNetworkNotes,
  type FailsafePort,
} from './host-network.js';
export { discoverWorkloadPolicies, aggregateSelectors, DEFAULT_DNS_SERVER, type WorkloadPolicyOptions, type WorkloadPolicyResult } from './workload-policies.js';
export { discoverPolicies, observeLogLines, observeHubbleText, policyDigest, wrapDiscoveredPolicy, DIGEST_ANNOTATION, type DiscoveryOptions, type DiscoveryResult, type DiscoveryReport, type DiscoveredObject, type LogObservation } from './discover.js';
export { aggregatePaths, type AggregationOptions, type Aggregated, type PathFacts } from './aggregate-paths.js';
export { httpRules, DEFAULT_HTTP_THRESHOLD, type HttpRule } from './http-paths.js';
export { DEFAULT_CIDR_AGGREGATION, type CidrAggregation } from './cidr.js';
export { readHubbleFlows, hubbleFlowOf, type HubbleFlow, type HubbleEndpoint, type HubbleL4, type HubbleL7, type HubbleReadResult, type UnparsedFlow } from './hubble.js';
export { flowPeer, parseCiliumLabel, NAMESPACE_LABEL, type FlowPeer, type WorkloadEndpoint } from './flow-peers.js';
export { evaluateHostEvent, HostPolicyEvaluator, DEFAULT_POSTURES, type Evaluation, type EvaluateOptions, type Posture, type Postures } from './evaluate.js';
export { globMatches, inDirectory } from './glob.js';
export { deriveAppArmorRule, formatAppArmorProfiles, dataFields, type DerivedAppArmorRule } from './apparmor-rule.js';
export { kubeArmorLogToHostEvent } from './kubearmor-log.js';
export { hostPolicyName, hostNetworkPolicyName, workloadPolicyName, fnv1a32 } from './names.js';
