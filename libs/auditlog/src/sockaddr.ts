/** A SOCKADDR record's `saddr` decoded. */
export interface SockAddr {
  /** AppArmor's family names: inet, inet6, unix, netlink, packet, or the number */
  family: string;
  familyNumber: number;
  addr?: string;
  port?: number;
  /** AF_UNIX path; abstract names start with '@' */
  path?: string;
  /** AF_NETLINK peer port id */
  netlinkPid?: number;
}

const FAMILY_NAMES: Record<number, string> = {
  0: 'unspec',
  1: 'unix',
  2: 'inet',
  3: 'ax25',
  4: 'ipx',
  5: 'appletalk',
  9: 'x25',
  10: 'inet6',
  16: 'netlink',
  17: 'packet',
  29: 'can',
  31: 'bluetooth',
  38: 'alg',
  40: 'vsock',
  44: 'xdp',
};

export function familyName(n: number): string {
  return FAMILY_NAMES[n] ?? String(n);
}

function hexBytes(hex: string): Uint8Array | undefined {
  if (hex.length < 4 || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let k = 0; k < out.length; k++) out[k] = parseInt(hex.substr(2 * k, 2), 16);
  return out;
}

function ipv6Text(b: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let k = 0; k < 8; k++) groups.push(((b[at + 2 * k] ?? 0) << 8) | (b[at + 2 * k + 1] ?? 0));
  // ::ffff:a.b.c.d for v4-mapped, as the kernel and AppArmor print it
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  }
  // RFC 5952: longest run of two or more zero groups becomes ::
  let bestStart = -1;
  let bestLen = 0;
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let j = k;
    while (j < 8 && groups[j] === 0) j++;
    if (j - k > bestLen && j - k >= 2) {
      bestStart = k;
      bestLen = j - k;
    }
    k = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

/**
 * Decodes the hex `saddr` of a SOCKADDR record (a struct sockaddr in host byte order for the
 * family, network order for ports and addresses). Undefined when it is not hex or too short.
 */
export function decodeSockAddr(saddr: string): SockAddr | undefined {
  if (typeof saddr !== 'string') return undefined;
  const b = hexBytes(saddr);
  if (!b) return undefined;
  // sa_family is host-endian; every arch audit runs on here is little-endian except s390x/ppc64
  // big-endian, where the low byte is second. A family < 256 tells them apart.
  const le = (b[0] ?? 0) | ((b[1] ?? 0) << 8);
  const be = ((b[0] ?? 0) << 8) | (b[1] ?? 0);
  const fam = le < 256 ? le : be;
  const out: SockAddr = { family: familyName(fam), familyNumber: fam };
  if (fam === 2 && b.length >= 8) {
    out.port = ((b[2] ?? 0) << 8) | (b[3] ?? 0);
    out.addr = `${b[4]}.${b[5]}.${b[6]}.${b[7]}`;
  } else if (fam === 10 && b.length >= 24) {
    out.port = ((b[2] ?? 0) << 8) | (b[3] ?? 0);
    out.addr = ipv6Text(b, 8);
  } else if (fam === 1) {
    if (b.length > 2) {
      const abstract = b[2] === 0;
      let end = 3;
      if (abstract) end = b.length;
      else {
        end = 2;
        while (end < b.length && b[end] !== 0) end++;
      }
      const bytes = b.subarray(abstract ? 3 : 2, end);
      const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
      out.path = abstract ? '@' + text.replace(/\0+$/, '') : text;
    }
  } else if (fam === 16 && b.length >= 12) {
    out.netlinkPid = ((b[4] ?? 0) | ((b[5] ?? 0) << 8) | ((b[6] ?? 0) << 16) | ((b[7] ?? 0) << 24)) >>> 0;
  }
  return out;
}
