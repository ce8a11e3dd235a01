/**
 * Names of discovered policies: readable, stable (the same host and binary always give the same
 * name) and unique (a hash of the exact inputs ends every name, so `/usr/bin/a-b` and
 * `/usr/bin/a/b` never collide). All are RFC 1123 names of at most 253 characters.
 *
 * - KubeArmorHostPolicy per binary: `autopol-host-<host>-<binary>-<hash>`, e.g.
 *   `autopol-host-web1-usr-sbin-nginx-1f2e3d4c`
 * - KubeArmorHostPolicy per host (`single`): `autopol-host-<host>-<hash>`
 * - CiliumClusterwideNetworkPolicy of the host: `autopol-host-network-<host>-<hash>`
 * - CiliumNetworkPolicy of a workload: upstream's `autopol-<egress|ingress>-<FNV-32a>` (decimal)
 */

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  const bytes = new TextEncoder().encode(text);
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/** Lower-case letters, digits and single '-' (a readable part of a name, never empty). */
export function slug(text: string, max: number): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/g, '');
  return s === '' ? 'x' : s;
}

export function hostPolicyName(host: string, binary: string | undefined): string {
  const h = slug(host, 63);
  if (binary === undefined) return `autopol-host-${h}-${hex8(fnv1a32(`host\u0000${host}`))}`;
  return `autopol-host-${h}-${slug(binary, 150)}-${hex8(fnv1a32(`host\u0000${host}\u0000${binary}`))}`;
}

export function hostNetworkPolicyName(host: string): string {
  return `autopol-host-network-${slug(host, 63)}-${hex8(fnv1a32(`network\u0000${host}`))}`;
}

/** Upstream: "autopol-" + type + "-" + FNV-32a(type + sorted selector labels + namespace + cluster). */
export function workloadPolicyName(direction: 'egress' | 'ingress', labels: Record<string, string>, namespace: string, cluster = ''): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
  return `autopol-${direction}-${fnv1a32(`${direction}${sorted}${namespace}${cluster}`)}`;
}
