import { LeaseNotFoundError, StoreUnavailableError } from './errors.js';
import type { Lease } from './store.js';

/** What a backend provides for one granted lease. */
export interface LeaseBackend {
  /** Renews the lease; resolves the TTL granted (seconds), or 0 if the lease no longer exists. */
  keepAliveOnce(id: string): Promise<number>;
  /** Deletes the lease and its keys; an unknown lease is not an error. */
  revoke(id: string): Promise<void>;
}

export interface KeptLeaseInit {
  readonly id: string;
  readonly ttlSeconds: number;
  /** When the grant request was sent (ms since epoch): the backend's TTL runs from a later instant. */
  readonly grantSentAt: number;
  readonly keepAlive: boolean;
  readonly backend: LeaseBackend;
  /** Called once when the lease ends for any reason, so the store can forget it. */
  readonly onEnd: (lease: KeptLease) => void;
}

/**
 * A lease with client-side expiry tracking shared by both backends. The local deadline is
 * "last successful keep-alive's send time + TTL", which is never later than the backend's own
 * deadline, so `lost` fires no later than the backend deletes the keys: a leader that watches
 * `lost` stops acting before anyone else can be elected.
 */
export class KeptLease implements Lease {
  readonly id: string;
  readonly ttlSeconds: number;
  private readonly controller = new AbortController();
  private readonly backend: LeaseBackend;
  private readonly onEnd: (lease: KeptLease) => void;
  private deadline: number;
  private lostTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private renewing = false;

  constructor(init: KeptLeaseInit) {
    this.id = init.id;
    this.ttlSeconds = init.ttlSeconds;
    this.backend = init.backend;
    this.onEnd = init.onEnd;
    this.deadline = init.grantSentAt + init.ttlSeconds * 1000;
    this.armLostTimer();
    if (init.keepAlive) {
      this.renewing = true;
      this.scheduleRenew(this.renewInterval());
    }
  }

  get lost(): AbortSignal {
    return this.controller.signal;
  }

  async keepAliveOnce(): Promise<void> {
    if (this.lost.aborted) throw new LeaseNotFoundError(this.id);
    const sentAt = Date.now();
    const ttl = await this.backend.keepAliveOnce(this.id);
    if (ttl <= 0) {
      const error = new LeaseNotFoundError(this.id);
      this.end(error);
      throw error;
    }
    if (this.lost.aborted) throw new LeaseNotFoundError(this.id);
    this.deadline = Math.max(this.deadline, sentAt + ttl * 1000);
    this.armLostTimer();
  }

  stopKeepAlive(): void {
    this.renewing = false;
    clearTimeout(this.renewTimer);
  }

  async revoke(): Promise<void> {
    this.stopKeepAlive();
    try {
      await this.backend.revoke(this.id);
    } finally {
      this.end(new LeaseNotFoundError(this.id));
    }
  }

  /** The store is closing: nobody can renew the lease any more. */
  abandon(): void {
    this.end(new StoreUnavailableError('store closed'));
  }

  private renewInterval(): number {
    return Math.max(100, (this.ttlSeconds * 1000) / 3);
  }

  private scheduleRenew(delayMs: number): void {
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.renew(), delayMs);
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    if (!this.renewing || this.lost.aborted) return;
    let next = this.renewInterval();
    try {
      await this.keepAliveOnce();
    } catch (error) {
      if (error instanceof LeaseNotFoundError) return;
      // Transient failure: try again soon, the lost timer decides when it is too late.
      next = Math.min(500, next / 2);
    }
    if (this.renewing && !this.lost.aborted) this.scheduleRenew(next);
  }

  private armLostTimer(): void {
    clearTimeout(this.lostTimer);
    const remaining = this.deadline - Date.now();
    this.lostTimer = setTimeout(() => this.expireLocally(), Math.max(0, remaining));
    this.lostTimer.unref();
  }

  private expireLocally(): void {
    if (this.lost.aborted) return;
    if (Date.now() < this.deadline) {
      this.armLostTimer();
      return;
    }
    this.end(new LeaseNotFoundError(this.id));
    // We no longer vouch for the lease; make sure the backend agrees (best effort).
    this.backend.revoke(this.id).catch(() => undefined);
  }

  private end(reason: Error): void {
    this.stopKeepAlive();
    clearTimeout(this.lostTimer);
    if (this.lost.aborted) return;
    this.controller.abort(reason);
    this.onEnd(this);
  }
}

/** The lease id a write option names. */
export function leaseIdOf(lease: Lease | string | undefined): string | undefined {
  if (lease === undefined) return undefined;
  return typeof lease === 'string' ? lease : lease.id;
}
