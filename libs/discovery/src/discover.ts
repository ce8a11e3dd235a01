/**
 * Every discovered policy of a host in one call, with a report of what was counted, skipped and
 * left out — what `kvmctl discover` prints and what the control plane wraps into
 * DiscoveredPolicy objects.
 */
import { createHash } from 'node:crypto';
import { parseLogLines, type ParseLogOptions } from '@kvmservice/auditlog';
import {
  DISCOVERED_POLICY_API_VERSION,
  DISCOVERED_POLICY_KIND,
  type CiliumClusterwideNetworkPolicy,
  type CiliumNetworkPolicy,
  type DiscoveredPolicy,
  type KubeArmorHostPolicy,
} from '@kvmservice/resources';
import { discoverHostPolicies, type HostPolicyNotes, type HostPolicyOptions } from './host-policies.js';
import { discoverHostNetworkPolicy, type HostNetworkNotes, type HostNetworkOptions } from './host-network.js';
import { readHubbleFlows } from './hubble.js';
import { observeEvents, observeFlows, OVERFLOW_KINDS, type HostModel, type ModelStats, type ObserveOptions } from './model.js';
import { discoverWorkloadPolicies, type WorkloadPolicyOptions } from './workload-policies.js';

export interface DiscoveryOptions {
  /** KubeArmorHostPolicy options, or false for none */
  hostPolicies?: HostPolicyOptions | false;
  /** CiliumClusterwideNetworkPolicy (host firewall) options, or false for none */
  hostNetwork?: HostNetworkOptions | false;
  /** CiliumNetworkPolicy (workloads, from Hubble) options, or false for none */
  workloads?: WorkloadPolicyOptions | false;
}

export type DiscoveredObject = KubeArmorHostPolicy | CiliumClusterwideNetworkPolicy | CiliumNetworkPolicy;

export interface DiscoveryReport {
  host: string;
  /** epoch seconds of the first and last observation (0 when none) */
  first: number;
  last: number;
  stats: ModelStats;
  hostPolicies?: HostPolicyNotes;
  hostNetwork?: HostNetworkNotes;
  workloads?: { badAddresses: number };
  /** one line per thing a reviewer should know (overflow, unattributed events, widened ports …) */
  warnings: string[];
}

export interface DiscoveryResult {
  hostPolicies: KubeArmorHostPolicy[];
  hostNetworkPolicy?: CiliumClusterwideNetworkPolicy;
  workloadPolicies: CiliumNetworkPolicy[];
  /** all of the above: host policies, the host network policy, workload policies */
  objects: DiscoveredObject[];
  report: DiscoveryReport;
}

function warnings(model: HostModel, r: DiscoveryResult): string[] {
  const out: string[] = [];
  const overflow = OVERFLOW_KINDS.filter((k) => model.stats.overflow[k] > 0).map((k) => `${k} ${model.stats.overflow[k]}`);
  if (overflow.length > 0) out.push(`the model of ${model.host} is full; observations not kept: ${overflow.join(', ')} — the policies may be incomplete`);
  const hp = r.report.hostPolicies;
  if (hp && hp.unattributedEntries > 0) out.push(`${hp.unattributedEntries} observations name no source binary and are not in any fromSource rule`);
  if (hp && hp.blockedEntries > 0) out.push(`${hp.blockedEntries} observations were only ever blocked and are left out`);
  for (const s of hp?.selinuxOmitted ?? []) out.push(`left out (SELinux): ${s}`);
  const hn = r.report.hostNetwork;
  if (hn && hn.unusedListeners.length > 0) out.push(`listening ports no peer was seen on: ${hn.unusedListeners.join(', ')}`);
  if (hn && hn.widenedPorts.length > 0) out.push(`ports opened to every peer (too many distinct peers): ${hn.widenedPorts.join(', ')}`);
  if (hn && hn.httpDropped > 0) out.push(`${hn.httpDropped} HTTP requests of the host endpoint kept as L4 only (host policies carry DNS L7 rules only)`);
  return out;
}

