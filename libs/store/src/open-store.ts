import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from './errors.js';
import { EtcdStore, type EtcdStoreOptions } from './etcd/etcd-store.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';
import { DEFAULT_STORE_URL, parseStoreUrl } from './store-url.js';

/** TLS for etcd: PEM contents, or paths read at open (contents win when both are given). */
export interface EtcdTlsOptions {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

export interface OpenStoreOptions {
  readonly sqlite?: SqliteStoreOptions;
  readonly etcd?: Omit<EtcdStoreOptions, 'tls'> & { readonly tls?: EtcdTlsOptions };
}

async function pem(field: string, content: string | Buffer | undefined, file: string | undefined): Promise<Buffer | undefined> {
  if (content !== undefined) return Buffer.from(content);
  if (file === undefined) return undefined;
  try {
    return await readFile(file);
  } catch (error) {
    throw new InvalidArgumentError(`etcd tls.${field} ${file}: ${(error as Error).message}`);
  }
}

/**
 * Opens the store a URL names: `sqlite:PATH` (default `sqlite:./data/kvmservice.db`; the directory is
 * created), `sqlite::memory:` (tests), or `etcd://host1:2379,host2:2379` (https when TLS is given).
 */
export async function openStore(url: string = DEFAULT_STORE_URL, options: OpenStoreOptions = {}): Promise<Store> {
  const location = parseStoreUrl(url);
  switch (location.kind) {
    case 'invalid':
      throw new InvalidArgumentError(location.reason);
    case 'sqlite':
      return new SqliteStore(location.path, options.sqlite);
    case 'etcd': {
      const tls = options.etcd?.tls;
      let resolvedTls: EtcdStoreOptions['tls'];
      if (tls !== undefined) {
        const ca = await pem('ca', tls.ca, tls.caFile);
        if (ca === undefined) throw new InvalidArgumentError('etcd tls: ca (or caFile) is required');
        const cert = await pem('cert', tls.cert, tls.certFile);
        const key = await pem('key', tls.key, tls.keyFile);
        if ((cert === undefined) !== (key === undefined)) throw new InvalidArgumentError('etcd tls: cert and key go together');
        resolvedTls = { ca, cert, key };
      }
      return new EtcdStore(location.endpoints, { ...options.etcd, tls: resolvedTls });
    }
  }
}
