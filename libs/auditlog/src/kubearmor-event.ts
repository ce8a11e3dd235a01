/**
 * HostEvent ⇄ the wire `Event` (proto/kvmservice/v1/event.proto): KubeArmor's Log/Alert fields at
 * the top, and everything the structured details hold flattened into `eventData` (string → string),
 * so that a reader gets the profile, contexts, masks, addresses, ports, access, argv, capability,
 * syscall and audit id without re-parsing `data`.
 *
 * The pair is exact: `fromWireEvent(toWireEvent(e, seq))` equals `e` for every event (absent members
 * stay absent). proto3 scalars cannot say "absent", so two markers in `eventData` keep what the
 * top-level fields lose: `_unset` lists numeric members that were absent (a 0 UID is root, not
 * unknown), `_empty` lists string members that were present but empty and detail objects that were
 * present with nothing in them. Pure: no I/O, no clock.
 */
import type { FileDetail, HostAction, HostEnforcer, HostEvent, HostEventType, HostOperation, LsmDetail, NetworkDetail, ProcessDetail } from './types.js';

/** The wire Event as a plain object (camelCase, as @grpc/proto-loader gives it), every field set. */
export interface KubeArmorWireEvent {
  /** Unix time in nanoseconds (0 = unknown). */
  timestamp: number;
  updatedTime: string;
  clusterName: string;
  hostName: string;
  hostPpid: number;
  hostPid: number;
  ppid: number;
  pid: number;
  uid: number;
  parentProcessName: string;
  processName: string;
  policyName: string;
  severity: string;
  tags: string;
  atags: string[];
  message: string;
  type: string;
  source: string;
  operation: string;
  resource: string;
  data: string;
  eventData: Record<string, string>;
  enforcer: string;
  action: string;
  result: string;
  cwd: string;
  seq: number;
}

/** What `fromWireEvent` reads: any Event-shaped object (generated `Event__Output`, JSON, …). */
export type WireEventInput = Partial<Omit<KubeArmorWireEvent, 'timestamp' | 'seq' | 'eventData'>> & {
  timestamp?: number | string | { toString(): string };
  seq?: number | string | { toString(): string };
  eventData?: Record<string, string> | null;
};

type Kind = 'string' | 'number' | 'boolean' | 'strings';
type Spec<T> = readonly (readonly [keyof T & string, Kind])[];

const LSM: Spec<LsmDetail> = [
  ['profile', 'string'],
  ['peerProfile', 'string'],
  ['aaEvent', 'string'],
  ['aaOperation', 'string'],
  ['requestedMask', 'string'],
  ['deniedMask', 'string'],
  ['scontextType', 'string'],
  ['tcontextType', 'string'],
  ['scontext', 'string'],
  ['tcontext', 'string'],
  ['tclass', 'string'],
  ['permissions', 'strings'],
  ['permissive', 'boolean'],
];
const NETWORK: Spec<NetworkDetail> = [
  ['direction', 'string'],
  ['family', 'string'],
  ['sockType', 'string'],
  ['protocol', 'string'],
  ['localAddr', 'string'],
  ['localPort', 'number'],
  ['peerAddr', 'string'],
  ['peerPort', 'number'],
  ['unixPath', 'string'],
];
const FILE: Spec<FileDetail> = [
  ['path', 'string'],
  ['access', 'strings'],
  ['flags', 'strings'],
  ['fsuid', 'number'],
  ['ouid', 'number'],
];
const PROCESS: Spec<ProcessDetail> = [
  ['exe', 'string'],
  ['comm', 'string'],
  ['argv', 'strings'],
  ['cwd', 'string'],
];
const AUDIT: Spec<NonNullable<HostEvent['audit']>> = [
  ['id', 'string'],
  ['epoch', 'number'],
  ['serial', 'number'],
  ['node', 'string'],
];

const DETAILS = [
  ['lsm', LSM],
  ['network', NETWORK],
  ['file', FILE],
  ['process', PROCESS],
  ['audit', AUDIT],
] as const;

/** Top-level string members and their wire fields. */
const STRINGS = [
  ['timestamp', 'updatedTime'],
  ['hostName', 'hostName'],
  ['processName', 'processName'],
  ['parentProcessName', 'parentProcessName'],
  ['source', 'source'],
  ['resource', 'resource'],
  ['data', 'data'],
  ['cwd', 'cwd'],
  ['capability', 'capability'],
  ['syscall', 'syscall'],
] as const;

/** Members kept in eventData rather than a wire field of their own. */
const DATA_ONLY = new Set(['capability', 'syscall']);

const UNSET = '_unset';
const EMPTY = '_empty';
const NS_PER_MS = 1e6;

