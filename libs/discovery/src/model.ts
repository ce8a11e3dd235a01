/**
 * The observed-behaviour model of one host: per source binary what it executed, which files it
 * touched and how, which protocols and capabilities it used; for the host firewall the
 * connections it made and accepted; DNS answers; and, from Hubble, the flows of the workloads on
 * the host. Incremental (`observeEvents`, `observeFlows` update it in place), bounded (limits per
 * host; what does not fit is counted in `stats.overflow`, never dropped silently), and plain data
 * that `serializeModel` / `parseModel` round-trip and `mergeModels` combines. No clock: times come
 * from the events, or from `nowMs` when an event has none. Times are epoch seconds.
 */
import type { HostEvent } from '@kvmservice/auditlog';
import { flowPeer, peerKey, type WorkloadEndpoint } from './flow-peers.js';
import type { HubbleFlow } from './hubble.js';
import { readEvent, SKIP_REASONS, type Connection, type SkipReason } from './observation.js';
import { sourceOf, type SourceResolver } from './source.js';

export const MODEL_VERSION = 1;

/** How often, when, and how often denied. */
export interface Seen {
  count: number;
  /** epoch seconds */
  first: number;
  last: number;
  /** observations whose event the LSM blocked */
  blocked: number;
}

export interface FileSeen extends Seen {
  /** ACCESS_READ | ACCESS_WRITE | ACCESS_MAP */
  access: number;
  /** some access was not by the file's owner (or ownership was unknown) */
  notOwner: boolean;
}

export interface SourceModel {
  seen: Seen;
  exec: Map<string, Seen>;
  files: Map<string, FileSeen>;
  protocols: Map<string, Seen>;
  capabilities: Map<string, Seen>;
}

export interface FlowSeen extends Seen {
  /** `METHOD /path` (a trailing `?` notes that requests carried a query) → seen */
  http: Map<string, Seen>;
}

export interface ModelLimits {
  /** distinct source binaries per host (default 1024) */
  maxSources: number;
  /** entries of every kind together (default 20 000) */
  maxEntries: number;
  /** size of the serialised model in bytes, never exceeded (default 768 KiB, so it stays well under 1 MiB) */
  maxBytes: number;
}

export const DEFAULT_LIMITS: ModelLimits = { maxSources: 1024, maxEntries: 20_000, maxBytes: 768 * 1024 };

export const OVERFLOW_KINDS = ['sources', 'exec', 'files', 'protocols', 'capabilities', 'conns', 'dns', 'endpoints', 'flows', 'http'] as const;
export type OverflowKind = (typeof OVERFLOW_KINDS)[number];

export const FLOW_SKIP_REASONS = ['reply', 'verdict', 'noPorts', 'icmp', 'noEndpoint'] as const;
export type FlowSkipReason = (typeof FLOW_SKIP_REASONS)[number];

export interface ModelStats {
  /** events offered to observeEvents */
  events: number;
  /** events that led to at least one observation */
  observed: number;
  /** of those, events the LSM blocked */
  blocked: number;
  /** events without a source binary (kept under the source '') */
  unattributed: number;
  skipped: Record<SkipReason, number>;
  /** observations that did not fit the limits, by kind */
  overflow: Record<OverflowKind, number>;
  /** events per enforcer (AppArmor, SELinux, Linux-audit) */
  enforcers: Record<string, number>;
  /** flows offered to observeFlows */
  flows: number;
  flowsSkipped: Record<FlowSkipReason, number>;
}

export interface HostModel {
  version: typeof MODEL_VERSION;
  host: string;
  /** epoch seconds of the first and last observation; 0 when none */
  first: number;
  last: number;
  sources: Map<string, SourceModel>;
  /** host firewall connections: `direction|protocol|addr|port[|source]` (see connKey) */
  conns: Map<string, Seen>;
  /** address → DNS names seen resolving to it */
  dns: Map<string, Map<string, Seen>>;
  /** workload endpoints seen in flows, by endpointKey */
  endpoints: Map<string, WorkloadEndpoint>;
  /** `srcPeer>dstPeer|protocol|port` → seen */
  flows: Map<string, FlowSeen>;
  stats: ModelStats;
  limits: ModelLimits;
  /** entries counted against maxEntries */
  entries: number;
  /** estimated serialised size counted against maxBytes */
  bytes: number;
}

