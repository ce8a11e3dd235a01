/**
 * The model as JSON text (what the control plane stores) and back, and the merge of two models of
 * one host (replicas that each saw part of the events). Keys are written sorted, so equal models
 * serialise to equal text. `parseModel` is total: bad input gives one line naming the field.
 */
import { SKIP_REASONS, type SkipReason } from './observation.js';
import {
  createHostModel,
  ENTRY_OVERHEAD,
  FLOW_SKIP_REASONS,
  jsonBytes,
  MODEL_VERSION,
  OVERFLOW_KINDS,
  reserve,
  SOURCE_OVERHEAD,
  sourceModelOf,
  type FileSeen,
  type FlowSeen,
  type FlowSkipReason,
  type HostModel,
  type ModelLimits,
  type OverflowKind,
  type Seen,
} from './model.js';
import type { WorkloadEndpoint } from './flow-peers.js';

export const MODEL_KIND = 'KVMServiceDiscoveryModel';

type SeenTuple = [number, number, number, number];
type FileTuple = [number, number, number, number, number, 0 | 1];

const byKey = <T>(map: Map<string, T>): [string, T][] => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const seenTuple = (s: Seen): SeenTuple => [s.count, s.first, s.last, s.blocked];

function seenObject<T>(map: Map<string, T>, f: (v: T) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of byKey(map)) out[k] = f(v);
  return out;
}

/** The model as JSON text (compact; sorted keys). */
export function serializeModel(model: HostModel): string {
  const sources: Record<string, unknown> = {};
  for (const [path, s] of byKey(model.sources)) {
    sources[path] = {
      seen: seenTuple(s.seen),
      exec: seenObject(s.exec, seenTuple),
      files: seenObject(s.files, (f: FileSeen): FileTuple => [f.count, f.first, f.last, f.blocked, f.access, f.notOwner ? 1 : 0]),
      protocols: seenObject(s.protocols, seenTuple),
      capabilities: seenObject(s.capabilities, seenTuple),
    };
  }
  const dns: Record<string, unknown> = {};
  for (const [addr, names] of byKey(model.dns)) dns[addr] = seenObject(names, seenTuple);
  const endpoints: Record<string, WorkloadEndpoint> = {};
  for (const [k, e] of byKey(model.endpoints)) {
    const labels: Record<string, string> = {};
    for (const l of Object.keys(e.labels).sort()) labels[l] = e.labels[l]!;
    endpoints[k] = { namespace: e.namespace, labels };
  }
  const flows = seenObject(model.flows, (f: FlowSeen) => (f.http.size > 0 ? [...seenTuple(f), seenObject(f.http, seenTuple)] : seenTuple(f)));
  return JSON.stringify({
    kind: MODEL_KIND,
    version: MODEL_VERSION,
    host: model.host,
    first: model.first,
    last: model.last,
    stats: model.stats,
    sources,
    conns: seenObject(model.conns, seenTuple),
    dns,
    endpoints,
    flows,
  });
}

class ModelError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function fail(field: string, reason: string): never {
  throw new ModelError(`${field}: ${reason}`);
}

function objectAt(v: unknown, field: string): Record<string, unknown> {
  if (!isObject(v)) fail(field, 'must be an object');
  return v;
}

function seenAt(v: unknown, field: string, extra = 0): number[] {
  if (!Array.isArray(v) || v.length < 4 + extra || !v.slice(0, 4 + extra).every(isCount)) fail(field, `must be an array of ${4 + extra} non-negative integers`);
  const [count, first, last, blocked] = v as number[];
  if (count === 0 || first! > last! || blocked! > count!) fail(field, 'must have count > 0, first <= last, blocked <= count');
  return v as number[];
}

function fieldName(parent: string, key: string): string {
  return `${parent}[${JSON.stringify(key)}]`;
}

function readSeenMap(v: unknown, field: string, into: Map<string, Seen>): void {
  for (const [k, t] of Object.entries(objectAt(v ?? {}, field))) {
    const [count, first, last, blocked] = seenAt(t, fieldName(field, k));
    into.set(k, { count: count!, first: first!, last: last!, blocked: blocked! });
  }
}

function readRecord<K extends string>(v: unknown, field: string, keys: readonly K[], into: Record<K, number>): void {
  const o = objectAt(v ?? {}, field);
  for (const k of keys) {
    const n = o[k];
    if (n === undefined) continue;
    if (!isCount(n)) fail(`${field}.${k}`, 'must be a non-negative integer');
    into[k] = n;
  }
}