/** Discovers every policy the model supports. Pure and deterministic. */
export function discoverPolicies(model: HostModel, options: DiscoveryOptions = {}): DiscoveryResult {
  const result: DiscoveryResult = {
    hostPolicies: [],
    workloadPolicies: [],
    objects: [],
    report: { host: model.host, first: model.first, last: model.last, stats: model.stats, warnings: [] },
  };
  if (options.hostPolicies !== false) {
    const hp = discoverHostPolicies(model, options.hostPolicies ?? {});
    result.hostPolicies = hp.policies;
    result.report.hostPolicies = hp.notes;
  }
  if (options.hostNetwork !== false) {
    const hn = discoverHostNetworkPolicy(model, options.hostNetwork ?? {});
    if (hn.policy) result.hostNetworkPolicy = hn.policy;
    result.report.hostNetwork = hn.notes;
  }
  if (options.workloads !== false) {
    const wp = discoverWorkloadPolicies(model, options.workloads ?? {});
    result.workloadPolicies = wp.policies;
    result.report.workloads = wp.notes;
  }
  result.objects = [...result.hostPolicies, ...(result.hostNetworkPolicy ? [result.hostNetworkPolicy] : []), ...result.workloadPolicies];
  result.report.warnings = warnings(model, result);
  return result;
}

export interface LogObservation {
  /** lines read */
  lines: number;
  /** lines that were not an audit record (counted, not observed) */
  unparsed: number;
  /** events handed to the model */
  events: number;
}

/**
 * Parses audit-log lines (auditd, syslog, journald, dmesg envelopes; AppArmor, SELinux and
 * Linux-audit records) and observes their events: the offline `kvmctl discover --from-log` path.
 */
export function observeLogLines(model: HostModel, lines: Iterable<string>, nowMs: number, options: ObserveOptions & ParseLogOptions = {}): LogObservation {
  const { sourceResolver, ...parseOptions } = options;
  const out: LogObservation = { lines: 0, unparsed: 0, events: 0 };
  const events = function* () {
    for (const r of parseLogLines(lines, parseOptions)) {
      out.lines++;
      if (r.format === 'unparsed') out.unparsed++;
      if (r.event) {
        out.events++;
        yield r.event;
      }
    }
  };
  observeEvents(model, events(), nowMs, sourceResolver ? { sourceResolver } : {});
  return out;
}

/** Reads `hubble observe -o json` text and observes its flows; returns the lines that were not flows. */
export function observeHubbleText(model: HostModel, text: string, nowMs: number): { flows: number; unparsed: { line: number; reason: string }[] } {
  const read = readHubbleFlows(text);
  observeFlows(model, read.flows, nowMs);
  return { flows: read.flows.length, unparsed: read.unparsed };
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = canonical((value as Record<string, unknown>)[k]);
  return out;
}

/**
 * sha256 of a discovered object's kind, name and spec (keys sorted): equal digests mean the same
 * policy, so the control plane can tell whether a fresh discovery changes an Active policy
 * (DiscoveredPolicy `PendingUpdates`) without comparing objects field by field.
 */
export function policyDigest(policy: DiscoveredObject): string {
  const text = JSON.stringify(canonical({ kind: policy.kind, name: policy.metadata.name, spec: policy.spec }));
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Annotation carrying `policyDigest` of the wrapped policy. */
export const DIGEST_ANNOTATION = 'discovery.kvmservice.io/digest';

/**
 * A DiscoveredPolicy (status Inactive unless given) wrapping a discovered object, named like it
 * and annotated with its digest; `validateResource` accepts it.
 */
export function wrapDiscoveredPolicy(policy: DiscoveredObject, status: DiscoveredPolicy['spec']['status'] = 'Inactive'): DiscoveredPolicy {
  return {
    apiVersion: DISCOVERED_POLICY_API_VERSION,
    kind: DISCOVERED_POLICY_KIND,
    metadata: { name: policy.metadata.name, annotations: { [DIGEST_ANNOTATION]: policyDigest(policy) } },
    spec: { status, policy: policy as unknown as Record<string, unknown> },
  };
}
