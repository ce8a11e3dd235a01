/**
 * What applying a DiscoveredPolicy does to the policy it wraps: `Active` (or `active`) puts the
 * wrapped policy in force — created or updated in the same commit as the DiscoveredPolicy,
 * annotated with the DiscoveredPolicy's name; `Inactive` (or `inactive`) deletes the policy that
 * DiscoveredPolicy put in force (never one it did not create); `PendingUpdates` leaves the policy
 * in force as it is (the DiscoveredPolicy holds a newer proposal awaiting review). Pure.
 */
import { findKind, isActiveStatus, isInactiveStatus, type ResourceKind } from '@kvmservice/resources';

/** On a policy put in force by a DiscoveredPolicy: that DiscoveredPolicy's name. */
export const FROM_DISCOVERED_POLICY_ANNOTATION = 'discovery.kvmservice.io/discovered-policy';

type Json = Record<string, unknown>;

export type Activation =
  | { action: 'none' }
  | { action: 'upsert'; kind: ResourceKind; name: string; object: Json }
  | { action: 'remove'; kind: ResourceKind; name: string };


/** What a (validated) DiscoveredPolicy asks for. */
export function activationOf(dsp: Json): Activation {
  const spec = (dsp.spec ?? {}) as Json;
  const policy = (spec.policy ?? {}) as Json;
  const kind = findKind(String(policy.kind ?? ''));
  const meta = (policy.metadata ?? {}) as Json;
  const name = String(meta.name ?? '');
  if (!kind || name === '') return { action: 'none' };
  if (isInactiveStatus(spec.status)) return { action: 'remove', kind, name };
  if (!isActiveStatus(spec.status)) return { action: 'none' };
  const dspName = String(((dsp.metadata ?? {}) as Json).name ?? '');
  // Only what a user owns: server-set metadata and status of the wrapped copy are not carried over.
  const { status: _status, metadata: _metadata, ...rest } = policy;
  const metadata: Json = { name };
  if (meta.labels !== undefined) metadata.labels = meta.labels;
  metadata.annotations = { ...((meta.annotations as Json | undefined) ?? {}), [FROM_DISCOVERED_POLICY_ANNOTATION]: dspName };
  return { action: 'upsert', kind, name, object: { ...rest, metadata } };
}

/** The DiscoveredPolicy that put a stored policy in force, if any. */
export function activatedBy(policy: Json | undefined): string | undefined {
  const annotations = ((policy?.metadata as Json | undefined)?.annotations ?? {}) as Record<string, unknown>;
  const by = annotations[FROM_DISCOVERED_POLICY_ANNOTATION];
  return typeof by === 'string' ? by : undefined;
}
