/**
 * KubeArmorHostPolicy (security.kubearmor.com/v1), the complete upstream schema
 * (`crd__KubeArmorHostPolicy.crd.yaml`, openAPIV3Schema) as classes, plus the stricter rules
 * listed in docs/policy-reference.md ("Stricter than the CRD"). The object is kept as the user
 * wrote it; `normalizeHostPolicy` derives the view renderers use.
 */
import { ObjectMeta } from '../meta.js';
import { quoteValue, type FieldError } from '../validation/field-error.js';
import {
  Bool,
  Check,
  IntRange,
  MaxLen,
  Nested,
  NestedList,
  OneOf,
  Optional,
  Pattern,
  Str,
  StringList,
  StringMap,
} from '../validation/decorators.js';
import { CAPABILITIES, NETWORK_PROTOCOLS } from './normalized.js';
import { SYSCALLS } from './syscalls.js';
import { unbalancedPatternReason, unsafeTextReason } from './safe-text.js';

export const HOST_POLICY_API_VERSION = 'security.kubearmor.com/v1';
export const HOST_POLICY_KIND = 'KubeArmorHostPolicy';

export const ACTIONS = ['Allow', 'Audit', 'Block'] as const;

// The CRD's own patterns (JSON Schema `pattern` is an unanchored search, as here).
const PATH_RE = /^\/+.*[^/]$/;
const DIR_RE = /^\/$|^\/.*\/$/;
const EXECNAME_RE = /^[^/]+$/;
const PROTOCOL_RE = new RegExp(`(${NETWORK_PROTOCOLS.flatMap((p) => [p, p.toUpperCase()]).join('|')})$`);
const CAPABILITY_RE = new RegExp(`(${CAPABILITIES.join('|')})$`);
const SYSCALL_PATH_RE = /(^\/+.*[^/]$)|(^\/$|^\/.*\/$)/;

const PATH_REASON = "must be an absolute path without a trailing '/'";
const DIR_REASON = "must be an absolute directory path ending with '/'";

/** Stricter rule: no character a renderer cannot express safely. */
const SafeText = () =>
  Check('safeText', (v) => typeof v !== 'string' || unsafeTextReason(v) === undefined, (v) => unsafeTextReason(String(v)) ?? '');

/** Stricter rule: patterns are absolute globs with balanced braces and brackets. */
const SafePattern = () =>
  Check(
    'safePattern',
    (v) => typeof v !== 'string' || (v.startsWith('/') && unbalancedPatternReason(v) === undefined),
    (v) => (String(v).startsWith('/') ? (unbalancedPatternReason(String(v)) ?? '') : "must be an absolute pattern starting with '/'"),
  );

/** Stricter rule: every item of a comma list is one of `known` (the CRD only anchors the end). */
const CommaListOf = (known: readonly string[], what: string) =>
  Check(
    'commaList',
    (v) => typeof v !== 'string' || splitCommaList(v).every((item) => known.includes(item.toLowerCase())) && splitCommaList(v).length > 0,
    (v) => `must be a ${what} or a comma-separated list of them (${known.join(', ')}); got ${quoteValue(v)}`,
  );

/** Upstream's `ObjCommaExpandFirstDupOthers`: split on commas, drop spaces. */
export function splitCommaList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.replace(/\s+/g, ''))
    .filter((s) => s !== '');
}

export class SourcePath {
  /** Stricter than the CRD: a fromSource item without a path means nothing, so it is refused. */
  @Pattern(PATH_RE, PATH_REASON) @MaxLen(200) @SafeText()
  path!: string;
}

/** severity/tags/message/action: on the policy, on every block and on every item. */
export class RuleMeta {
  @Optional() @IntRange(1, 10) severity?: number;
  @Optional() @StringList() tags?: string[];
  @Optional() @Str() message?: string;
  @Optional() @OneOf(ACTIONS) action?: (typeof ACTIONS)[number];
}

export class ProcessPath extends RuleMeta {
  /** Stricter than the CRD: exactly one of `path` and `execname` (see `hostPolicyProblems`). */
  @Optional() @Pattern(PATH_RE, PATH_REASON) @MaxLen(200) @SafeText()
  path?: string;

  @Optional() @Pattern(EXECNAME_RE, "must be a binary name without '/'") @SafeText()
  execname?: string;

  @Optional() @StringList(20) allowedArgs?: string[];
  @Optional() @Bool() ownerOnly?: boolean;
  @Optional() @Bool() pts?: boolean;
  @Optional() @NestedList(() => SourcePath) fromSource?: SourcePath[];
}

