/**
 * A typed reader for Hubble flows, as `hubble observe -o json` prints them (one
 * `{"flow": {…}}` object per line; older releases print the flow itself) or as a JSON array
 * of flows. Total: every line gives a flow or an entry in `unparsed` with its reason.
 */

export interface HubbleEndpoint {
  namespace?: string;
  /** Cilium labels as Hubble prints them: `k8s:app=web`, `reserved:world`. */
  labels: string[];
  podName?: string;
  identity?: number;
}

export type HubbleL4 =
  | { protocol: 'TCP' | 'UDP' | 'SCTP'; sourcePort: number; destinationPort: number }
  | { protocol: 'ICMPv4' | 'ICMPv6'; type: number };

export interface HubbleL7 {
  /** REQUEST, RESPONSE or SAMPLE */
  type?: string;
  http?: { method?: string; url?: string; code?: number };
  dns?: { query?: string; ips: string[] };
}

export interface HubbleFlow {
  time?: string;
  /** FORWARDED, DROPPED, AUDIT, REDIRECTED, ERROR, TRACED, TRANSLATED */
  verdict: string;
  sourceIp?: string;
  destinationIp?: string;
  l4?: HubbleL4;
  source: HubbleEndpoint;
  destination: HubbleEndpoint;
  /** Names Cilium's DNS cache holds for the destination IP. */
  destinationNames: string[];
  trafficDirection?: 'INGRESS' | 'EGRESS';
  /** The flow is the reply direction of a connection. */
  reply: boolean;
  l7?: HubbleL7;
  nodeName?: string;
}

export interface UnparsedFlow {
  /** 1-based line (or array index + 1 for a JSON array) */
  line: number;
  reason: string;
}

export interface HubbleReadResult {
  flows: HubbleFlow[];
  unparsed: UnparsedFlow[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const port = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535 ? v : undefined);

function endpoint(v: unknown): HubbleEndpoint {
  if (!isObject(v)) return { labels: [] };
  const labels = Array.isArray(v.labels) ? v.labels.filter((l): l is string => typeof l === 'string') : [];
  const out: HubbleEndpoint = { labels };
  const ns = str(v.namespace);
  if (ns !== undefined && ns !== '') out.namespace = ns;
  const pod = str(v.pod_name);
  if (pod !== undefined && pod !== '') out.podName = pod;
  if (typeof v.identity === 'number') out.identity = v.identity;
  return out;
}

function l4Of(v: unknown): HubbleL4 | undefined {
  if (!isObject(v)) return undefined;
  for (const proto of ['TCP', 'UDP', 'SCTP'] as const) {
    const p = v[proto];
    if (isObject(p)) {
      const sp = port(p.source_port) ?? 0;
      const dp = port(p.destination_port);
      if (dp === undefined) return undefined;
      return { protocol: proto, sourcePort: sp, destinationPort: dp };
    }
  }
  for (const proto of ['ICMPv4', 'ICMPv6'] as const) {
    const p = v[proto];
    if (isObject(p)) return { protocol: proto, type: typeof p.type === 'number' ? p.type : 0 };
  }
  return undefined;
}

function l7Of(v: unknown): HubbleL7 | undefined {
  if (!isObject(v)) return undefined;
  const out: HubbleL7 = {};
  const type = str(v.type);
  if (type !== undefined) out.type = type;
  if (isObject(v.http)) {
    const h = v.http;
    out.http = {};
    const method = str(h.method);
    const url = str(h.url);
    if (method !== undefined) out.http.method = method;
    if (url !== undefined) out.http.url = url;
    if (typeof h.code === 'number') out.http.code = h.code;
  }
  if (isObject(v.dns)) {
    const d = v.dns;
    out.dns = { ips: Array.isArray(d.ips) ? d.ips.filter((i): i is string => typeof i === 'string') : [] };
    const q = str(d.query);
    if (q !== undefined) out.dns.query = q;
  }
  return out.http || out.dns ? out : undefined;
}

function boolish(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  // protobuf wrappers print as {"value": true}
  return isObject(v) && v.value === true;
}

/** One flow object (or `{"flow": …}` wrapper) as a HubbleFlow, or why it is not one. */
export function hubbleFlowOf(value: unknown): HubbleFlow | string {
  if (!isObject(value)) return 'not a JSON object';
  const f = isObject(value.flow) ? value.flow : value;
  if (!isObject(f.source) && !isObject(f.destination) && !isObject(f.IP)) return 'not a Hubble flow (no source, destination or IP)';
  const ip = isObject(f.IP) ? f.IP : {};
  const flow: HubbleFlow = {
    verdict: str(f.verdict) ?? 'FORWARDED',
    source: endpoint(f.source),
    destination: endpoint(f.destination),
    destinationNames: Array.isArray(f.destination_names) ? f.destination_names.filter((n): n is string => typeof n === 'string') : [],
    reply: boolish(f.is_reply) || boolish(f.reply),
  };
  const time = str(f.time) ?? str(value.time);
  if (time !== undefined) flow.time = time;
  const sip = str(ip.source);
  const dip = str(ip.destination);
  if (sip !== undefined) flow.sourceIp = sip;
  if (dip !== undefined) flow.destinationIp = dip;
  const l4 = l4Of(f.l4);
  if (l4) flow.l4 = l4;
  const l7 = l7Of(f.l7);
  if (l7) flow.l7 = l7;
  const dir = str(f.traffic_direction);
  if (dir === 'INGRESS' || dir === 'EGRESS') flow.trafficDirection = dir;
  const node = str(f.node_name) ?? str(value.node_name);
  if (node !== undefined) flow.nodeName = node;
  return flow;
}

/** Reads `hubble observe -o json` output (JSON Lines) or a JSON array of flows. Never throws. */
export function readHubbleFlows(text: string): HubbleReadResult {
  const out: HubbleReadResult = { flows: [], unparsed: [] };
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    let array: unknown;
    try {
      array = JSON.parse(trimmed);
    } catch {
      array = undefined;
    }
    if (Array.isArray(array)) {
      array.forEach((item, i) => {
        const flow = hubbleFlowOf(item);
        if (typeof flow === 'string') out.unparsed.push({ line: i + 1, reason: flow });
        else out.flows.push(flow);
      });
      return out;
    }
  }
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      out.unparsed.push({ line: i + 1, reason: 'not JSON' });
      return;
    }
    const flow = hubbleFlowOf(value);
    if (typeof flow === 'string') out.unparsed.push({ line: i + 1, reason: flow });
    else out.flows.push(flow);
  });
  return out;
}
