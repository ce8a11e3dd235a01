/**
 * The control plane's composition root. Each feature lives in its own folder; this module wires
 * them to the values created before Nest starts (config, store, TLS material, logger).
 */
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { Store } from '@kvmservice/store';
import type { Logger } from 'pino';
import { AgentController } from './agents/agent.controller.js';
import { AgentSessions } from './agents/agent-sessions.js';
import { AdminBootstrapService } from './auth/admin-bootstrap.service.js';
import { AuthService } from './auth/auth-service.js';
import type { TlsMaterial } from './auth/certificates.js';
import type { ServiceConfig } from './config/service-config.js';
import { ControlController } from './control/control.controller.js';
import { DesiredStateService } from './desired/desired-state.service.js';
import { DiscoverService } from './discovery/discover.service.js';
import { DISCOVERY_OPTIONS, DiscoveryLeaderService } from './discovery/discovery-leader.service.js';
import { SourceResolvers } from './discovery/source-resolvers.js';
import { RENDERERS, RenderCache, cachedLsmRenderers } from './desired/lsm-renderers.js';
import { HttpController } from './health/http.controller.js';
import { HousekeepingService } from './housekeeping/housekeeping.service.js';
import { InstallController } from './install/install.controller.js';
import { InstallService } from './install/install.service.js';
import { HostStatusService } from './hosts/host-status.service.js';
import { ReplicaService } from './hosts/replica.service.js';
import { MetricsService } from './metrics/metrics.service.js';
import { ObjectService } from './objects/object-service.js';
import { SnapshotService } from './snapshot/snapshot.service.js';
import { ServiceKeys } from './store/service-keys.js';
import { AttributionService } from './telemetry/attribution.service.js';
import { EventFeed } from './telemetry/event-feed.js';
import { TelemetryService } from './telemetry/telemetry.service.js';
import { CONFIG, KEYS, LOGGER, STORE, TLS } from './tokens.js';

export interface AppContext {
  config: ServiceConfig;
  store: Store;
  tls: TlsMaterial | undefined;
  log: Logger;
}

@Module({})
export class AppModule {
  static forRoot(context: AppContext): DynamicModule {
    const providers: Provider[] = [
      { provide: CONFIG, useValue: context.config },
      { provide: STORE, useValue: context.store },
      { provide: KEYS, useValue: new ServiceKeys(context.config.storePrefix) },
      { provide: TLS, useValue: context.tls },
      { provide: LOGGER, useValue: context.log },
      MetricsService,
      { provide: RenderCache, useValue: new RenderCache() },
      {
        provide: RENDERERS,
        useFactory: (cache: RenderCache, metrics: MetricsService) => {
          const renderers = cachedLsmRenderers(cache);
          // Cache effectiveness, as counters.
          const counted = (fn: typeof renderers.apparmor): typeof renderers.apparmor => (policies, host) => {
            const misses = cache.misses;
            const out = fn(policies, host);
            if (cache.misses > misses) metrics.renderCacheMisses.inc();
            else metrics.renderCacheHits.inc();
            return out;
          };
          return { apparmor: counted(renderers.apparmor), selinux: counted(renderers.selinux) };
        },
        inject: [RenderCache, MetricsService],
      },
      AuthService,
      AdminBootstrapService,
      ReplicaService,
      HostStatusService,
      {
        provide: ObjectService,
        useFactory: (store: Store, keys: ServiceKeys, status: HostStatusService) => {
          const objects = new ObjectService(store, keys);
          objects.setDecorator((kind, items) => status.decorate(kind, items));
          return objects;
        },
        inject: [STORE, KEYS, HostStatusService],
      },
      DesiredStateService,
      AgentSessions,
      AttributionService,
      TelemetryService,
      EventFeed,
      HousekeepingService,
      InstallService,
      SnapshotService,
      { provide: DISCOVERY_OPTIONS, useValue: {} },
      SourceResolvers,
      DiscoveryLeaderService,
      DiscoverService,
    ];
    return {
      module: AppModule,
      providers,
      controllers: [HttpController, ControlController, AgentController, InstallController],
    };
  }
}