export class ProcessDirectory extends RuleMeta {
  @Pattern(DIR_RE, DIR_REASON) @SafeText() dir!: string;
  @Optional() @Bool() recursive?: boolean;
  @Optional() @Bool() ownerOnly?: boolean;
  @Optional() @Bool() pts?: boolean;
  @Optional() @NestedList(() => SourcePath) fromSource?: SourcePath[];
}

export class ProcessPattern extends RuleMeta {
  @Str() @SafeText() @SafePattern() pattern!: string;
  @Optional() @Bool() ownerOnly?: boolean;
}

export class ProcessBlock extends RuleMeta {
  @Optional() @NestedList(() => ProcessPath) matchPaths?: ProcessPath[];
  @Optional() @NestedList(() => ProcessDirectory) matchDirectories?: ProcessDirectory[];
  @Optional() @NestedList(() => ProcessPattern) matchPatterns?: ProcessPattern[];
}

export class FilePath extends RuleMeta {
  @Pattern(PATH_RE, PATH_REASON) @MaxLen(200) @SafeText() path!: string;
  @Optional() @Bool() readOnly?: boolean;
  @Optional() @Bool() ownerOnly?: boolean;
  @Optional() @Bool() pts?: boolean;
  @Optional() @NestedList(() => SourcePath) fromSource?: SourcePath[];
}

export class FileDirectory extends RuleMeta {
  @Pattern(DIR_RE, DIR_REASON) @SafeText() dir!: string;
  @Optional() @Bool() recursive?: boolean;
  @Optional() @Bool() readOnly?: boolean;
  @Optional() @Bool() ownerOnly?: boolean;
  @Optional() @Bool() pts?: boolean;
  @Optional() @NestedList(() => SourcePath) fromSource?: SourcePath[];
}

export class FilePattern extends RuleMeta {
  @Str() @SafeText() @SafePattern() pattern!: string;
  @Optional() @Bool() readOnly?: boolean;
  @Optional() @Bool() ownerOnly?: boolean;
}

export class FileBlock extends RuleMeta {
  @Optional() @NestedList(() => FilePath) matchPaths?: FilePath[];
  @Optional() @NestedList(() => FileDirectory) matchDirectories?: FileDirectory[];
  @Optional() @NestedList(() => FilePattern) matchPatterns?: FilePattern[];
}

export class NetworkProtocolMatch extends RuleMeta {
  @Pattern(PROTOCOL_RE, `must end with one of ${NETWORK_PROTOCOLS.join(', ')}`) @CommaListOf(NETWORK_PROTOCOLS, 'protocol')
  protocol!: string;

  @NestedList(() => SourcePath) fromSource!: SourcePath[];
}

export class DnsQueryMatch extends RuleMeta {
  @Str()
  @Check('domains', (v) => typeof v !== 'string' || splitCommaList(v).length > 0, 'must name at least one domain')
  @SafeText()
  domain!: string;

  @Optional() @NestedList(() => SourcePath) fromSource?: SourcePath[];
}

export class NetworkBlock extends RuleMeta {
  @Optional() @NestedList(() => NetworkProtocolMatch) matchProtocols?: NetworkProtocolMatch[];
  @Optional() @NestedList(() => DnsQueryMatch) matchDNSQueries?: DnsQueryMatch[];
}

export class CapabilityMatch extends RuleMeta {
  @Pattern(CAPABILITY_RE, 'must end with a Linux capability name such as net_raw') @CommaListOf(CAPABILITIES, 'capability')
  capability!: string;

  @NestedList(() => SourcePath) fromSource!: SourcePath[];
}

export class CapabilitiesBlock extends RuleMeta {
  @Optional() @NestedList(() => CapabilityMatch) matchCapabilities?: CapabilityMatch[];
}

export class SyscallSourceSelector {
  /** Stricter than the CRD: a source names a path or a directory (see `hostPolicyProblems`). */
  @Optional() @Pattern(PATH_RE, PATH_REASON) @MaxLen(200) @SafeText()
  path?: string;

  @Optional() @Str() @SafeText() dir?: string;
  @Optional() @Bool() recursive?: boolean;
}

