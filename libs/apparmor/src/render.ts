/**
 * `renderAppArmorProfiles`: the host policies that select one host → AppArmor profiles. Pure: no
 * I/O, no clock; the same input gives byte-identical output whatever the order of the policies.
 */
import { createHash } from 'node:crypto';
import type { NormalizedHostPolicy } from '@kvmservice/resources';
import { emitProfile, type EmitContext } from './render-emit.js';
import { buildProfiles, type ProfileModel } from './render-profiles.js';
import { convertPolicy, type RenderRule } from './render-rules.js';
import { resolvePostures } from './postures.js';
import { literalAare } from './render-text.js';
import type { AppArmorArtifact, AppArmorRender, PolicyRef, RenderHost, RenderOptions, UnenforceableRule } from './render-types.js';

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function compareRules(a: RenderRule, b: RenderRule): number {
  const ka = `${a.origin.policy}\u0000${a.origin.field}\u0000${a.key}`;
  const kb = `${b.origin.policy}\u0000${b.origin.field}\u0000${b.key}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function renderAppArmorProfiles(policies: readonly NormalizedHostPolicy[], host: RenderHost, options: RenderOptions = {}): AppArmorRender {
  const postures = resolvePostures(options.postures);
  // Policies sorted by name (then content, for duplicate names) so input order never matters.
  const sorted = [...policies].sort((a, b) => byName(a, b) || (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0));

  const rules: RenderRule[] = [];
  const unenforceable: UnenforceableRule[] = [];
  const native: EmitContext['native'] = [];
  for (const policy of sorted) {
    const converted = convertPolicy(policy);
    rules.push(...converted.rules);
    unenforceable.push(...converted.unenforceable);
    if (policy.apparmor !== undefined && policy.apparmor.trim() !== '') {
      if (options.allowNativeRules) native.push({ policy: policy.name, text: policy.apparmor });
      else unenforceable.push({ policy: policy.name, field: 'spec.apparmor', reason: 'native AppArmor rules are rendered only with allowNativeRules (they bypass every check)' });
    }
  }
  rules.sort(compareRules);

  const refs = new Map<string, PolicyRef>();
  for (const p of sorted) if (!refs.has(p.name)) refs.set(p.name, p.resourceVersion === undefined ? { name: p.name } : { name: p.name, resourceVersion: p.resourceVersion });
  const refsOf = (names: Iterable<string>): PolicyRef[] => [...new Set(names)].sort().map((n) => refs.get(n)!);

  // Learning binaries come from the host object (validated there); anything a profile cannot
  // attach to is reported, never rendered.
  const learning = new Set<string>();
  (options.learning?.binaries ?? []).forEach((binary, i) => {
    const aare = typeof binary === 'string' ? literalAare(binary) : { error: 'must be a string' };
    if ('error' in aare || binary.endsWith('/')) {
      unenforceable.push({ policy: '', field: `spec.learning.binaries[${i}]`, reason: `not a binary path (${'error' in aare ? aare.error : "ends with '/'"}); no learning profile rendered` });
    } else {
      learning.add(binary);
    }
  });
  if (rules.length === 0 && native.length === 0 && learning.size === 0) return { artifacts: [], profilePolicies: {}, profileSources: {}, complainProfiles: [], unenforceable };

  const set = buildProfiles(rules, postures, learning);
  const profilePolicies: Record<string, string[]> = {};
  const profileSources: Record<string, string> = {};
  const artifacts: AppArmorArtifact[] = [];
  const contributing = [...new Set([...rules.map((r) => r.origin.policy), ...native.map((n) => n.policy)])];
  const emit = (profile: ProfileModel, policyNames: string[]) => {
    const policiesOfProfile = refsOf(policyNames);
    const { content, notRendered } = emitProfile(profile, { set, host: host.name, postures, policies: policiesOfProfile, native });
    unenforceable.push(...notRendered);
    artifacts.push({ name: profile.name, fileName: profile.name, content, sha256: sha256(content), policies: policiesOfProfile });
  };
  // The dispatcher's text depends on every contributing policy (it hands every source over). With
  // learning binaries only (no rules), there is no dispatcher: shells stay as they were.
  if (rules.length > 0 || native.length > 0) {
    profilePolicies[set.dispatcher.name] = [...new Set([...set.dispatcher.rules.map((r) => r.origin.policy), ...native.map((n) => n.policy)])].sort();
    emit(set.dispatcher, contributing);
  }
  for (const child of set.children) {
    profilePolicies[child.name] = [...new Set(child.rules.map((r) => r.origin.policy))].sort();
    profileSources[child.name] = child.source!;
    emit(child, profilePolicies[child.name]!);
  }
  // Stable: rules of one policy keep their written order.
  unenforceable.sort((a, b) => (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0));
  const complainProfiles = set.children.filter((c) => c.learning).map((c) => c.name);
  return { artifacts, profilePolicies, profileSources, complainProfiles, unenforceable };
}
