/**
 * Names the policy behind an LSM record. With the host's enforced policies (the desired state last
 * computed for its agent), the event is evaluated the way the renderers enforce it
 * (libs/discovery's HostPolicyEvaluator): the policy whose rule decided it, or — for a posture
 * decision — the policies whose Allow rules made the class an allow-list. Without them, when the
 * evaluator finds no policy, or when its decision differs from the kernel's (a record from before
 * the last change), the profile or SELinux type in the record maps to every policy rendered into it.
 */
import { Injectable } from '@nestjs/common';
import type { Event } from '@kvmservice/api';
import { fromWireEvent } from '@kvmservice/auditlog';
import { HostPolicyEvaluator, type Postures } from '@kvmservice/discovery';
import type { NormalizedHostPolicy } from '@kvmservice/resources';
import { resolverOf } from '../discovery/source-resolvers.js';

/** What the evaluator needs: the host's enforced policies as its desired state rendered them. */
export interface AttributionContext {
  lsm: 'apparmor' | 'selinux';
  postures: Partial<Postures>;
  policies: NormalizedHostPolicy[];
  /** fromSource profile / domain name → binary, so an event is judged under the profile that logged it. */
  sources: Record<string, string>;
}

interface HostAttribution {
  labels: Record<string, string[]>;
  context?: AttributionContext;
  evaluator?: HostPolicyEvaluator;
}

/** The profile or SELinux type a stored record names. */
function labelOf(data: Record<string, string>): { label?: string; target?: string } {
  const label = data['lsm.profile'] ?? data['lsm.scontextType'];
  return { ...(label ? { label } : {}), ...(data['lsm.tcontextType'] ? { target: data['lsm.tcontextType'] } : {}) };
}

@Injectable()
export class AttributionService {
  private readonly byHost = new Map<string, HostAttribution>();

  /**
   * Called whenever a host's desired state is computed for its agent: `labels` is the renderer's
   * profile/type → policies map, `context` what evaluation needs (absent: the map alone decides).
   */
  remember(host: string, labels: Record<string, string[]>, context?: AttributionContext): void {
    this.byHost.set(host, { labels, ...(context ? { context } : {}) });
  }

  forget(host: string): void {
    this.byHost.delete(host);
  }

  attribute(host: string, event: Event): Event {
    if (event.policyName || event.type !== 'MatchedHostPolicy') return event;
    const known = this.byHost.get(host);
    if (!known) return event;
    const byRule = this.evaluate(known, event);
    if (byRule.length > 0) return { ...event, policyName: byRule.join(',') };
    const { label, target } = labelOf(event.eventData ?? {});
    const lookup = (name: string | undefined) => (name !== undefined && Object.hasOwn(known.labels, name) ? known.labels[name] : undefined);
    const policies = lookup(label) ?? lookup(target);
    return policies && policies.length > 0 ? { ...event, policyName: policies.join(',') } : event;
  }

  /** The deciding policy (or the allow-list's policies), or nothing when evaluation cannot tell. */
  private evaluate(known: HostAttribution, event: Event): string[] {
    const context = known.context;
    if (!context || context.policies.length === 0) return [];
    known.evaluator ??= new HostPolicyEvaluator(context.policies, {
      lsm: context.lsm,
      postures: context.postures,
      sourceResolver: resolverOf(context.sources),
    });
    const hostEvent = fromWireEvent(event);
    const evaluation = known.evaluator.evaluate(hostEvent);
    // A decision other than the kernel's means the record predates the policies in hand.
    if (evaluation.decision !== hostEvent.action) return [];
    if (evaluation.reason === 'rule' && evaluation.rule) return [evaluation.rule.policy];
    if (evaluation.reason === 'posture') return evaluation.policies;
    return [];
  }
}
