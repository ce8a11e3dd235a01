/**
 * The alert the control plane makes of a kernel record: the event the agent parsed
 * (libs/auditlog), as the wire event the agent uploads (`toWireEvent`), attributed by the control
 * plane's AttributionService with the renderer's map (AppArmor profilePolicies / SELinux typePolicies).
 */
import { toWireEvent, type HostEvent } from '@kvmservice/auditlog';
import { AttributionService } from '../../../apps/kvmservice/src/telemetry/attribution.service.js';

export function alertPolicy(event: HostEvent, attribution: Record<string, string[]>, hostName = 'kubearmor-dev'): string {
  const service = new AttributionService();
  service.remember(hostName, attribution);
  return service.attribute(hostName, toWireEvent(event, 1)).policyName ?? '';
}
