/**
 * What one host must enforce, computed from the objects that select it. Pure: the same objects,
 * host and facts give the same state and the same hash, on any replica.
 */
import { createHash } from 'node:crypto';
import {
  hostLabels,
  hostSelectorMatches,
  labelSelectorMatches,
  type CiliumPolicy,
  type NormalizedHostPolicy,
  type Posture,
  type VisibilityKind,
} from '@kvmservice/resources';
import { canonicalJson } from '../objects/object-service.js';

export type Enforcer = 'apparmor' | 'selinux' | 'none';

export interface HostView {
  name: string;
  labels: Record<string, string>;
  postures: { file?: Posture; network?: Posture; capabilities?: Posture };
  visibility: VisibilityKind[];
  learning?: { binaries: string[]; until: number };
}

export interface HostFactsView {
  enforcer: Enforcer;
  dryRun: boolean;
  apparmorFeaturesSha256: string;
}

export interface ArtifactView {
  name: string;
  lsm: 'apparmor' | 'selinux' | 'cilium';
  fileName: string;
  content: string;
  sha256: string;
  policies: string[];
  relabelPaths: string[];
}

export interface RenderProblemView {
  policy: string;
  field: string;
  reason: string;
}

export interface RenderedForHost {
  artifacts: ArtifactView[];
  problems: RenderProblemView[];
  /** Profile or SELinux type name → policy names, to attribute the kernel's records to policies. */
  attribution: Record<string, string[]>;
  /** fromSource/learning profile or domain name → the binary it confines (records back to binaries). */
  sources: Record<string, string>;
  /** Profiles in complain mode / permissive domains (learning mode). */
  learning: string[];
}

/** The LSM renderers, injected so that this computation stays pure and testable. */
export interface Renderers {
  apparmor(policies: NormalizedHostPolicy[], host: HostView): RenderedForHost;
  selinux(policies: NormalizedHostPolicy[], host: HostView): RenderedForHost;
}

export interface HostPolicyEntry {
  normalized: NormalizedHostPolicy;
  resourceVersion: string;
}

export interface CiliumPolicyEntry {
  object: CiliumPolicy;
  resourceVersion: string;
}

export interface DesiredStateView {
  revision: number;
  hostname: string;
  policies: { kind: string; name: string; resourceVersion: string }[];
  artifacts: ArtifactView[];
  settings: { visibility: string[]; learningBinaries: string[]; learningUntil: number };
  problems: RenderProblemView[];
  attribution: Record<string, string[]>;
  /** What alert attribution needs to evaluate an event the way this state enforces it. */
  evaluation: { lsm: 'apparmor' | 'selinux'; postures: HostView['postures']; policies: NormalizedHostPolicy[]; sources: Record<string, string> };
  /** Profiles in complain mode / permissive domains (learning mode). */
  learning: string[];
  /** Identity of the content (not of the revision): equal hashes need no push. */
  hash: string;
}

export function selectsHost(policy: NormalizedHostPolicy, host: HostView): boolean {
  return hostSelectorMatches(policy.nodeSelector, hostLabels(host.name, host.labels));
}

export function ciliumSelectsHost(policy: CiliumPolicy, host: HostView): boolean {
  const rules = [policy.spec, ...(policy.specs ?? [])].filter((r) => r !== undefined);
  return rules.some((r) => r.nodeSelector !== undefined && labelSelectorMatches(r.nodeSelector, hostLabels(host.name, host.labels)));
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function computeDesiredState(
  host: HostView,
  facts: HostFactsView,
  hostPolicies: Iterable<HostPolicyEntry>,
  ciliumPolicies: Iterable<CiliumPolicyEntry>,
  renderers: Renderers,
  revision: number,
): DesiredStateView {
  const selected = [...hostPolicies].filter((p) => selectsHost(p.normalized, host)).sort((a, b) => (a.normalized.name < b.normalized.name ? -1 : 1));
  const cilium = [...ciliumPolicies].filter((p) => ciliumSelectsHost(p.object, host)).sort((a, b) => (a.object.metadata.name < b.object.metadata.name ? -1 : 1));

  // A host without an LSM still gets AppArmor profiles: its agent compiles them (dry run) and says so.
  const lsm = facts.enforcer === 'selinux' ? 'selinux' : 'apparmor';
  const normalized = selected.map((p) => p.normalized);
  const rendered = lsm === 'selinux' ? renderers.selinux(normalized, host) : renderers.apparmor(normalized, host);
  const artifacts = [...rendered.artifacts];
  if (cilium.length > 0) {
    const content = `${cilium.map((p) => canonicalJson(p.object)).join('\n')}\n`;
    artifacts.push({
      name: 'cilium-host-policies',
      lsm: 'cilium',
      fileName: 'cilium-host-policies.jsonl',
      content,
      sha256: sha256(content),
      policies: cilium.map((p) => p.object.metadata.name),
      relabelPaths: [],
    });
  }
  const settings = {
    visibility: [...new Set([...host.visibility, ...(host.learning && host.learning.until > 0 ? ['process', 'file', 'network', 'capabilities'] : [])])].sort(),
    learningBinaries: host.learning?.binaries ?? [],
    learningUntil: host.learning?.until ?? 0,
  };
  const policies = [
    ...selected.map((p) => ({ kind: 'KubeArmorHostPolicy', name: p.normalized.name, resourceVersion: p.resourceVersion })),
    ...cilium.map((p) => ({ kind: p.object.kind, name: p.object.metadata.name, resourceVersion: p.resourceVersion })),
  ];
  const hash = sha256(
    canonicalJson({
      artifacts: artifacts.map((a) => ({ name: a.name, lsm: a.lsm, sha256: a.sha256, relabel: a.relabelPaths })),
      settings,
      problems: rendered.problems,
      policies: policies.map((p) => `${p.kind}/${p.name}`),
    }),
  );
  return {
    revision,
    hostname: host.name,
    policies,
    artifacts,
    settings,
    problems: rendered.problems,
    attribution: rendered.attribution,
    evaluation: { lsm, postures: host.postures, policies: normalized, sources: rendered.sources },
    learning: rendered.learning,
    hash,
  };
}
