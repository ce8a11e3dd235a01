import { describe, expect, it } from 'vitest';
import { LeaseNotFoundError } from './errors.js';
import { KeptLease, type LeaseBackend } from './lease-keeper.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A scripted backend: each keep-alive answers with the next behaviour. */
function backend(behaviour: () => Promise<number>): LeaseBackend & { calls: number; revoked: number } {
  const state = {
    calls: 0,
    revoked: 0,
    keepAliveOnce: async () => {
      state.calls++;
      return behaviour();
    },
    revoke: async () => {
      state.revoked++;
    },
  };
  return state;
}

describe('KeptLease', () => {
  it('renews every TTL/3 and stays alive while renewals succeed', async () => {
    const b = backend(async () => 1);
    const lease = new KeptLease({ id: '1', ttlSeconds: 1, grantSentAt: Date.now(), keepAlive: true, backend: b, onEnd: () => undefined });
    await sleep(1500);
    expect(lease.lost.aborted).toBe(false);
    expect(b.calls).toBeGreaterThanOrEqual(3);
    lease.abandon();
  });

  it('declares the lease lost at send time + TTL when renewals fail, before the backend could expire it', async () => {
    const b = backend(async () => {
      throw new Error('unreachable');
    });
    const granted = Date.now();
    let endedAt = 0;
    const lease = new KeptLease({ id: '2', ttlSeconds: 1, grantSentAt: granted, keepAlive: true, backend: b, onEnd: () => (endedAt = Date.now()) });
    await new Promise((resolve) => lease.lost.addEventListener('abort', resolve));
    expect(endedAt - granted).toBeGreaterThanOrEqual(990);
    expect(endedAt - granted).toBeLessThan(1900); // not 2 x TTL, as etcd3's own Lease would
    expect(lease.lost.reason).toBeInstanceOf(LeaseNotFoundError);
    expect(b.revoked).toBe(1); // best effort: make the backend agree
  });

  it('ends at once when the backend says the lease is gone', async () => {
    const lease = new KeptLease({ id: '3', ttlSeconds: 5, grantSentAt: Date.now(), keepAlive: false, backend: backend(async () => 0), onEnd: () => undefined });
    await expect(lease.keepAliveOnce()).rejects.toBeInstanceOf(LeaseNotFoundError);
    expect(lease.lost.aborted).toBe(true);
    await expect(lease.keepAliveOnce()).rejects.toBeInstanceOf(LeaseNotFoundError);
  });

  it('expires after TTL once keep-alive stops, and revoke ends it immediately', async () => {
    const b = backend(async () => 1);
    const stopped = new KeptLease({ id: '4', ttlSeconds: 1, grantSentAt: Date.now(), keepAlive: true, backend: b, onEnd: () => undefined });
    await sleep(400);
    stopped.stopKeepAlive();
    const callsAtStop = b.calls;
    await sleep(1500);
    expect(stopped.lost.aborted).toBe(true);
    expect(b.calls).toBe(callsAtStop);

    const revoked = new KeptLease({ id: '5', ttlSeconds: 10, grantSentAt: Date.now(), keepAlive: true, backend: b, onEnd: () => undefined });
    await revoked.revoke();
    expect(revoked.lost.aborted).toBe(true);
  });
});
