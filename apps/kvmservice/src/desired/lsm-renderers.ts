/**
 * The LSM renderers behind the `Renderers` port, with a bounded cache keyed by what a render
 * depends on (the host, its postures, its learning binaries, and each selected policy at its
 * resourceVersion).
 */
import { createHash } from 'node:crypto';
import { renderAppArmorProfiles } from '@kvmservice/apparmor';
import type { NormalizedHostPolicy } from '@kvmservice/resources';
import { renderSelinuxModule } from '@kvmservice/selinux';
import type { HostView, RenderedForHost, Renderers } from './desired-state.js';

export const RENDERERS = Symbol('Renderers');

/** The learning binaries while learning lasts (the caller drops `learning` once `until` has passed). */
function learningOf(host: HostView): { learning: { binaries: readonly string[] } } | Record<string, never> {
  return host.learning && host.learning.binaries.length > 0 ? { learning: { binaries: host.learning.binaries } } : {};
}

function renderAppArmor(policies: NormalizedHostPolicy[], host: HostView): RenderedForHost {
  const r = renderAppArmorProfiles(policies, { name: host.name }, { postures: host.postures, ...learningOf(host) });
  return {
    artifacts: r.artifacts.map((a) => ({ name: a.name, lsm: 'apparmor', fileName: a.fileName, content: a.content, sha256: a.sha256, policies: a.policies.map((p) => p.name), relabelPaths: [] })),
    problems: r.unenforceable,
    attribution: r.profilePolicies,
    sources: r.profileSources,
    learning: r.complainProfiles,
  };
}

function renderSelinux(policies: NormalizedHostPolicy[], host: HostView): RenderedForHost {
  const r = renderSelinuxModule(policies, { name: host.name }, { posture: host.postures, ...learningOf(host) });
  if (r.module === '') return { artifacts: [], problems: r.problems, attribution: r.typePolicies, sources: r.domainSources, learning: r.permissiveDomains };
  return {
    artifacts: [
      {
        name: r.moduleName,
        lsm: 'selinux',
        fileName: `${r.moduleName}.cil`,
        content: r.module,
        sha256: r.sha256,
        policies: [...new Set(Object.values(r.typePolicies).flat())].sort(),
        relabelPaths: r.relabelPaths,
      },
    ],
    problems: r.problems,
    attribution: r.typePolicies,
    sources: r.domainSources,
    learning: r.permissiveDomains,
  };
}

/** Least-recently-used cache of renders. */
export class RenderCache {
  private readonly entries = new Map<string, RenderedForHost>();
  hits = 0;
  misses = 0;

  constructor(private readonly capacity = 1000) {}

  static key(lsm: string, policies: NormalizedHostPolicy[], host: HostView): string {
    const h = createHash('sha256');
    h.update(`${lsm}\0${host.name}\0${JSON.stringify(host.postures)}\0${JSON.stringify(host.learning?.binaries ?? [])}\0`);
    for (const p of policies) h.update(`${p.name}\0${p.resourceVersion ?? JSON.stringify(p)}\0`);
    return h.digest('hex');
  }

  getOrRender(key: string, render: () => RenderedForHost): RenderedForHost {
    const hit = this.entries.get(key);
    if (hit) {
      this.hits++;
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    this.misses++;
    const value = render();
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }
}

export function cachedLsmRenderers(cache: RenderCache): Renderers {
  return {
    apparmor: (policies, host) => cache.getOrRender(RenderCache.key('apparmor', policies, host), () => renderAppArmor(policies, host)),
    selinux: (policies, host) => cache.getOrRender(RenderCache.key('selinux', policies, host), () => renderSelinux(policies, host)),
  };
}
