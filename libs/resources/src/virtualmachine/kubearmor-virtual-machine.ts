/**
 * KubeArmorVirtualMachine (security.kubearmor.com/v1, short name `kvm`): one host, a VM or a bare-metal
 * server. `metadata.labels` are the host's labels (policies select on them, together with the
 * built-in `kubearmor.io/hostname`); `spec` holds per-host settings; `status` is written by the
 * control plane from what the host's agent reports (upstream kept only `status.id` and `status.ip`).
 */
import { ObjectMeta } from '../meta.js';
import { Check, Nested, OneOf, Optional } from '../validation/decorators.js';

export const VIRTUAL_MACHINE_API_VERSION = 'security.kubearmor.com/v1';
export const VIRTUAL_MACHINE_KIND = 'KubeArmorVirtualMachine';

export const POSTURES = ['allow', 'audit', 'block'] as const;
export type Posture = (typeof POSTURES)[number];
export const VISIBILITY_KINDS = ['process', 'file', 'network', 'capabilities'] as const;
export type VisibilityKind = (typeof VISIBILITY_KINDS)[number];

/** What happens to an access no Allow rule covers, per class, when a class has Allow rules (upstream default: audit). */
export class DefaultPosture {
  @Optional() @OneOf(POSTURES) file?: Posture;
  @Optional() @OneOf(POSTURES) network?: Posture;
  @Optional() @OneOf(POSTURES) capabilities?: Posture;
}

export class VirtualMachineSpec {
  @Optional() @Nested(() => DefaultPosture) defaultPosture?: DefaultPosture;

  /** Which observations the agent collects (Linux-audit rules); empty = none. */
  @Optional()
  @Check(
    'visibility',
    (v) => Array.isArray(v) && new Set(v).size === v.length && v.every((k) => (VISIBILITY_KINDS as readonly unknown[]).includes(k)),
    `must be a list of distinct values from ${VISIBILITY_KINDS.join(', ')}`,
  )
  visibility?: VisibilityKind[];
}

export const isPlainObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

export class KubeArmorVirtualMachine {
  @OneOf([VIRTUAL_MACHINE_API_VERSION]) apiVersion!: typeof VIRTUAL_MACHINE_API_VERSION;
  @OneOf([VIRTUAL_MACHINE_KIND]) kind!: typeof VIRTUAL_MACHINE_KIND;
  @Nested(() => ObjectMeta) metadata!: ObjectMeta;
  @Optional() @Nested(() => VirtualMachineSpec) spec?: VirtualMachineSpec;
  /** Server-owned; accepted as written so `get -o yaml | apply` round-trips, ignored on apply. */
  @Optional() @Check('status', isPlainObject, 'must be an object') status?: Record<string, unknown>;
}