/** Entries and estimated bytes, recomputed after a parse or merge. */
function recount(model: HostModel): void {
  let entries = 0;
  let bytes = 1024 + jsonBytes(model.host);
  const add = (key: string, extra = 0) => {
    entries++;
    bytes += jsonBytes(key) + ENTRY_OVERHEAD + extra;
  };
  for (const [path, s] of model.sources) {
    bytes += SOURCE_OVERHEAD + jsonBytes(path);
    for (const m of [s.exec, s.files, s.protocols, s.capabilities] as Map<string, Seen>[]) for (const k of m.keys()) add(k);
  }
  for (const k of model.conns.keys()) add(k);
  for (const [addr, names] of model.dns) {
    entries++;
    bytes += jsonBytes(addr) + 8;
    for (const n of names.keys()) add(n);
  }
  for (const k of model.endpoints.keys()) add(k, jsonBytes(k));
  for (const [k, f] of model.flows) {
    add(k);
    for (const h of f.http.keys()) add(h);
  }
  model.entries = entries;
  model.bytes = bytes;
}

export type ParsedModel = { ok: true; model: HostModel } | { ok: false; error: string };

/** Reads a serialised model. Never throws; the error names the field. */
export function parseModel(text: string, limits: Partial<ModelLimits> = {}): ParsedModel {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `model: not JSON (${(e as Error).message})` };
  }
  try {
    const o = objectAt(json, 'model');
    if (o.kind !== MODEL_KIND) fail('model.kind', `must be ${MODEL_KIND}`);
    if (o.version !== MODEL_VERSION) fail('model.version', `must be ${MODEL_VERSION} (got ${JSON.stringify(o.version)})`);
    if (typeof o.host !== 'string' || o.host === '') fail('model.host', 'must be a non-empty string');
    const model = createHostModel(o.host, limits);
    if (!isCount(o.first) || !isCount(o.last)) fail('model.first', 'first and last must be non-negative integers');
    model.first = o.first;
    model.last = o.last;
    const st = objectAt(o.stats, 'model.stats');
    for (const k of ['events', 'observed', 'blocked', 'unattributed', 'flows'] as const) {
      if (st[k] === undefined) continue;
      if (!isCount(st[k])) fail(`model.stats.${k}`, 'must be a non-negative integer');
      model.stats[k] = st[k];
    }
    readRecord<SkipReason>(st.skipped, 'model.stats.skipped', SKIP_REASONS, model.stats.skipped);
    readRecord<OverflowKind>(st.overflow, 'model.stats.overflow', OVERFLOW_KINDS, model.stats.overflow);
    readRecord<FlowSkipReason>(st.flowsSkipped, 'model.stats.flowsSkipped', FLOW_SKIP_REASONS, model.stats.flowsSkipped);
    const enf = objectAt(st.enforcers ?? {}, 'model.stats.enforcers');
    readRecord(enf, 'model.stats.enforcers', Object.keys(enf), model.stats.enforcers);

    for (const [path, raw] of Object.entries(objectAt(o.sources ?? {}, 'model.sources'))) {
      const field = fieldName('model.sources', path);
      const s = objectAt(raw, field);
      const [count, first, last, blocked] = seenAt(s.seen, `${field}.seen`);
      const src = { seen: { count: count!, first: first!, last: last!, blocked: blocked! }, exec: new Map(), files: new Map(), protocols: new Map(), capabilities: new Map() };
      readSeenMap(s.exec, `${field}.exec`, src.exec);
      readSeenMap(s.protocols, `${field}.protocols`, src.protocols);
      readSeenMap(s.capabilities, `${field}.capabilities`, src.capabilities);
      for (const [p, t] of Object.entries(objectAt(s.files ?? {}, `${field}.files`))) {
        const v = seenAt(t, fieldName(`${field}.files`, p), 2);
        if (v[4]! > 7 || v[5]! > 1) fail(fieldName(`${field}.files`, p), 'access must be 0-7 and notOwner 0 or 1');
        src.files.set(p, { count: v[0]!, first: v[1]!, last: v[2]!, blocked: v[3]!, access: v[4]!, notOwner: v[5] === 1 });
      }
      model.sources.set(path, src);
    }
    readSeenMap(o.conns, 'model.conns', model.conns);
    for (const [addr, names] of Object.entries(objectAt(o.dns ?? {}, 'model.dns'))) {
      const m = new Map<string, Seen>();
      readSeenMap(names, fieldName('model.dns', addr), m);
      model.dns.set(addr, m);
    }
    for (const [k, raw] of Object.entries(objectAt(o.endpoints ?? {}, 'model.endpoints'))) {
      const field = fieldName('model.endpoints', k);
      const e = objectAt(raw, field);
      if (typeof e.namespace !== 'string') fail(`${field}.namespace`, 'must be a string');
      const labels = objectAt(e.labels, `${field}.labels`);
      if (!Object.values(labels).every((v) => typeof v === 'string')) fail(`${field}.labels`, 'must map strings to strings');
      model.endpoints.set(k, { namespace: e.namespace, labels: labels as Record<string, string> });
    }
    for (const [k, raw] of Object.entries(objectAt(o.flows ?? {}, 'model.flows'))) {
      const field = fieldName('model.flows', k);
      const v = seenAt(raw, field);
      const http = new Map<string, Seen>();
      if ((raw as unknown[]).length > 4) readSeenMap((raw as unknown[])[4], `${field}[4]`, http);
      model.flows.set(k, { count: v[0]!, first: v[1]!, last: v[2]!, blocked: v[3]!, http });
    }
    recount(model);
    return { ok: true, model };
  } catch (e) {
    if (e instanceof ModelError) return { ok: false, error: e.message };
    return { ok: false, error: `model: ${(e as Error).message}` };
  }
}

