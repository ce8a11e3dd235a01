import { isIP } from 'node:net';

/** Parses `a.b.c.d/n` or `x::y/n` (a bare address means a host route). */
export function parseCidr(text: string): { family: 4 | 6; address: string; prefix: number } | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family !== 4 && family !== 6) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { family, address, prefix: max };
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > max) return undefined;
  return { family, address, prefix };
}

export function isCidr(text: string): boolean {
  return parseCidr(text) !== undefined && text.includes('/');
}

function toBits(family: 4 | 6, address: string): bigint {
  if (family === 4) return address.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  // An IPv4-mapped tail (::ffff:1.2.3.4) becomes two hextets.
  const expand = (s: string | undefined) =>
    (s ? s.split(':') : []).flatMap((h) => {
      if (!h.includes('.')) return [h];
      const v = toBits(4, h);
      return [(v >> 16n).toString(16), (v & 0xffffn).toString(16)];
    });
  const h = expand(head);
  const t = expand(tail);
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

/** Whether `inner` lies inside `outer` (same family, longer or equal prefix, same network bits). */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (!o || !i || o.family !== i.family || i.prefix < o.prefix) return false;
  const width = o.family === 4 ? 32n : 128n;
  const shift = width - BigInt(o.prefix);
  return toBits(o.family, o.address) >> shift === toBits(i.family, i.address) >> shift;
}
