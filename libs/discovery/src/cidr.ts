/** Addresses as CIDRs for Cilium rules, with prefix aggregation. Pure (no `node:net`). */

export interface ParsedAddress {
  family: 4 | 6;
  bits: bigint;
}

/** An IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4), or undefined. */
export function parseAddress(text: string): ParsedAddress | undefined {
  const t = text.trim().toLowerCase();
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t);
  if (v4) {
    const o = v4.slice(1).map(Number);
    if (o.some((x) => x > 255)) return undefined;
    return { family: 4, bits: o.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n) };
  }
  if (!t.includes(':') || t.includes('%')) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (mapped) return parseAddress(mapped[1]!);
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string | undefined) => (s === undefined || s === '' ? [] : s.split(':'));
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  // a trailing dotted quad counts as two groups
  const expand = (gs: string[]): string[] | undefined => {
    const out: string[] = [];
    for (const g of gs) {
      if (g.includes('.')) {
        const v = parseAddress(g);
        if (!v || v.family !== 4) return undefined;
        out.push(((v.bits >> 16n) & 0xffffn).toString(16), (v.bits & 0xffffn).toString(16));
      } else out.push(g);
    }
    return out;
  };
  const h = expand(head);
  const tl = expand(tail);
  if (!h || !tl) return undefined;
  const missing = 8 - h.length - tl.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return undefined;
  const all = [...h, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tl];
  if (all.length !== 8 || !all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return { family: 6, bits: all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

function formatV4(bits: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => ((bits >> s) & 0xffn).toString()).join('.');
}

function formatV6(bits: bigint): string {
  const groups: number[] = [];
  for (let k = 7; k >= 0; k--) groups.push(Number((bits >> BigInt(k * 16)) & 0xffffn));
  // RFC 5952: the longest run of two or more zero groups becomes ::
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** The CIDR of `prefix` bits containing `addr` (host bits cleared). */
export function cidrOf(addr: ParsedAddress, prefix: number): string {
  const width = addr.family === 4 ? 32 : 128;
  const p = Math.max(0, Math.min(width, Math.floor(prefix)));
  const mask = p === 0 ? 0n : ((1n << BigInt(p)) - 1n) << BigInt(width - p);
  const net = addr.bits & mask;
  return `${addr.family === 4 ? formatV4(net) : formatV6(net)}/${p}`;
}

export function isLoopback(addr: ParsedAddress): boolean {
  return addr.family === 4 ? addr.bits >> 24n === 127n : addr.bits === 1n;
}

export interface CidrAggregation {
  /** prefix length IPv4 peers are grouped into (32: each address alone) */
  ipv4Prefix: number;
  /** prefix length IPv6 peers are grouped into (128: each address alone) */
  ipv6Prefix: number;
}

export const DEFAULT_CIDR_AGGREGATION: CidrAggregation = { ipv4Prefix: 32, ipv6Prefix: 128 };

/** The aggregated CIDR of an address text, or undefined when it is not an address. */
export function aggregatedCidr(text: string, agg: CidrAggregation): string | undefined {
  const a = parseAddress(text);
  if (!a) return undefined;
  return cidrOf(a, a.family === 4 ? agg.ipv4Prefix : agg.ipv6Prefix);
}
