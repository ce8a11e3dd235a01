import type { AaLogRecord } from './apparmor-record.js';

/** KubeArmor `Operation` values this parser produces. */
export type HostOperation = 'Process' | 'File' | 'Network' | 'Capabilities' | 'Syscall';
/** KubeArmor `Action`: Block = the LSM denied it; Audit = an audit rule logged it; Allow = it was allowed. */
export type HostAction = 'Allow' | 'Audit' | 'Block';
export type HostEnforcer = 'AppArmor' | 'SELinux' | 'Linux-audit';
/** KubeArmor `Type`: LSM decisions are policy matches, syscall records are logs, status records system events. */
export type HostEventType = 'MatchedHostPolicy' | 'HostLog' | 'SystemEvent';

export interface NetworkDetail {
  /** connect/accept/bind/listen/send/receive/socket, when the operation says so */
  direction?: 'connect' | 'accept' | 'bind' | 'listen' | 'send' | 'receive' | 'socket';
  /** address family as AppArmor names it: inet, inet6, unix, netlink, packet, … */
  family?: string;
  /** stream, dgram, raw, seqpacket, … */
  sockType?: string;
  /** tcp, udp, icmp, … (or unknown(N)) */
  protocol?: string;
  localAddr?: string;
  localPort?: number;
  peerAddr?: string;
  peerPort?: number;
  /** AF_UNIX socket path ("@name" for abstract sockets) */
  unixPath?: string;
}

export interface FileDetail {
  path: string;
  /** requested access: read, write, exec, append, create, delete, rename, link, lock, mmap, chmod, chown, … */
  access: string[];
  /** open(2) flags as names, when a syscall record gave them */
  flags?: string[];
  fsuid?: number;
  ouid?: number;
}

export interface ProcessDetail {
  exe?: string;
  comm?: string;
  argv?: string[];
  cwd?: string;
}

/** Who decided: the AppArmor profile, or the SELinux source/target types. */
export interface LsmDetail {
  /** AppArmor profile (label) that produced the record; the control plane maps it to a policy name. */
  profile?: string;
  peerProfile?: string;
  /** libapparmor event: DENIED, ALLOWED, AUDIT, … */
  aaEvent?: string;
  /** AppArmor operation (open, exec, connect, capable, …) */
  aaOperation?: string;
  requestedMask?: string;
  deniedMask?: string;
  scontextType?: string;
  tcontextType?: string;
  scontext?: string;
  tcontext?: string;
  tclass?: string;
  permissions?: string[];
  permissive?: boolean;
}

/**
 * A normalised host event, field for field the KubeArmor `Log`/`Alert` message (camelCase),
 * plus the structured details policy discovery and attribution need.
 */
export interface HostEvent {
  /** ISO 8601, when the record carried a time */
  timestamp?: string;
  timestampMs?: number;
  /** from node=, the syslog host or journald _HOSTNAME; callers may overwrite it */
  hostName?: string;
  hostPID?: number;
  hostPPID?: number;
  uid?: number;
  processName?: string;
  parentProcessName?: string;
  source?: string;
  operation: HostOperation;
  resource?: string;
  data?: string;
  action: HostAction;
  /** "Passed", "Permission denied", "Operation not permitted", … */
  result: string;
  enforcer: HostEnforcer;
  type: HostEventType;
  cwd?: string;
  lsm?: LsmDetail;
  network?: NetworkDetail;
  file?: FileDetail;
  process?: ProcessDetail;
  /** capability name for Capabilities events (e.g. net_bind_service) */
  capability?: string;
  /** syscall name when known (execve, openat, connect, …) */
  syscall?: string;
  /** the audit event this came from: (epoch, serial) identify it on its host */
  audit?: { id: string; epoch: number; serial: number; node?: string };
}

export interface SecurityContext {
  user: string;
  role: string;
  type: string;
  /** MLS/MCS level or range, kept whole (s0-s0:c0.c1023) */
  level?: string;
}

/** An SELinux AVC or USER_AVC record, read as sepolgen reads it. */
export interface SelinuxAvcRecord {
  kind: 'AVC' | 'USER_AVC';
  /** false when sepolgen would file it under invalid messages (missing contexts, class or permissions) */
  valid: boolean;
  /** "denied" (true) or "granted" (false) */
  denied: boolean;
  permissions: string[];
  scontext?: SecurityContext;
  tcontext?: SecurityContext;
  tclass?: string;
  permissive?: boolean;
  /** ioctlcmd as a number; absent when missing or not hex (sepolgen: None) */
  ioctlcmd?: number;
  pid?: number;
  comm?: string;
  exe?: string;
  name?: string;
  /** path= of the AVC itself, or the AVC_PATH record of the same event once joined */
  path?: string;
  /** all key=value fields of the message, hex-encoded values decoded */
  fields: Record<string, string>;
  audit_id?: string;
  epoch?: number;
  serial?: number;
  node?: string;
}

export interface SelinuxPathRecord {
  kind: 'AVC_PATH';
  path: string;
  audit_id?: string;
  epoch?: number;
  serial?: number;
  node?: string;
}

/** SELINUX_ERR security_compute_sid: an invalid context the policy refused to compute. */
export interface SelinuxComputeSidRecord {
  kind: 'SELINUX_ERR';
  valid: boolean;
  invalidContext?: SecurityContext;
  scontext?: SecurityContext;
  tcontext?: SecurityContext;
  tclass?: string;
  fields: Record<string, string>;
  audit_id?: string;
  epoch?: number;
  serial?: number;
  node?: string;
}

/** MAC_POLICY_LOAD, MAC_STATUS, other SELINUX_ERR messages: kept as fields. */
export interface SelinuxOtherRecord {
  kind: 'MAC_POLICY_LOAD' | 'MAC_STATUS' | 'SELINUX_ERR_OTHER';
  fields: Record<string, string>;
  audit_id?: string;
  epoch?: number;
  serial?: number;
  node?: string;
}

export type SelinuxRecord = SelinuxAvcRecord | SelinuxPathRecord | SelinuxComputeSidRecord | SelinuxOtherRecord;

/** One Linux-audit record (SYSCALL, EXECVE, PATH, …) with its fields decoded. */
export interface AuditRecord {
  /** record type name (SYSCALL) or, for unknown numbers, UNKNOWN[N] */
  type: string;
  audit_id: string;
  epoch: number;
  /** milliseconds part of the audit timestamp */
  ms: number;
  serial: number;
  node?: string;
  /** key=value fields in order of appearance; hex-encoded untrusted strings decoded */
  fields: Record<string, string>;
}

export interface UnparsedRecord {
  reason: 'empty' | 'too-long' | 'not-an-audit-record' | 'malformed-json' | 'truncated';
  /** characters in the line */
  length: number;
  /** the line's first characters, as data */
  text: string;
}

export type ParsedFormat = 'apparmor' | 'selinux' | 'audit' | 'unparsed';

export type ParseResult =
  | { format: 'apparmor'; record: AaLogRecord; event?: HostEvent; line?: number }
  | { format: 'selinux'; record: SelinuxRecord; event?: HostEvent; line?: number }
  | { format: 'audit'; record: AuditRecord; event?: HostEvent; line?: number }
  | { format: 'unparsed'; record: UnparsedRecord; event?: undefined; line?: number };
