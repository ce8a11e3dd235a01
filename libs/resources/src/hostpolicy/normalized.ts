/**
 * The normalised view of a KubeArmorHostPolicy: what renderers, the evaluator and discovery work
 * on. The user's object stays as written (see `kubearmor-host-policy.ts`); this view applies
 * upstream's daemon-side rules (`ParseAndUpdateHostSecurityPolicy`): actions case-folded and
 * defaulted to Block, comma lists expanded into one rule each, severity/tags/message/action
 * inherited item ← block ← policy, protocols lower-cased.
 */

export type PolicyAction = 'Allow' | 'Audit' | 'Block';

export const NETWORK_PROTOCOLS = [
  'tcp', 'udp', 'raw', 'icmp', 'icmpv6', 'sctp', 'stream', 'dgram', 'rdm', 'seqpacket', 'dccp', 'packet', 'all',
] as const;
export type NetworkProtocol = (typeof NETWORK_PROTOCOLS)[number];

export const CAPABILITIES = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap',
  'linux_immutable', 'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner',
  'sys_module', 'sys_rawio', 'sys_chroot', 'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice',
  'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease', 'audit_write', 'audit_control', 'setfcap',
  'mac_override', 'mac_admin',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** What a process or file rule matches. */
export type PathTarget =
  | { kind: 'path'; path: string }
  /** `execname`: a binary name anywhere on the file system (AppArmor: `/**\/<name>`). */
  | { kind: 'execname'; name: string }
  | { kind: 'dir'; dir: string; recursive: boolean }
  | { kind: 'pattern'; pattern: string };

interface RuleBase {
  /** Name of the policy the rule came from. */
  policy: string;
  /** Where in the policy the rule was written, e.g. `spec.file.matchPaths[0]`. */
  field: string;
  action: PolicyAction;
  /** 1..10; undefined when set nowhere (upstream never defaults severity). */
  severity?: number;
  tags: string[];
  message?: string;
}

export interface ProcessRule extends RuleBase {
  class: 'process';
  target: PathTarget;
  /** Absolute paths of the binaries the rule is limited to; empty = every process on the host. */
  fromSource: string[];
  ownerOnly: boolean;
  pts: boolean;
  allowedArgs: string[];
}

export interface FileRule extends RuleBase {
  class: 'file';
  target: PathTarget;
  fromSource: string[];
  readOnly: boolean;
  ownerOnly: boolean;
  pts: boolean;
}

export interface NetworkRule extends RuleBase {
  class: 'network';
  protocol: NetworkProtocol;
  fromSource: string[];
}

export interface DnsRule extends RuleBase {
  class: 'dns';
  domain: string;
  fromSource: string[];
}

export interface CapabilityRule extends RuleBase {
  class: 'capability';
  capability: Capability;
  fromSource: string[];
}

/** A syscall source: a binary, or the binaries under a directory. */
export type SyscallSource = { path: string } | { dir: string; recursive: boolean };

export interface SyscallRule extends RuleBase {
  class: 'syscall';
  /** Syscall audits are always Audit upstream, whatever the policy says. */
  action: 'Audit';
  syscalls: string[];
  /** Limits the rule to syscalls on this path (`syscalls.matchPaths`). */
  path?: { path: string; recursive: boolean };
  fromSource: SyscallSource[];
}

export interface DeviceRule extends RuleBase {
  class: 'device';
  deviceClass: string;
  subClass?: number;
  protocol?: number;
  level?: number;
}

export type HostPolicyRule = ProcessRule | FileRule | NetworkRule | DnsRule | CapabilityRule | SyscallRule | DeviceRule;

export interface NormalizedHostPolicy {
  name: string;
  /** The store revision of the policy's last write, when it came from the store. */
  resourceVersion?: string;
  uid?: string;
  nodeSelector: Record<string, string>;
  /** Policy-level action after defaulting (Block when unset). */
  action: PolicyAction;
  rules: HostPolicyRule[];
  /** `spec.apparmor`: native AppArmor rules, used only when a renderer is explicitly told to. */
  apparmor?: string;
}
