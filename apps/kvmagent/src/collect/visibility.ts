/**
 * Which events leave the host. LSM decisions (alerts: a policy blocked or audited something) and
 * system events always do; visibility logs (`HostLog`: what happened, no policy involved) only
 * for the kinds visibility asks for.
 */
import type { HostEvent, HostOperation } from '@kvmservice/auditlog';
import { VISIBILITY_KINDS, type VisibilityKind } from '../config.js';

const KIND_OF: Record<HostOperation, VisibilityKind> = {
  Process: 'process',
  File: 'file',
  Network: 'network',
  Capabilities: 'capabilities',
  // A syscall record that is none of the above is part of what a process does.
  Syscall: 'process',
};

export function keepEvent(e: HostEvent, visibility: ReadonlySet<VisibilityKind>): boolean {
  if (e.type !== 'HostLog') return true;
  return visibility.has(KIND_OF[e.operation]);
}

/** Known kinds of a list (the control plane's and the local flag's), in canonical order. */
export function visibilitySet(...lists: readonly (readonly string[])[]): Set<VisibilityKind> {
  const all = new Set(lists.flat());
  return new Set(VISIBILITY_KINDS.filter((k) => all.has(k)));
}
