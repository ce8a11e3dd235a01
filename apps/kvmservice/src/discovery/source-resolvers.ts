/**
 * Maps a host's own AppArmor profile names (`kubearmor_<…>`) and SELinux domains back to the
 * binaries they confine, so that discovery attributes a record to the binary that acted: the
 * host's desired state, rendered for its LSM (from the facts its agent reported), names them.
 */
import { Injectable } from '@nestjs/common';
import type { SourceResolver } from '@kvmservice/discovery';
import { DesiredStateService } from '../desired/desired-state.service.js';
import type { HostFactsView } from '../desired/desired-state.js';
import { HostStatusService } from '../hosts/host-status.service.js';

/** How long a host's map is reused before the facts are read again. */
const TTL_MS = 30_000;

/** The resolver for a map of names → binaries: the record's profile, else its source domain. */
export function resolverOf(sources: Record<string, string>): SourceResolver {
  return (event) => {
    const label = event.lsm?.profile ?? event.lsm?.scontextType;
    return label !== undefined && Object.hasOwn(sources, label) ? sources[label] : undefined;
  };
}

@Injectable()
export class SourceResolvers {
  private readonly cache = new Map<string, { at: number; revision: number; resolver: SourceResolver }>();

  constructor(
    private readonly desired: DesiredStateService,
    private readonly status: HostStatusService,
  ) {}

  async resolverFor(host: string): Promise<SourceResolver | undefined> {
    const now = Date.now();
    const cached = this.cache.get(host);
    if (cached && cached.revision === this.desired.revision && now - cached.at < TTL_MS) return cached.resolver;
    const enforcer = (await this.status.get(host))?.facts?.enforcer;
    const facts: HostFactsView = { enforcer: enforcer === 'selinux' ? 'selinux' : enforcer === 'apparmor' ? 'apparmor' : 'none', dryRun: true, apparmorFeaturesSha256: '' };
    const state = this.desired.compute(host, facts);
    const resolver = resolverOf(state?.evaluation.sources ?? {});
    if (this.cache.size >= 4096) this.cache.clear();
    this.cache.set(host, { at: now, revision: this.desired.revision, resolver });
    return resolver;
  }
}