const SyscallList = () =>
  Check(
    'syscalls',
    (v) => Array.isArray(v) && v.every((s) => typeof s === 'string' && SYSCALLS.has(s)),
    (v) => {
      const bad = Array.isArray(v) ? v.find((s) => typeof s !== 'string' || !SYSCALLS.has(s)) : undefined;
      return Array.isArray(v) ? `unknown syscall ${quoteValue(bad)}` : 'must be a list of syscall names';
    },
  );

export class SyscallMatch {
  @Optional() @SyscallList() syscall?: string[];
  @Optional() @NestedList(() => SyscallSourceSelector) fromSource?: SyscallSourceSelector[];
}

export class SyscallPathMatch {
  @Optional() @Pattern(SYSCALL_PATH_RE, 'must be an absolute path (a directory ends with /)') @SafeText() path?: string;
  @Optional() @Bool() recursive?: boolean;
  @Optional() @SyscallList() syscall?: string[];
  @Optional() @NestedList(() => SyscallSourceSelector) fromSource?: SyscallSourceSelector[];
}

export class SyscallsBlock {
  @Optional() @NestedList(() => SyscallMatch) matchSyscalls?: SyscallMatch[];
  @Optional() @NestedList(() => SyscallPathMatch) matchPaths?: SyscallPathMatch[];
  @Optional() @IntRange(1, 10) severity?: number;
  @Optional() @StringList() tags?: string[];
  @Optional() @Str() message?: string;
}

export class DeviceMatch extends RuleMeta {
  @Str() class!: string;
  @Optional() @IntRange(-2147483648, 2147483647) subClass?: number;
  @Optional() @IntRange(-2147483648, 2147483647) protocol?: number;
  @Optional() @IntRange(1, 2147483647) level?: number;
}

export class DeviceBlock extends RuleMeta {
  @Optional() @NestedList(() => DeviceMatch) matchDevice?: DeviceMatch[];
}

export class HostNodeSelector {
  /** Stricter than the CRD: upstream never selects a host with an empty selector, so it is refused. */
  @StringMap()
  @Check('nonEmpty', (v) => typeof v !== 'object' || v === null || Object.keys(v).length > 0, 'must have at least one label (an empty selector selects no host)')
  matchLabels!: Record<string, string>;
}

export class HostPolicySpec extends RuleMeta {
  @Nested(() => HostNodeSelector) nodeSelector!: HostNodeSelector;
  @Optional() @Nested(() => ProcessBlock) process?: ProcessBlock;
  @Optional() @Nested(() => FileBlock) file?: FileBlock;
  @Optional() @Nested(() => NetworkBlock) network?: NetworkBlock;
  @Optional() @Nested(() => CapabilitiesBlock) capabilities?: CapabilitiesBlock;
  @Optional() @Nested(() => SyscallsBlock) syscalls?: SyscallsBlock;
  @Optional() @Nested(() => DeviceBlock) device?: DeviceBlock;
  @Optional() @Str() apparmor?: string;
}

export class HostPolicyStatus {
  @Optional() @Str() status?: string;
}

export class KubeArmorHostPolicy {
  @OneOf([HOST_POLICY_API_VERSION]) apiVersion!: typeof HOST_POLICY_API_VERSION;
  @OneOf([HOST_POLICY_KIND]) kind!: typeof HOST_POLICY_KIND;
  @Nested(() => ObjectMeta) metadata!: ObjectMeta;
  @Nested(() => HostPolicySpec) spec!: HostPolicySpec;
  @Optional() @Nested(() => HostPolicyStatus) status?: HostPolicyStatus;
}


/** Cross-field rules of a schema-valid policy (stricter than the CRD, listed in docs/policy-reference.md). */
export function hostPolicyProblems(policy: KubeArmorHostPolicy): FieldError[] {
  const out: FieldError[] = [];
  (policy.spec.process?.matchPaths ?? []).forEach((m, i) => {
    if ((m.path === undefined) === (m.execname === undefined)) {
      out.push({ field: `spec.process.matchPaths[${i}]`, reason: 'exactly one of path and execname must be set' });
    }
  });
  const sys = policy.spec.syscalls;
  for (const [block, items] of [['matchSyscalls', sys?.matchSyscalls], ['matchPaths', sys?.matchPaths]] as const) {
    (items ?? []).forEach((m, i) =>
      (m.fromSource ?? []).forEach((src, j) => {
        if (src.path === undefined && src.dir === undefined) {
          out.push({ field: `spec.syscalls.${block}[${i}].fromSource[${j}]`, reason: 'one of path and dir must be set' });
        }
      }),
    );
  }
  return out;
}
