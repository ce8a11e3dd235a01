/**
 * Discovery conformance against accuknox/discovery-engine TC_41–TC_48 (KubeArmor logs →
 * file/process policies with/without fromSource, matchPaths/matchDirectories), adapted to hosts:
 * the pod-level logs become HostEvents of the node they ran on, the expected KubeArmorPolicy
 * (pod selector) becomes a KubeArmorHostPolicy (nodeSelector kubearmor.io/hostname), and the
 * fixtures' old format (security.accuknox.com/v1, `fromSource: {path: [..]}`, directories without
 * a trailing '/') is read as the current one (`fromSource: [{path}]`, `dir: …/`, and
 * `recursive: true`, which the current aggregator always sets). The rules must then agree, with
 * the differences listed below.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostEvent } from '@kvmservice/auditlog';
import { createHostModel, discoverHostPolicies, kubeArmorLogToHostEvent, observeEvents } from '@kvmservice/discovery';
import { validateResource, type KubeArmorHostPolicy } from '@kvmservice/resources';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { conformanceDir } from '../support/conformance.js';
import { hostPolicyCrdValidator } from '../support/crd-schemas.js';

interface Fact {
  class: 'file' | 'process';
  path?: string;
  dir?: string;
  recursive?: boolean;
  readOnly?: boolean;
  fromSource: string[];
}

/** Deliberate differences, by test case: what we add to upstream's rules, and why. */
const DIFFERENCES: Record<string, { fileRules: Partial<Fact>; why: string }> = {
  TC_41: { fileRules: { readOnly: true }, why: 'the only access seen was an O_RDONLY open: a read-only rule is enough (upstream sets readOnly only in its newer WPFS mode)' },
  TC_42: { fileRules: { readOnly: true }, why: 'as TC_41' },
  TC_43: { fileRules: { readOnly: true }, why: 'every file under the directory was opened O_RDONLY' },
  TC_44: { fileRules: { readOnly: true }, why: 'as TC_43' },
};

type UpstreamRule = { path?: string; dir?: string; fromSource?: { path: string[] } | { path: string }[] };

function upstreamFacts(yamlText: string): Fact[] {
  const out: Fact[] = [];
  for (const doc of yamlText.split(/^---\s*$/m)) {
    const p = parse(doc) as { spec?: Record<string, { matchPaths?: UpstreamRule[]; matchDirectories?: UpstreamRule[] }> } | null;
    if (!p?.spec) continue;
    for (const cls of ['file', 'process'] as const) {
      for (const r of [...(p.spec[cls]?.matchPaths ?? []), ...(p.spec[cls]?.matchDirectories ?? [])]) {
        const fs = r.fromSource;
        const fromSource = fs === undefined ? [] : Array.isArray(fs) ? fs.map((s) => s.path) : fs.path;
        const fact: Fact = { class: cls, fromSource: [...fromSource].sort() };
        if (r.path !== undefined) fact.path = r.path;
        if (r.dir !== undefined) {
          fact.dir = r.dir.endsWith('/') ? r.dir : `${r.dir}/`;
          fact.recursive = true;
        }
        out.push(fact);
      }
    }
  }
  return out;
}

function ourFacts(policies: KubeArmorHostPolicy[]): Fact[] {
  const out: Fact[] = [];
  for (const p of policies) {
    for (const cls of ['file', 'process'] as const) {
      const block = p.spec[cls];
      for (const r of [...(block?.matchPaths ?? []), ...(block?.matchDirectories ?? [])] as Record<string, unknown>[]) {
        const fact: Fact = { class: cls, fromSource: ((r.fromSource as { path: string }[] | undefined) ?? []).map((s) => s.path).sort() };
        if (typeof r.path === 'string') fact.path = r.path;
        if (typeof r.dir === 'string') fact.dir = r.dir;
        if (r.recursive === true) fact.recursive = true;
        if (r.readOnly === true) fact.readOnly = true;
        expect(r.ownerOnly).toBeUndefined(); // KubeArmor logs carry no owner information
        out.push(fact);
      }
    }
  }
  return out;
}

const sortFacts = (facts: Fact[]) => facts.map((f) => JSON.stringify(f, Object.keys(f).sort())).sort();

describe('discovery-engine TC_41–TC_48 (KubeArmor logs → host policies)', () => {
  const base = conformanceDir('discovery-engine', 'test-cases');
  const crd = hostPolicyCrdValidator({ unknownFields: 'reject' });

  it.each([41, 42, 43, 44, 45, 46, 47, 48].map((n) => `TC_${n}`))('%s', (tc) => {
    const files = readdirSync(join(base, tc));
    const input = files.find((f) => f.endsWith('.json'))!;
    const expected = files.find((f) => f.endsWith('.yaml'))!;
    const records = JSON.parse(readFileSync(join(base, tc, input), 'utf8')) as unknown[];
    const events = records.map(kubeArmorLogToHostEvent);
    expect(events.filter((e) => typeof e === 'string')).toEqual([]);
    const hosts = new Set((events as HostEvent[]).map((e) => e.hostName));
    expect(hosts.size).toBe(1);
    const host = [...hosts][0]!;

    const model = createHostModel(host);
    observeEvents(model, events as HostEvent[], 0);
    expect(model.stats.observed).toBe(records.length);
    const withFromSource = !input.includes('without_fromSource');
    const { policies } = discoverHostPolicies(model, { policyPer: 'host', fromSource: withFromSource });
    expect(policies).toHaveLength(1);
    for (const p of policies) {
      expect(validateResource(p)).toMatchObject({ valid: true });
      expect(crd(p) ? [] : crd.errors).toEqual([]);
      expect(p.spec.nodeSelector).toEqual({ matchLabels: { 'kubearmor.io/hostname': host } });
      expect(p.spec.action).toBe('Allow');
    }

    const difference = DIFFERENCES[tc];
    const want = upstreamFacts(readFileSync(join(base, tc, expected), 'utf8')).map((f) => (difference && f.class === 'file' ? { ...f, ...difference.fileRules } : f));
    expect(want.length).toBeGreaterThan(0);
    expect(sortFacts(ourFacts(policies))).toEqual(sortFacts(want));
  });
});