export interface ObserveOptions {
  /** maps an event to its source binary before the event's own fields are tried */
  sourceResolver?: SourceResolver;
}

const zeroRecord = <K extends string>(keys: readonly K[]): Record<K, number> => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

export function emptyStats(skipReasons: readonly SkipReason[]): ModelStats {
  return {
    events: 0,
    observed: 0,
    blocked: 0,
    unattributed: 0,
    skipped: zeroRecord(skipReasons),
    overflow: zeroRecord(OVERFLOW_KINDS),
    enforcers: {},
    flows: 0,
    flowsSkipped: zeroRecord(FLOW_SKIP_REASONS),
  };
}

/** Bytes `s` takes inside a JSON string (UTF-8, escapes), never less than the real size. */
export function jsonBytes(s: string): number {
  let n = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20) n += 6;
    else if (c === 0x22 || c === 0x5c) n += 2;
    else if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else n += 3;
  }
  return n;
}

/** Serialised size of one entry besides its key: `:[count,first,last,blocked,…],` */
export const ENTRY_OVERHEAD = 56;
/** Serialised size of a source besides its key and entries. */
export const SOURCE_OVERHEAD = 160;
/** Serialised size of a model without entries. */
export const MODEL_OVERHEAD = 1024;

export function createHostModel(host: string, limits: Partial<ModelLimits> = {}): HostModel {
  return {
    version: MODEL_VERSION,
    host,
    first: 0,
    last: 0,
    sources: new Map(),
    conns: new Map(),
    dns: new Map(),
    endpoints: new Map(),
    flows: new Map(),
    stats: emptyStats(SKIP_REASONS),
    limits: { ...DEFAULT_LIMITS, ...limits },
    entries: 0,
    bytes: MODEL_OVERHEAD + jsonBytes(host),
  };
}

/** Room for one more entry of `bytes`; counts the overflow when there is none. */
export function reserve(model: HostModel, kind: OverflowKind, bytes: number): boolean {
  if (model.entries + 1 > model.limits.maxEntries || model.bytes + bytes > model.limits.maxBytes) {
    model.stats.overflow[kind]++;
    return false;
  }
  model.entries++;
  model.bytes += bytes;
  return true;
}

function touch(s: Seen, t: number, blocked: boolean): void {
  s.count++;
  if (t < s.first) s.first = t;
  if (t > s.last) s.last = t;
  if (blocked) s.blocked++;
}

function newSeen(t: number, blocked: boolean): Seen {
  return { count: 1, first: t, last: t, blocked: blocked ? 1 : 0 };
}

/** Adds to `map[key]`, creating the entry when it fits. False when it did not fit. */
function bump(model: HostModel, kind: OverflowKind, map: Map<string, Seen>, key: string, t: number, blocked: boolean): Seen | undefined {
  const s = map.get(key);
  if (s) {
    touch(s, t, blocked);
    return s;
  }
  if (!reserve(model, kind, jsonBytes(key) + ENTRY_OVERHEAD)) return undefined;
  const created = newSeen(t, blocked);
  map.set(key, created);
  return created;
}

export function sourceModelOf(model: HostModel, source: string, t: number): SourceModel | undefined {
  let s = model.sources.get(source);
  if (s) return s;
  if (model.sources.size >= model.limits.maxSources || model.bytes + SOURCE_OVERHEAD + jsonBytes(source) > model.limits.maxBytes) {
    model.stats.overflow.sources++;
    return undefined;
  }
  model.bytes += SOURCE_OVERHEAD + jsonBytes(source);
  s = { seen: { count: 0, first: t, last: t, blocked: 0 }, exec: new Map(), files: new Map(), protocols: new Map(), capabilities: new Map() };
  model.sources.set(source, s);
  return s;
}

