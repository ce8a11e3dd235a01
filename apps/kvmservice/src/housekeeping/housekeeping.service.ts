/**
 * Singleton jobs, run by one replica at a time (the leader of an election on the store):
 * expired and long-used bootstrap tokens are deleted, and each host's stored events are trimmed
 * to the newest `EVENTS_KEPT_PER_HOST` (events beyond that are already acknowledged, so trimming
 * loses nothing an agent still holds; the count trimmed is a metric).
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Store } from '@kvmservice/store';
import type { Logger } from 'pino';
import { AuthService } from '../auth/auth-service.js';
import { runAsLeader, sleep } from '../hosts/leader-loop.js';
import { ReplicaService } from '../hosts/replica.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { ServiceKeys } from '../store/service-keys.js';
import { KEYS, LOGGER, STORE } from '../tokens.js';

export const EVENTS_KEPT_PER_HOST = 100_000;
export const HOUSEKEEPING_INTERVAL_MS = 60_000;
/** Used tokens are kept this long after expiry, so `kvmctl token list` can show who used them. */
const USED_TOKEN_GRACE_MS = 24 * 60 * 60 * 1000;

@Injectable()
export class HousekeepingService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(KEYS) private readonly keys: ServiceKeys,
    private readonly auth: AuthService,
    private readonly replica: ReplicaService,
    private readonly metrics: MetricsService,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private run(): Promise<void> {
    const stop = this.abort.signal;
    return runAsLeader({ store: this.store, key: this.keys.election('housekeeping'), name: 'housekeeping', replica: this.replica, log: this.log, stop }, async (term) => {
      while (!term.aborted) {
        await this.sweep();
        await sleep(HOUSEKEEPING_INTERVAL_MS, term);
      }
    });
  }

  /** One pass of every job; exposed for tests. */
  async sweep(now = Date.now(), eventsKeptPerHost = EVENTS_KEPT_PER_HOST): Promise<{ tokensDeleted: number; eventsTrimmed: number }> {
    let tokensDeleted = 0;
    for (const token of await this.auth.listBootstrapTokens()) {
      const deadline = token.usedBy === '' ? token.expiresAt : Math.max(token.expiresAt, token.createdAt) + USED_TOKEN_GRACE_MS;
      if (deadline <= now) {
        await this.auth.revokeBootstrapToken(token.id).catch(() => undefined);
        tokensDeleted++;
      }
    }
    let eventsTrimmed = 0;
    const cursors = await this.store.list(this.keys.eventCursor());
    for (const cursorKv of cursors.items) {
      const host = cursorKv.key.slice(this.keys.eventCursor().length);
      const upTo = (JSON.parse(cursorKv.value.toString('utf8')) as { upTo: number }).upTo;
      const keepFrom = upTo - eventsKeptPerHost + 1;
      if (keepFrom <= 1) continue;
      const batches = await this.store.list(this.keys.events(host));
      const firsts = batches.items.map((kv) => Number(kv.key.slice(this.keys.events(host).length)));
      // A batch can go when the next one starts at or before the first sequence number kept.
      for (let i = 0; i + 1 < firsts.length && firsts[i + 1]! <= keepFrom; i++) {
        await this.store.delete(batches.items[i]!.key).catch(() => undefined);
        eventsTrimmed += firsts[i + 1]! - firsts[i]!;
      }
    }
    if (eventsTrimmed > 0) this.metrics.eventsTrimmed.inc(eventsTrimmed);
    return { tokensDeleted, eventsTrimmed };
  }
}
