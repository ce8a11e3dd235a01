/** Where the store lives: `sqlite:PATH`, `sqlite::memory:` or `etcd://host1:2379,host2:2379`. */
export type StoreLocation =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'etcd'; readonly endpoints: readonly string[] }
  | { readonly kind: 'invalid'; readonly reason: string };

export const DEFAULT_STORE_URL = 'sqlite:./data/kvmservice.db';

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):([0-9]{1,5})$/;

/** Total: any input gives a location or a reason naming what is wrong. */
export function parseStoreUrl(url: unknown): StoreLocation {
  if (typeof url !== 'string' || url.trim() === '') return { kind: 'invalid', reason: 'store URL is empty' };
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') return { kind: 'invalid', reason: `store URL ${url}: sqlite: needs a file path (or :memory:)` };
    if (path.includes('\0')) return { kind: 'invalid', reason: `store URL ${JSON.stringify(url)}: path contains NUL` };
    return { kind: 'sqlite', path };
  }
  if (url.startsWith('etcd://')) {
    const list = url.slice('etcd://'.length).replace(/\/+$/, '');
    const endpoints = list.split(',').map((part) => part.trim());
    for (const endpoint of endpoints) {
      const match = HOST_PORT.exec(endpoint);
      const port = match ? Number(match[1]) : 0;
      if (!match || port < 1 || port > 65535) {
        return { kind: 'invalid', reason: `store URL ${url}: endpoint ${JSON.stringify(endpoint)} is not host:port` };
      }
    }
    return { kind: 'etcd', endpoints };
  }
  return { kind: 'invalid', reason: `store URL ${JSON.stringify(url.slice(0, 80))}: expected sqlite:PATH or etcd://host:port[,host:port…]` };
}
