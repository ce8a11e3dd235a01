/**
 * Prometheus metrics of one kvmservice instance (its own registry, so several instances can run
 * in one process, as the tests do).
 */
import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly agentsConnected = new Gauge({ name: 'kvmservice_agents_connected', help: 'Agents with an open Sync stream on this replica', registers: [this.registry] });
  readonly joins = new Counter({ name: 'kvmservice_agent_joins_total', help: 'Join calls by result', labelNames: ['result'], registers: [this.registry] });
  readonly desiredPushes = new Counter({ name: 'kvmservice_desired_state_pushes_total', help: 'Desired states sent to agents', registers: [this.registry] });
  readonly appliedLag = new Histogram({
    name: 'kvmservice_applied_revision_lag',
    help: 'Store revisions between the newest desired state and the one an agent reported applied',
    buckets: [0, 1, 5, 20, 100, 1000],
    registers: [this.registry],
  });
  readonly renderCacheHits = new Counter({ name: 'kvmservice_render_cache_hits_total', help: 'Renders served from the cache', registers: [this.registry] });
  readonly renderCacheMisses = new Counter({ name: 'kvmservice_render_cache_misses_total', help: 'Renders computed', registers: [this.registry] });
  readonly eventsReceived = new Counter({ name: 'kvmservice_events_received_total', help: 'Events received from agents (after de-duplication)', registers: [this.registry] });
  readonly eventsDuplicate = new Counter({ name: 'kvmservice_events_duplicate_total', help: 'Events received again and discarded (at-least-once delivery)', registers: [this.registry] });
  readonly eventsAcked = new Counter({ name: 'kvmservice_events_acked_total', help: 'Events acknowledged to agents', registers: [this.registry] });
  readonly eventsTrimmed = new Counter({ name: 'kvmservice_events_trimmed_total', help: 'Stored events deleted by retention (oldest first, beyond the per-host limit)', registers: [this.registry] });
  readonly eventsTruncated = new Counter({ name: 'kvmservice_events_truncated_total', help: 'Events stored with long fields cut to fit a stored event (256 KiB); the cut is marked in the event', registers: [this.registry] });
  readonly agentEventsDropped = new Gauge({ name: 'kvmservice_agent_events_dropped', help: 'Events an agent dropped because its spool was full, as it reports', labelNames: ['host'], registers: [this.registry] });
  readonly discoveryEvents = new Counter({ name: 'kvmservice_discovery_events_observed_total', help: 'Stored events observed into discovery models (this replica, while it leads discovery)', registers: [this.registry] });
  readonly discoveryGaps = new Counter({
    name: 'kvmservice_discovery_event_gaps_total',
    help: 'Event sequence numbers missing when discovery read a host (dropped by the agent, or deleted by retention before discovery read them)',
    registers: [this.registry],
  });
  readonly discoveryWrites = new Counter({ name: 'kvmservice_discovery_model_writes_total', help: 'Discovery model writes by result (ok, conflict: another writer was first, error: retried)', labelNames: ['result'], registers: [this.registry] });
  readonly discoveryUnreadable = new Counter({ name: 'kvmservice_discovery_models_unreadable_total', help: 'Stored discovery models that could not be read and were replaced by new ones', registers: [this.registry] });
  readonly discoveryLeader = new Gauge({ name: 'kvmservice_discovery_leader', help: '1 while this replica leads discovery', registers: [this.registry] });
  readonly grpcDuration = new Histogram({
    name: 'kvmservice_grpc_request_duration_seconds',
    help: 'Duration of unary gRPC calls',
    labelNames: ['method'],
    buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'kvmservice_' });
    // prom-client names these gauges *_total, which `promtool check metrics` rejects.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(`kvmservice_${name}`);
    }
  }

  /** Starts timing a unary call; call the result when it ends. */
  grpcTimer(method: string): () => void {
    return this.grpcDuration.startTimer({ method });
  }
}