/** `direction|protocol|addr|port`, plus `|source` for listeners and accepted peers without a port. */
export function connKey(c: Connection, source: string): string {
  const base = `${c.direction}|${c.protocol}|${c.addr}|${c.port}`;
  return c.direction === 'listen' || c.direction === 'ingressPeer' ? `${base}|${source}` : base;
}

function stamp(model: HostModel, t: number): void {
  if (model.first === 0 || t < model.first) model.first = t;
  if (t > model.last) model.last = t;
}

/**
 * Adds events to the model in place. `nowMs` (the caller's clock) stands in for events without
 * a time. Returns the model's stats.
 */
export function observeEvents(model: HostModel, events: Iterable<HostEvent>, nowMs: number, options: ObserveOptions = {}): ModelStats {
  const stats = model.stats;
  const fallback = Math.floor(nowMs / 1000);
  for (const event of events) {
    stats.events++;
    stats.enforcers[event.enforcer] = (stats.enforcers[event.enforcer] ?? 0) + 1;
    const reading = readEvent(event);
    if ('skip' in reading) {
      stats.skipped[reading.skip]++;
      continue;
    }
    const t = event.timestampMs !== undefined && Number.isFinite(event.timestampMs) ? Math.floor(event.timestampMs / 1000) : fallback;
    const blocked = event.action === 'Block';
    const source = sourceOf(event, options.sourceResolver) ?? '';
    let src: SourceModel | undefined;
    let any = false;
    for (const o of reading.observations) {
      if (o.kind === 'conn') {
        if (bump(model, 'conns', model.conns, connKey(o.conn, source), t, blocked)) any = true;
        continue;
      }
      src ??= sourceModelOf(model, source, t);
      if (!src) break;
      switch (o.kind) {
        case 'exec':
          if (bump(model, 'exec', src.exec, o.path, t, blocked)) any = true;
          break;
        case 'file': {
          const f = bump(model, 'files', src.files as Map<string, Seen>, o.path, t, blocked) as FileSeen | undefined;
          if (f) {
            f.access = (f.access ?? 0) | o.access;
            f.notOwner = (f.notOwner ?? false) || o.notOwner;
            any = true;
          }
          break;
        }
        case 'protocol':
          if (bump(model, 'protocols', src.protocols, o.protocol, t, blocked)) any = true;
          break;
        case 'capability':
          if (bump(model, 'capabilities', src.capabilities, o.capability, t, blocked)) any = true;
          break;
      }
    }
    if (src) touch(src.seen, t, blocked);
    if (any) {
      stats.observed++;
      if (blocked) stats.blocked++;
      if (source === '') stats.unattributed++;
      stamp(model, t);
    }
  }
  return stats;
}

/** Records that DNS resolved `name` to `addr` (from Hubble, or any other source the caller has). */
export function observeDnsAnswer(model: HostModel, name: string, addrs: Iterable<string>, nowMs: number): void {
  const t = Math.floor(nowMs / 1000);
  const clean = name.endsWith('.') ? name.slice(0, -1).toLowerCase() : name.toLowerCase();
  // what toFQDNs.matchName accepts (Cilium's `^([-a-zA-Z0-9_]+[.]?)+$`, written without nested quantifiers)
  if (clean.length === 0 || clean.length > 253 || !/^[-a-z0-9_]+(?:\.[-a-z0-9_]+)*$/.test(clean)) return;
  for (const raw of addrs) {
    const addr = raw.toLowerCase();
    let names = model.dns.get(addr);
    if (!names) {
      if (!reserve(model, 'dns', jsonBytes(addr) + 8)) continue;
      names = new Map();
      model.dns.set(addr, names);
    }
    bump(model, 'dns', names, clean, t, false);
  }
}

const PASSING_VERDICTS = new Set(['FORWARDED', 'AUDIT', 'REDIRECTED']);
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

