/**
 * What one HostEvent says a program did, in the terms a KubeArmorHostPolicy can allow: an exec,
 * a file access (read / write / map, owner or not), a network protocol, a capability, and for the
 * host firewall a connection (egress to a peer, ingress on a local port, a listening port). An
 * event that says nothing a policy can express is skipped with a reason, which the model counts.
 */
import type { HostEvent, NetworkDetail } from '@kvmservice/auditlog';
import { ipprotoName } from '@kvmservice/auditlog';
import { CAPABILITIES, type Capability, type NetworkProtocol } from '@kvmservice/resources';
import { canonicalPath, unsafePathReason } from './paths.js';

/** Access bits of a file observation. Read-only rules cover READ; MAP (mmap exec) and WRITE need a full rule. */
export const ACCESS_READ = 1;
export const ACCESS_WRITE = 2;
export const ACCESS_MAP = 4;

export type SkipReason =
  | 'systemEvent'
  | 'notMediated'
  | 'changeProfile'
  | 'noPath'
  | 'relativePath'
  | 'unsafePath'
  | 'directoryTraversal'
  | 'unixSocket'
  | 'unknownProtocol'
  | 'unknownCapability';

export const SKIP_REASONS: readonly SkipReason[] = [
  'systemEvent',
  'notMediated',
  'changeProfile',
  'noPath',
  'relativePath',
  'unsafePath',
  'directoryTraversal',
  'unixSocket',
  'unknownProtocol',
  'unknownCapability',
];

/** Connection direction of the host firewall model. */
export type ConnDirection = 'egress' | 'ingress' | 'ingressPeer' | 'listen';
/** ANY: the port is known but not the protocol (Linux audit's connect/bind records name no socket type) */
export type L4Protocol = 'TCP' | 'UDP' | 'SCTP' | 'ANY';

export interface Connection {
  direction: ConnDirection;
  protocol: L4Protocol;
  /** peer address (egress, ingress, ingressPeer); '' when unknown */
  addr: string;
  /** peer port (egress) or local port (ingress, listen); 0 when unknown */
  port: number;
  /** the program (listen and ingressPeer only: an accepted peer without a local port belongs to that program's listening ports) */
  source?: string;
}

export type Observation =
  | { kind: 'exec'; path: string }
  | { kind: 'file'; path: string; access: number; notOwner: boolean }
  | { kind: 'protocol'; protocol: NetworkProtocol }
  | { kind: 'capability'; capability: Capability }
  | { kind: 'conn'; conn: Connection };

const READ_WORDS = new Set(['read', 'open', 'getattr', 'access', 'lock', 'link', 'readlink', 'search', 'ioctl', 'inherit']);
const MAP_WORDS = new Set(['mmap', 'exec']);

/** Access bits for the access words of a FileDetail. Unknown words count as writes (the wider rule). */
export function accessBits(access: readonly string[]): number {
  if (access.length === 0) return ACCESS_READ;
  let bits = 0;
  for (const a of access) {
    if (READ_WORDS.has(a)) bits |= ACCESS_READ;
    else if (MAP_WORDS.has(a)) bits |= ACCESS_MAP;
    else bits |= ACCESS_WRITE;
  }
  return bits;
}

/** Owner when the record gave both uids and they agree (aa-logprof's `owner`); the `r::` mask form says so too. */
function isOwner(event: HostEvent): boolean {
  const f = event.file;
  const mask = event.lsm?.requestedMask ?? event.lsm?.deniedMask;
  if (mask !== undefined && mask.includes('::')) return !mask.startsWith('::');
  return f?.fsuid !== undefined && f.ouid !== undefined && f.fsuid === f.ouid;
}

const KNOWN_CAPABILITIES = new Set<string>(CAPABILITIES);
const INET_PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'dccp']);
const SOCKET_TYPES = new Set(['stream', 'dgram', 'raw', 'seqpacket', 'rdm']);
const CHANGE_OPERATIONS = new Set(['change_profile', 'change_onexec', 'change_hat']);

