/**
 * Runs the discovery consumer on one replica at a time: the leader of the `discovery` election on
 * the store (the housekeeping pattern, on the replica's lease). On an orderly stop the leader writes
 * its models, then resigns; when it dies, its lease expires and another replica continues from the
 * stored models' positions.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Election, type Store } from '@kvmservice/store';
import type { Logger } from 'pino';
import { ReplicaService } from '../hosts/replica.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { ServiceKeys } from '../store/service-keys.js';
import { TelemetryService } from '../telemetry/telemetry.service.js';
import { KEYS, LOGGER, STORE } from '../tokens.js';
import { DiscoveryConsumer, type ConsumerOptions } from './discovery-consumer.js';
import { SourceResolvers } from './source-resolvers.js';

/** Consumer settings (flush bounds); a provider with this token may replace the defaults. */
export const DISCOVERY_OPTIONS = Symbol('DiscoveryOptions');

@Injectable()
export class DiscoveryLeaderService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  readonly consumer: DiscoveryConsumer;
  /** True while this replica leads discovery. */
  leading = false;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(KEYS) private readonly keys: ServiceKeys,
    private readonly replica: ReplicaService,
    private readonly metrics: MetricsService,
    telemetry: TelemetryService,
    resolvers: SourceResolvers,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(DISCOVERY_OPTIONS) options: ConsumerOptions,
  ) {
    this.consumer = new DiscoveryConsumer(
      {
        store,
        keys,
        parseBatch: (key, value) => {
          try {
            return telemetry.parseBatch(key, value);
          } catch {
            return undefined;
          }
        },
        sourceResolver: (host) => resolvers.resolverFor(host),
        onError: (message, error, host) => this.log.warn({ err: error, host }, message),
        onCounters: (d) => {
          if (d.observed) metrics.discoveryEvents.inc(d.observed);
          if (d.gaps) metrics.discoveryGaps.inc(d.gaps);
          if (d.writes) metrics.discoveryWrites.inc({ result: 'ok' }, d.writes);
          if (d.conflicts) metrics.discoveryWrites.inc({ result: 'conflict' }, d.conflicts);
          if (d.writeErrors) metrics.discoveryWrites.inc({ result: 'error' }, d.writeErrors);
          if (d.unreadable) metrics.discoveryUnreadable.inc(d.unreadable);
        },
      },
      options,
    );
  }

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const election = new Election(this.store, this.keys.election('discovery'));
    while (!this.abort.signal.aborted) {
      try {
        const leadership = await election.campaign(this.replica.id, { signal: this.abort.signal, lease: await this.replica.lease() });
        this.log.info({ replica: this.replica.id }, 'leading discovery');
        this.leading = true;
        this.metrics.discoveryLeader.set(1);
        const term = new AbortController();
        const stop = () => term.abort();
        leadership.lost.addEventListener('abort', stop, { once: true });
        this.abort.signal.addEventListener('abort', stop, { once: true });
        if (leadership.lost.aborted || this.abort.signal.aborted) stop();
        try {
          // On shutdown (still leading), what was observed is written before handing over.
          await this.consumer.lead(term.signal, { flushOnExit: () => this.abort.signal.aborted && !leadership.lost.aborted });
        } catch (e) {
          if (!term.signal.aborted) this.log.warn({ err: e }, 'discovery consumer failed; campaigning again');
        } finally {
          this.leading = false;
          this.metrics.discoveryLeader.set(0);
          this.abort.signal.removeEventListener('abort', stop);
        }
        await leadership.resign().catch(() => undefined);
        if (!this.abort.signal.aborted) await this.sleep(1000);
      } catch (e) {
        if (this.abort.signal.aborted) return;
        this.log.warn({ err: e }, 'discovery election failed; retrying');
        await this.sleep(5000);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.abort.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
      if (signal.aborted) done();
    });
  }
}