function httpKey(method: string | undefined, url: string | undefined): string | undefined {
  if (method === undefined || url === undefined || !HTTP_METHODS.has(method.toUpperCase())) return undefined;
  let path: string;
  let query = false;
  try {
    const u = new URL(url, 'http://host.invalid');
    path = u.pathname;
    query = u.search !== '';
  } catch {
    return undefined;
  }
  if (!path.startsWith('/')) return undefined;
  return `${method.toUpperCase()} ${path}${query ? '?' : ''}`;
}

/**
 * Adds Hubble flows in place: DNS answers, then (for flows that are not replies and that Cilium
 * let through or audited) one entry per (source, destination, protocol, port) with the HTTP
 * requests seen on it. Flows of the host itself feed the host firewall policy; flows of workloads
 * feed their endpoint policies.
 */
export function observeFlows(model: HostModel, flows: Iterable<HubbleFlow>, nowMs: number): ModelStats {
  const stats = model.stats;
  for (const flow of flows) {
    stats.flows++;
    const t = flow.time !== undefined && Number.isFinite(Date.parse(flow.time)) ? Math.floor(Date.parse(flow.time) / 1000) : Math.floor(nowMs / 1000);
    const dns = flow.l7?.dns;
    const dport = flow.l4 && 'destinationPort' in flow.l4 ? flow.l4.destinationPort : undefined;
    if (dns?.query !== undefined) {
      if (dns.ips.length > 0) observeDnsAnswer(model, dns.query, dns.ips, t * 1000);
      // A DNS record on a flow to a non-DNS port is the name of that flow's destination
      // (how Hubble-derived fixtures carry it); a real query goes to port 53.
      else if (!flow.reply && dport !== undefined && dport !== 53 && flow.destinationIp) observeDnsAnswer(model, dns.query, [flow.destinationIp], t * 1000);
    }
    if (flow.destinationIp) for (const name of flow.destinationNames) observeDnsAnswer(model, name, [flow.destinationIp], t * 1000);
    if (flow.reply) {
      stats.flowsSkipped.reply++;
      continue;
    }
    if (!PASSING_VERDICTS.has(flow.verdict)) {
      stats.flowsSkipped.verdict++;
      continue;
    }
    const l4 = flow.l4;
    if (!l4) {
      stats.flowsSkipped.noPorts++;
      continue;
    }
    if (!('destinationPort' in l4)) {
      stats.flowsSkipped.icmp++;
      continue;
    }
    const src = flowPeer(flow.source, flow.sourceIp);
    const dst = flowPeer(flow.destination, flow.destinationIp);
    const subject = (p: typeof src) => p !== undefined && (p.kind === 'host' || p.kind === 'endpoint');
    if (!src || !dst || (!subject(src) && !subject(dst))) {
      stats.flowsSkipped.noEndpoint++;
      continue;
    }
    let fits = true;
    for (const p of [src, dst]) {
      if (p.kind !== 'endpoint' || model.endpoints.has(p.key)) continue;
      if (!reserve(model, 'endpoints', jsonBytes(p.key) * 2 + ENTRY_OVERHEAD)) {
        fits = false;
        break;
      }
      model.endpoints.set(p.key, p.endpoint);
    }
    if (!fits) continue;
    const key = `${peerKey(src)}>${peerKey(dst)}|${l4.protocol}|${l4.destinationPort}`;
    let entry = model.flows.get(key);
    if (entry) touch(entry, t, false);
    else {
      if (!reserve(model, 'flows', jsonBytes(key) + ENTRY_OVERHEAD)) continue;
      entry = { ...newSeen(t, false), http: new Map() };
      model.flows.set(key, entry);
    }
    stamp(model, t);
    const http = flow.l7?.http;
    if (http && (flow.l7?.type === undefined || flow.l7.type === 'REQUEST')) {
      const hk = httpKey(http.method, http.url);
      if (hk !== undefined) bump(model, 'http', entry.http, hk, t, false);
    }
  }
  return stats;
}
