/**
 * KubeArmorVirtualMachine (security.kubearmor.com/v1, short name `kvm`): one host, a VM or a bare-metal
 * server. `metadata.labels` are the host's labels (policies select on them, together with the
 * built-in `kubearmor.io/hostname`); `spec` holds per-host settings; `status` is written by the
 * control plane from what the host's agent reports (upstream kept only `status.id` and `status.ip`).
 */
import { unsafeTextReason } from '../hostpolicy/safe-text.js';
import { ObjectMeta } from '../meta.js';
import type { FieldError } from '../validation/field-error.js';
import { Check, Nested, OneOf, Optional, StringList } from '../validation/decorators.js';

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

/** Most binaries one learning session may name. */
export const MAX_LEARNING_BINARIES = 64;

/** RFC 3339 date-time (`2024-05-01T12:00:00Z`, fractions and offsets allowed). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

export function isRfc3339(value: unknown): value is string {
  return typeof value === 'string' && RFC3339.test(value) && !Number.isNaN(Date.parse(value));
}

/**
 * Learning mode (`kvmctl discover start`): until `until`, the profiles of `binaries` run in
 * complain mode (AppArmor) or their domains are permissive (SELinux), and visibility is on, so
 * that everything they do is recorded without being blocked. Empty `binaries` = visibility only.
 */
export class VirtualMachineLearning {
  /** Absolute paths of binaries; the same rules as `fromSource` paths (checked item by item below). */
  @StringList(MAX_LEARNING_BINARIES) binaries!: string[];

  @Check('rfc3339', isRfc3339, 'must be an RFC 3339 date-time, e.g. 2024-05-01T12:00:00Z')
  until!: string;
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

  @Optional() @Nested(() => VirtualMachineLearning) learning?: VirtualMachineLearning;
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

/** Why a learning binary path is not usable, or undefined (the rules of `fromSource` paths). */
export function learningBinaryReason(path: string): string | undefined {
  if (!/^\/+.*[^/]$/.test(path)) return "must be an absolute path without a trailing '/'";
  if (path.length > 200) return 'must be at most 200 characters';
  return unsafeTextReason(path);
}

/** Rules of a schema-valid host object the decorators cannot express. */
export function virtualMachineProblems(vm: KubeArmorVirtualMachine): FieldError[] {
  const out: FieldError[] = [];
  const binaries = vm.spec?.learning?.binaries ?? [];
  const seen = new Set<string>();
  binaries.forEach((path, i) => {
    const reason = learningBinaryReason(path);
    if (reason) out.push({ field: `spec.learning.binaries[${i}]`, reason });
    else if (seen.has(path)) out.push({ field: `spec.learning.binaries[${i}]`, reason: `${path} is listed twice` });
    seen.add(path);
  });
  return out;
}