function addSeen(into: Seen, from: Seen): void {
  into.count += from.count;
  into.blocked += from.blocked;
  if (from.first < into.first) into.first = from.first;
  if (from.last > into.last) into.last = from.last;
}

/** Merges `from` into `into` entry by entry, within `into`'s limits (what does not fit is counted). */
function mergeMap<T extends Seen>(model: HostModel, kind: OverflowKind, into: Map<string, T>, from: Map<string, T>, copy: (v: T) => T, merge?: (a: T, b: T) => void): void {
  for (const [k, v] of from) {
    const mine = into.get(k);
    if (mine) {
      addSeen(mine, v);
      merge?.(mine, v);
    } else if (reserve(model, kind, jsonBytes(k) + ENTRY_OVERHEAD)) {
      into.set(k, copy(v));
    }
  }
}

const copySeen = <T extends Seen>(v: T): T => ({ ...v });

/** A copy of a model (through its serialised form). */
export function cloneModel(model: HostModel): HostModel {
  const parsed = parseModel(serializeModel(model), model.limits);
  if (!parsed.ok) throw new Error(`internal error: a model failed to round-trip: ${parsed.error}`);
  return parsed.model;
}

/**
 * The union of two models of the same host: counts and blocked counts add up, first/last widen,
 * access modes combine. Models of disjoint event sets (replicas) merge exactly; merging a model
 * with itself doubles its counts. The result keeps `a`'s limits; entries of `b` that do not fit
 * are counted in `stats.overflow`.
 */
export function mergeModels(a: HostModel, b: HostModel): { ok: true; model: HostModel } | { ok: false; error: string } {
  if (a.host !== b.host) return { ok: false, error: `models are of different hosts (${JSON.stringify(a.host)} and ${JSON.stringify(b.host)})` };
  const out = cloneModel(a);
  if (b.first !== 0 && (out.first === 0 || b.first < out.first)) out.first = b.first;
  if (b.last > out.last) out.last = b.last;
  const s = out.stats;
  const t = b.stats;
  for (const k of ['events', 'observed', 'blocked', 'unattributed', 'flows'] as const) s[k] += t[k];
  for (const k of SKIP_REASONS) s.skipped[k] += t.skipped[k];
  for (const k of OVERFLOW_KINDS) s.overflow[k] += t.overflow[k];
  for (const k of FLOW_SKIP_REASONS) s.flowsSkipped[k] += t.flowsSkipped[k];
  for (const [k, n] of Object.entries(t.enforcers)) s.enforcers[k] = (s.enforcers[k] ?? 0) + n;

  for (const [path, src] of b.sources) {
    const mine = sourceModelOf(out, path, src.seen.first);
    if (!mine) continue;
    if (mine.seen.count === 0) mine.seen = { ...src.seen };
    else addSeen(mine.seen, src.seen);
    mergeMap(out, 'exec', mine.exec, src.exec, copySeen);
    mergeMap(out, 'files', mine.files, src.files, copySeen, (x, y) => {
      x.access |= y.access;
      x.notOwner ||= y.notOwner;
    });
    mergeMap(out, 'protocols', mine.protocols, src.protocols, copySeen);
    mergeMap(out, 'capabilities', mine.capabilities, src.capabilities, copySeen);
  }
  mergeMap(out, 'conns', out.conns, b.conns, copySeen);
  for (const [addr, names] of b.dns) {
    let mine = out.dns.get(addr);
    if (!mine) {
      if (!reserve(out, 'dns', jsonBytes(addr) + 8)) continue;
      mine = new Map();
      out.dns.set(addr, mine);
    }
    mergeMap(out, 'dns', mine, names, copySeen);
  }
  for (const [k, e] of b.endpoints) {
    if (out.endpoints.has(k)) continue;
    if (reserve(out, 'endpoints', jsonBytes(k) * 2 + ENTRY_OVERHEAD)) out.endpoints.set(k, { namespace: e.namespace, labels: { ...e.labels } });
  }
  for (const [k, f] of b.flows) {
    const mine = out.flows.get(k);
    if (mine) {
      addSeen(mine, f);
      mergeMap(out, 'http', mine.http, f.http, copySeen);
    } else if (reserve(out, 'flows', jsonBytes(k) + ENTRY_OVERHEAD)) {
      const copy: FlowSeen = { ...f, http: new Map() };
      out.flows.set(k, copy);
      mergeMap(out, 'http', copy.http, f.http, copySeen);
    }
  }
  return { ok: true, model: out };
}