/** The protocol name of a NetworkDetail: `6` → tcp, `ip`/`unknown(N)` → undefined. */
function protocolName(p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  const name = /^[0-9]+$/.test(p) ? ipprotoName(Number(p)) : p.toLowerCase();
  return name === 'ip' || name.startsWith('unknown') ? undefined : name;
}

/** SELinux socket classes that name a protocol where the AVC gives no family. */
const SELINUX_CLASS_PROTOCOLS: Record<string, NetworkProtocol> = {
  rawip_socket: 'raw',
  packet_socket: 'packet',
  icmp_socket: 'icmp',
  sctp_socket: 'sctp',
  dccp_socket: 'dccp',
};

/** The KubeArmor protocol of a socket, or why there is none. */
export function networkProtocol(n: NetworkDetail, tclass?: string): NetworkProtocol | 'unixSocket' | 'unknownProtocol' {
  const proto = protocolName(n.protocol);
  const family = n.family ?? (proto !== undefined && INET_PROTOCOLS.has(proto) ? 'inet' : undefined);
  const type = n.sockType;
  if (family === 'unix' || (tclass !== undefined && tclass.startsWith('unix_'))) return 'unixSocket';
  if (family === 'inet' || family === 'inet6') {
    if (proto !== undefined && INET_PROTOCOLS.has(proto)) return proto as NetworkProtocol;
    if (type === 'stream') return 'tcp';
    if (type === 'dgram') return 'udp';
    if (type === 'raw') return 'raw';
    if (type === 'seqpacket') return 'seqpacket';
    return 'unknownProtocol';
  }
  if (family === 'packet') return 'packet';
  if (family !== undefined) return type !== undefined && SOCKET_TYPES.has(type) ? (type as NetworkProtocol) : 'unknownProtocol';
  const byClass = tclass !== undefined ? SELINUX_CLASS_PROTOCOLS[tclass] : undefined;
  return byClass ?? 'unknownProtocol';
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; `none`/empty → ''. */
export function canonicalAddress(addr: string | undefined): string {
  if (addr === undefined || addr === '' || addr === 'none') return '';
  const lower = addr.toLowerCase();
  if (lower.startsWith('::ffff:') && /^\d+\.\d+\.\d+\.\d+$/.test(lower.slice(7))) return lower.slice(7);
  return lower;
}

/** The L4 protocol of a socket: from its protocol, or — when the record names none — from what it did. */
function l4Of(protocol: NetworkProtocol | undefined, n: NetworkDetail): L4Protocol | undefined {
  if (protocol === 'tcp') return 'TCP';
  if (protocol === 'udp') return 'UDP';
  if (protocol === 'sctp') return 'SCTP';
  if (protocol !== undefined) return undefined;
  if (n.family !== 'inet' && n.family !== 'inet6') return undefined;
  // only connection-oriented sockets accept
  return n.direction === 'accept' || n.direction === 'listen' ? 'TCP' : 'ANY';
}

/** The host-firewall connection an event shows, if any. */
function connectionOf(n: NetworkDetail, protocol: NetworkProtocol | undefined): Connection | undefined {
  const l4 = l4Of(protocol, n);
  if (!l4) return undefined;
  const peer = canonicalAddress(n.peerAddr);
  const peerPort = n.peerPort ?? 0;
  const localPort = n.localPort ?? 0;
  switch (n.direction) {
    case 'connect':
      return peerPort > 0 ? { direction: 'egress', protocol: l4, addr: peer, port: peerPort } : undefined;
    case 'send':
      // a UDP sendto names its peer; a TCP send runs on a connection seen at connect/accept
      return (l4 === 'UDP' || l4 === 'ANY') && peerPort > 0 ? { direction: 'egress', protocol: l4, addr: peer, port: peerPort } : undefined;
    case 'accept':
      if (localPort > 0) return { direction: 'ingress', protocol: l4, addr: peer, port: localPort };
      return peer !== '' ? { direction: 'ingressPeer', protocol: l4, addr: peer, port: 0 } : undefined;
    case 'bind':
    case 'listen':
      return localPort > 0 ? { direction: 'listen', protocol: l4, addr: '', port: localPort } : undefined;
    default:
      return undefined;
  }
}

export type EventReading = { observations: Observation[] } | { skip: SkipReason };

/**
 * Canonical path or why it is unusable, per path text. Hosts touch the same paths over and over,
 * so most events skip the checks; the cache is dropped whole when full (bounded memory).
 */
const pathCache = new Map<string, string | SkipReason>();
const PATH_CACHE_LIMIT = 32_768;

/** `/proc/<pid>/…`, `/proc/self/…`, `/proc/<pid>/task/<tid>/…`: the process-specific parts. */
const PROC_PID = /^\/proc\/(?:\d+|self|thread-self)(?=\/|$)(\/task\/\d+(?=\/|$))?/;

/**
 * Per-process /proc paths are kept with the pid as `*` (`/proc/*\/cmdline`, aa-logprof's glob):
 * every process has other pids, so the literal path would never repeat and would fill the model.
 */
export function procPidGlob(path: string): string {
  if (!path.startsWith('/proc/')) return path;
  return path.replace(PROC_PID, (_m, task: string | undefined) => `/proc/*${task ? '/task/*' : ''}`);
}

function usablePath(raw: string): string | SkipReason {
  const hit = pathCache.get(raw);
  if (hit !== undefined) return hit;
  const path = canonicalPath(raw);
  const out: string | SkipReason = path === undefined ? 'relativePath' : unsafePathReason(path) !== undefined ? 'unsafePath' : procPidGlob(path);
  if (pathCache.size >= PATH_CACHE_LIMIT) pathCache.clear();
  pathCache.set(raw, out);
  return out;
}

/** What `event` shows, or why it shows nothing a policy can express. Never throws. */
export function readEvent(event: HostEvent): EventReading {
  if (event.type === 'SystemEvent') return { skip: 'systemEvent' };
  const aaOp = event.lsm?.aaOperation;
  if (aaOp !== undefined && CHANGE_OPERATIONS.has(aaOp)) return { skip: 'changeProfile' };
  switch (event.operation) {
    case 'Process':
    case 'File': {
      const raw = event.file?.path;
      if (raw === undefined || raw === '') return { skip: 'noPath' };
      const usable = usablePath(raw);
      if (usable === 'relativePath' || usable === 'unsafePath') return { skip: usable };
      let path = usable;
      const notOwner = !isOwner(event);
      if (event.operation === 'Process') {
        if (path.endsWith('/')) return { skip: 'noPath' };
        return { observations: [{ kind: 'exec', path }] };
      }
      const tclass = event.lsm?.tclass;
      if (tclass === 'dir' && !path.endsWith('/')) path = `${path}/`;
      const access = event.file?.access ?? [];
      // Walking through a directory (SELinux `search`, a stat of it) is not an access a file rule governs.
      if (path.endsWith('/') && access.length > 0 && access.every((a) => a === 'search' || a === 'getattr')) return { skip: 'directoryTraversal' };
      return { observations: [{ kind: 'file', path, access: accessBits(access), notOwner }] };
    }
    case 'Capabilities': {
      const cap = event.capability?.toLowerCase();
      if (cap === undefined || !KNOWN_CAPABILITIES.has(cap)) return { skip: 'unknownCapability' };
      return { observations: [{ kind: 'capability', capability: cap as Capability }] };
    }
    case 'Network': {
      const n = event.network;
      if (!n) return { skip: 'unknownProtocol' };
      const found = networkProtocol(n, event.lsm?.tclass);
      if (found === 'unixSocket') return { skip: found };
      const protocol = found === 'unknownProtocol' ? undefined : found;
      const observations: Observation[] = protocol ? [{ kind: 'protocol', protocol }] : [];
      const conn = connectionOf(n, protocol);
      if (conn) observations.push({ kind: 'conn', conn });
      return observations.length > 0 ? { observations } : { skip: 'unknownProtocol' };
    }
    default:
      return { skip: 'notMediated' };
  }
}
