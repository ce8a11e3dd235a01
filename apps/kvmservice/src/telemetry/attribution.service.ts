/**
 * Names the policy behind an LSM record: the AppArmor profile (or SELinux type) in the record maps
 * to the policies rendered into it, as the renderer reported when it rendered the host's state.
 */
import { Injectable } from '@nestjs/common';
import type { Event } from '@kvmservice/api';

@Injectable()
export class AttributionService {
  private readonly byHost = new Map<string, Record<string, string[]>>();

  /** Called whenever a host's desired state is computed for its agent. */
  remember(host: string, attribution: Record<string, string[]>): void {
    this.byHost.set(host, attribution);
  }

  forget(host: string): void {
    this.byHost.delete(host);
  }

  attribute(host: string, event: Event): Event {
    if (event.policyName || event.type !== 'MatchedHostPolicy') return event;
    const map = this.byHost.get(host);
    const data = event.eventData ?? {};
    const label = data.profile ?? data.scontextType ?? data.tcontextType;
    if (!map || !label) return event;
    const policies = map[label] ?? (data.tcontextType ? map[data.tcontextType] : undefined);
    return policies && policies.length > 0 ? { ...event, policyName: policies.join(',') } : event;
  }
}
