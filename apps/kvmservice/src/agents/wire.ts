/** Desired state and status between their wire (proto) and service shapes. */
import type { ArtifactStatus__Output, DesiredState, HostFacts__Output } from '@kvmservice/api';
import type { DesiredStateView, HostFactsView } from '../desired/desired-state.js';
import type { ArtifactStatusView } from '../hosts/host-status.service.js';

export function desiredStateToWire(state: DesiredStateView): DesiredState {
  return {
    revision: state.revision,
    hostname: state.hostname,
    policies: state.policies.map((p) => ({ kind: p.kind, name: p.name, resourceVersion: p.resourceVersion })),
    artifacts: state.artifacts.map((a) => ({
      name: a.name,
      lsm: a.lsm,
      fileName: a.fileName,
      content: a.content,
      sha256: a.sha256,
      policies: a.policies,
      relabelPaths: a.relabelPaths,
    })),
    settings: state.settings,
    problems: state.problems,
  };
}

export function factsView(facts: HostFacts__Output | null | undefined): HostFactsView {
  const enforcer = facts?.enforcer === 'apparmor' || facts?.enforcer === 'selinux' ? facts.enforcer : 'none';
  return { enforcer, dryRun: facts?.dryRun ?? true, apparmorFeaturesSha256: facts?.apparmorFeaturesSha256 ?? '' };
}

export function artifactStatusView(a: ArtifactStatus__Output): ArtifactStatusView {
  return {
    name: a.name,
    lsm: a.lsm,
    sha256: a.sha256,
    state: String(a.state).replace(/^ARTIFACT_STATE_/, ''),
    message: a.message.slice(0, 4096),
    policies: a.policies,
  };
}

/** Content hash of what the agent applied, comparable to the desired state's hash. */
export function appliedMatches(desired: DesiredStateView, applied: ArtifactStatusView[]): boolean {
  const want = new Map(desired.artifacts.map((a) => [a.name, a.sha256]));
  if (want.size !== applied.length) return false;
  return applied.every((a) => want.get(a.name) === a.sha256 && a.state !== 'FAILED');
}
