/**
 * etcd over TLS with client-certificate auth (real etcd, throw-away CA from the harness):
 * openStore reads CA/cert/key files; the store works end to end; missing or wrong credentials fail
 * with StoreUnavailableError instead of hanging.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, openStore, StoreUnavailableError } from '@kvmservice/store';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

describe('etcd store over TLS', () => {
  let etcd: EtcdCluster;
  beforeAll(async () => {
    etcd = await startEtcd({ members: 1, tls: true });
  });
  afterAll(() => etcd.stop());

  it('writes, reads, watches and leases over mutual TLS', async () => {
    const tls = etcd.tls!;
    const store = await openStore(etcd.storeUrl, { etcd: { tls: { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile } } });
    const watch = await store.watch('/tls/');
    const lease = await store.lease(5);
    const created = await store.create('/tls/a', 'secret-free value', { lease });
    expect((await store.get('/tls/a'))?.modRevision).toBe(created.modRevision);
    const first = await watch[Symbol.asyncIterator]().next();
    expect(first.value).toMatchObject({ type: 'PUT', key: '/tls/a', revision: created.modRevision });
    await lease.revoke();
    expect(await store.get('/tls/a')).toBeUndefined();
    await watch.close();
    await store.close();

    // PEM contents work as well as paths.
    const inline = await openStore(etcd.storeUrl, {
      etcd: { tls: { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } },
    });
    expect(await inline.currentRevision()).toBeGreaterThan(0);
    await inline.close();
  });

  it('fails cleanly without a client certificate, without TLS, or with bad TLS options', async () => {
    const tls = etcd.tls!;
    const noClientCert = await openStore(etcd.storeUrl, { etcd: { retryTimeoutMs: 800, callTimeoutMs: 400, tls: { caFile: tls.caFile } } });
    await expect(noClientCert.put('/tls/x', 'v')).rejects.toBeInstanceOf(StoreUnavailableError);
    await noClientCert.close();

    const plain = await openStore(etcd.storeUrl, { etcd: { retryTimeoutMs: 800, callTimeoutMs: 400 } });
    await expect(plain.get('/tls/x')).rejects.toBeInstanceOf(StoreUnavailableError);
    await plain.close();

    await expect(openStore(etcd.storeUrl, { etcd: { tls: { certFile: tls.certFile, keyFile: tls.keyFile } } })).rejects.toThrow(
      'etcd tls: ca (or caFile) is required',
    );
    await expect(openStore(etcd.storeUrl, { etcd: { tls: { caFile: tls.caFile, certFile: tls.certFile } } })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(openStore(etcd.storeUrl, { etcd: { tls: { caFile: '/nonexistent/ca.pem' } } })).rejects.toThrow(/^etcd tls.ca \/nonexistent\/ca.pem: ENOENT/);
    await expect(openStore('etcd://nohost')).rejects.toThrow('endpoint "nohost" is not host:port');
  });
});
