import { AlreadyExistsError, CompactedError, ConflictError, LeaseNotFoundError, NotFoundError } from './errors.js';
import type { KeyValue, Lease, Store, StoreValue, Watch } from './store.js';

export interface ElectionOptions {
  /** Lease TTL of a leader (default 10 s): how long a crashed leader blocks the next one. */
  readonly ttlSeconds?: number;
}

export interface CampaignOptions {
  readonly signal?: AbortSignal;
  /** Campaign with this lease instead of a new one of `ttlSeconds`. */
  readonly lease?: Lease;
}

export interface Leadership {
  readonly key: string;
  readonly value: Buffer;
  /** Create revision of the leader key: increases with every new term, usable as a fencing token. */
  readonly term: number;
  /**
   * Aborts when leadership may have ended: the lease is lost (not renewed within its TTL) or was
   * revoked, or the leader key was deleted or replaced. Stop acting as leader at once.
   */
  readonly lost: AbortSignal;
  /** Hand over now: revokes the lease, which deletes the key and wakes the next candidate. */
  resign(): Promise<void>;
}

async function closeOnAbort(watch: Watch, signals: readonly (AbortSignal | undefined)[]): Promise<void> {
  for (const signal of signals) {
    if (signal === undefined) continue;
    if (signal.aborted) await watch.close();
    else signal.addEventListener('abort', () => void watch.close(), { once: true });
  }
}

/**
 * Leader election on any Store: the leader is whoever holds `key`, created with its own lease.
 * Candidates wait for the key's deletion (resign, lease revoked, or lease expired after a crash) and
 * race to create it again; the store's create-if-absent makes exactly one win.
 * The key must not be a prefix of other keys (watches are by prefix).
 */
export class Election {
  private readonly ttlSeconds: number;

  constructor(
    private readonly store: Store,
    readonly key: string,
    options: ElectionOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? 10;
  }

  /**
   * Resolves when this candidate is the leader. Rejects if `signal` aborts first.
   * With `lease` (e.g. the replica's presence lease) leadership lives exactly as long as that lease,
   * and resign() deletes the key instead of revoking the caller's lease; without it the election
   * grants its own lease of `ttlSeconds`.
   */
  async campaign(value: StoreValue, options: CampaignOptions = {}): Promise<Leadership> {
    const { signal } = options;
    const own = options.lease === undefined;
    let lease: Lease | undefined = options.lease;
    try {
      for (;;) {
        signal?.throwIfAborted();
        if (lease === undefined || lease.lost.aborted) {
          if (!own) throw new LeaseNotFoundError(options.lease!.id);
          lease = await this.store.lease(this.ttlSeconds);
        }
        try {
          const kv = await this.store.create(this.key, value, { lease });
          return await this.lead(kv, lease, own);
        } catch (error) {
          if (!(error instanceof AlreadyExistsError)) throw error;
        }
        const listed = await this.store.list(this.key);
        if (listed.items.some((item) => item.key === this.key)) {
          await this.waitForVacancy(listed.revision + 1, [signal, lease.lost]);
        }
      }
    } catch (error) {
      if (own) await lease?.revoke().catch(() => undefined);
      throw error;
    }
  }

  /** The current leader's key-value, if any. */
  async leader(): Promise<KeyValue | undefined> {
    return this.store.get(this.key);
  }

  /** The current leader, then every change (undefined = no leader) until `signal` aborts. */
  async *observe(options: { readonly signal?: AbortSignal } = {}): AsyncGenerator<KeyValue | undefined> {
    const { signal } = options;
    while (!signal?.aborted) {
      const listed = await this.store.list(this.key);
      yield listed.items.find((item) => item.key === this.key);
      const watch = await this.store.watch(this.key, { fromRevision: listed.revision + 1 });
      await closeOnAbort(watch, [signal]);
      try {
        for await (const event of watch) {
          if (event.key === this.key) yield event.type === 'PUT' ? event.kv : undefined;
        }
      } catch (error) {
        if (!(error instanceof CompactedError)) throw error;
      } finally {
        await watch.close();
      }
    }
  }

  private async waitForVacancy(fromRevision: number, signals: readonly (AbortSignal | undefined)[]): Promise<void> {
    const watch = await this.store.watch(this.key, { fromRevision });
    await closeOnAbort(watch, signals);
    try {
      for await (const event of watch) {
        if (event.key === this.key && event.type === 'DELETE') return;
      }
    } catch (error) {
      if (!(error instanceof CompactedError)) throw error;
    } finally {
      await watch.close();
    }
  }

  private async lead(kv: KeyValue, lease: Lease, ownLease: boolean): Promise<Leadership> {
    const controller = new AbortController();
    const end = (reason: unknown): void => {
      if (!controller.signal.aborted) controller.abort(reason);
    };
    if (lease.lost.aborted) end(lease.lost.reason);
    else lease.lost.addEventListener('abort', () => end(lease.lost.reason), { once: true });
    const watch = await this.store.watch(this.key, { fromRevision: kv.modRevision + 1 });
    await closeOnAbort(watch, [controller.signal]);
    void (async () => {
      try {
        for await (const event of watch) {
          if (event.key !== this.key) continue;
          if (event.type === 'DELETE' || event.kv.createRevision !== kv.createRevision) {
            end(new Error(`leader key ${this.key} was ${event.type === 'DELETE' ? 'deleted' : 'replaced'}`));
            return;
          }
        }
      } catch (error) {
        end(error);
      }
    })();
    return {
      key: this.key,
      value: kv.value,
      term: kv.createRevision,
      lost: controller.signal,
      resign: async () => {
        end(new Error('resigned'));
        if (ownLease) {
          await lease.revoke();
          return;
        }
        const current = await this.store.get(this.key);
        if (current?.createRevision !== kv.createRevision) return;
        await this.store.delete(this.key, { expectRevision: current.modRevision }).catch((error: unknown) => {
          if (!(error instanceof NotFoundError || error instanceof ConflictError)) throw error;
        });
      },
    };
  }
}