function encode(value: unknown, kind: Kind): string | undefined {
  if (value === undefined) return undefined;
  switch (kind) {
    case 'string':
      return String(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'strings':
      return JSON.stringify(value);
  }
}

function decode(text: string, kind: Kind): unknown {
  switch (kind) {
    case 'string':
      return text;
    case 'number': {
      const n = Number(text);
      return text.trim() !== '' && Number.isFinite(n) ? n : undefined;
    }
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : undefined;
    case 'strings':
      try {
        const parsed: unknown = JSON.parse(text);
        return Array.isArray(parsed) && parsed.every((s) => typeof s === 'string') ? parsed : undefined;
      } catch {
        return undefined;
      }
  }
}

/** The HostEvent as a wire Event with sequence number `seq`. */
export function toWireEvent(e: HostEvent, seq: number): KubeArmorWireEvent {
  const data: Record<string, string> = {};
  const unset: string[] = [];
  const empty: string[] = [];
  for (const [name, spec] of DETAILS) {
    const detail = e[name] as Record<string, unknown> | undefined;
    if (detail === undefined) continue;
    let fields = 0;
    for (const [key, kind] of spec) {
      const text = encode(detail[key], kind);
      if (text === undefined) continue;
      data[`${name}.${key}`] = text;
      fields++;
    }
    if (fields === 0) empty.push(name);
  }
  const strings: Record<string, string> = {};
  for (const [member, field] of STRINGS) {
    const value = e[member];
    if (value === undefined) continue;
    if (value === '') empty.push(member);
    if (DATA_ONLY.has(member)) data[member] = value;
    else strings[field] = value;
  }
  for (const member of ['timestampMs', 'hostPID', 'hostPPID', 'uid'] as const) if (e[member] === undefined) unset.push(member);

  let timestamp = 0;
  if (e.timestampMs !== undefined) {
    timestamp = Math.round(e.timestampMs * NS_PER_MS);
    // Whole milliseconds come back from nanoseconds exactly; anything finer travels as text.
    if (Math.round(timestamp / NS_PER_MS) !== e.timestampMs) data.timestampMs = String(e.timestampMs);
  }
  if (unset.length > 0) data[UNSET] = unset.join(',');
  if (empty.length > 0) data[EMPTY] = empty.join(',');
  return {
    timestamp,
    updatedTime: strings.updatedTime ?? '',
    clusterName: '',
    hostName: strings.hostName ?? '',
    hostPpid: e.hostPPID ?? 0,
    hostPid: e.hostPID ?? 0,
    ppid: e.hostPPID ?? 0,
    pid: e.hostPID ?? 0,
    uid: e.uid ?? 0,
    parentProcessName: strings.parentProcessName ?? '',
    processName: strings.processName ?? '',
    policyName: '',
    severity: '',
    tags: '',
    atags: [],
    message: '',
    type: e.type,
    source: strings.source ?? '',
    operation: e.operation,
    resource: strings.resource ?? '',
    data: strings.data ?? '',
    eventData: data,
    enforcer: e.enforcer,
    action: e.action,
    result: e.result,
    cwd: strings.cwd ?? '',
    seq,
  };
}

const OPERATIONS: readonly HostOperation[] = ['Process', 'File', 'Network', 'Capabilities', 'Syscall'];
const ACTIONS: readonly HostAction[] = ['Allow', 'Audit', 'Block'];
const ENFORCERS: readonly HostEnforcer[] = ['AppArmor', 'SELinux', 'Linux-audit'];
const TYPES: readonly HostEventType[] = ['MatchedHostPolicy', 'HostLog', 'SystemEvent'];

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

function toNumber(value: number | string | { toString(): string } | undefined): number {
  if (value === undefined) return 0;
  const n = typeof value === 'number' ? value : Number(value.toString());
  return Number.isFinite(n) ? n : 0;
}

/**
 * A wire Event back as a HostEvent. Total: any Event-shaped input gives an event (an unknown
 * operation, action, enforcer or type becomes Syscall, Audit, Linux-audit, SystemEvent).
 */
export function fromWireEvent(w: WireEventInput): HostEvent {
  const data = w.eventData ?? {};
  const unset = new Set((data[UNSET] ?? '').split(',').filter((s) => s !== ''));
  const empty = new Set((data[EMPTY] ?? '').split(',').filter((s) => s !== ''));
  const e: HostEvent = {
    operation: oneOf(w.operation, OPERATIONS, 'Syscall'),
    action: oneOf(w.action, ACTIONS, 'Audit'),
    result: w.result ?? '',
    enforcer: oneOf(w.enforcer, ENFORCERS, 'Linux-audit'),
    type: oneOf(w.type, TYPES, 'SystemEvent'),
  };
  if (!unset.has('timestampMs')) {
    const fine = data.timestampMs !== undefined ? Number(data.timestampMs) : NaN;
    e.timestampMs = Number.isFinite(fine) ? fine : Math.round(toNumber(w.timestamp) / NS_PER_MS);
  }
  if (!unset.has('hostPID')) e.hostPID = w.hostPid || w.pid || 0;
  if (!unset.has('hostPPID')) e.hostPPID = w.hostPpid || w.ppid || 0;
  if (!unset.has('uid')) e.uid = w.uid ?? 0;
  const wire = w as Record<string, unknown>;
  for (const [member, field] of STRINGS) {
    const value = DATA_ONLY.has(member) ? data[member] : wire[field];
    if (typeof value === 'string' && (value !== '' || empty.has(member))) e[member] = value;
  }
  for (const [name, spec] of DETAILS) {
    const detail: Record<string, unknown> = {};
    let fields = 0;
    for (const [key, kind] of spec) {
      const text = data[`${name}.${key}`];
      if (text === undefined) continue;
      const value = decode(text, kind);
      if (value === undefined) continue;
      detail[key] = value;
      fields++;
    }
    if (fields === 0 && !empty.has(name)) continue;
    if (name === 'file') {
      detail.path ??= '';
      detail.access ??= [];
    }
    if (name === 'audit') {
      detail.id ??= '';
      detail.epoch ??= 0;
      detail.serial ??= 0;
    }
    (e as unknown as Record<string, unknown>)[name] = detail;
  }
  return e;
}
