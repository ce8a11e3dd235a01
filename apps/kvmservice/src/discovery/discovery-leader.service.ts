/**
 * Runs the discovery consumer on one replica at a time: the leader of the `discovery` election on
 * the store (the housekeeping pattern, on the replica's lease). On an orderly stop the leader writes
 * its models, then resigns; when it dies, its lease expires and another replica continues from the
 * stored models' positions.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Store } from '@kvmservice/store';
import type { Logger } from 'pino';
import { runAsLeader } from '../hosts/leader-loop.js';
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

  private run(): Promise<void> {
    const stop = this.abort.signal;
    const options = { store: this.store, key: this.keys.election('discovery'), name: 'discovery', replica: this.replica, log: this.log, stop };
    return runAsLeader(
      {
        ...options,
        onLeading: (leading) => {
          this.leading = leading;
          this.metrics.discoveryLeader.set(leading ? 1 : 0);
        },
      },
      // On shutdown (still leading), what was observed is written before handing over.
      (term, stillLeading) => this.consumer.lead(term, { flushOnExit: () => stop.aborted && stillLeading() }),
    );
  }
}
