/**
 * StreamEvents: stored events that pass the filters (karmor's: host, type, operation, source,
 * resource, policy, since, limit), then, when following, new ones as the store receives them.
 * Reads are paced by the reader: nothing is buffered beyond `limit` events.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { Event, Event__Output, StreamEventsRequest__Output } from '@kvmservice/api';
import type { Store } from '@kvmservice/store';
import { ApiError } from '../api-error.js';
import type { ServiceKeys } from '../store/service-keys.js';
import { KEYS, STORE } from '../tokens.js';
import { TelemetryService } from './telemetry.service.js';

export interface EventFilter {
  host?: string;
  type?: string;
  operation?: string;
  source?: RegExp;
  resource?: RegExp;
  policy?: string;
  sinceMs?: number;
}

function regex(field: string, text: string): RegExp | undefined {
  if (!text) return undefined;
  try {
    return new RegExp(text);
  } catch (e) {
    throw new ApiError('InvalidArgument', `${field}: invalid regular expression (${(e as Error).message})`);
  }
}

export function eventFilter(request: Pick<StreamEventsRequest__Output, 'host' | 'type' | 'operation' | 'source' | 'resource' | 'policy' | 'since'>): EventFilter {
  const type = request.type.toLowerCase();
  if (type !== '' && type !== 'alert' && type !== 'log') throw new ApiError('InvalidArgument', 'type: must be alert or log');
  return {
    ...(request.host ? { host: request.host } : {}),
    ...(type ? { type } : {}),
    ...(request.operation ? { operation: request.operation.toLowerCase() } : {}),
    ...(request.source ? { source: regex('source', request.source) } : {}),
    ...(request.resource ? { resource: regex('resource', request.resource) } : {}),
    ...(request.policy ? { policy: request.policy } : {}),
    ...(request.since > 0 ? { sinceMs: request.since } : {}),
  };
}

export function eventMatches(e: Event, f: EventFilter): boolean {
  if (f.host && e.hostName !== f.host) return false;
  if (f.type === 'alert' && e.type !== 'MatchedHostPolicy') return false;
  if (f.type === 'log' && e.type === 'MatchedHostPolicy') return false;
  if (f.operation && (e.operation ?? '').toLowerCase() !== f.operation) return false;
  if (f.source && !f.source.test(e.source ?? '')) return false;
  if (f.resource && !f.resource.test(e.resource ?? '')) return false;
  if (f.policy && !(e.policyName ?? '').split(',').includes(f.policy)) return false;
  if (f.sinceMs !== undefined && Number(e.timestamp ?? 0) / 1e6 < f.sinceMs) return false;
  return true;
}

@Injectable()
export class EventFeed {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(KEYS) private readonly keys: ServiceKeys,
    private readonly telemetry: TelemetryService,
  ) {}

  async *events(request: StreamEventsRequest__Output, signal: AbortSignal): AsyncGenerator<Event__Output> {
    const filter = eventFilter(request);
    const prefix = this.keys.events(filter.host ?? '');
    const lastSent = new Map<string, number>();
    const fresh = (host: string, events: Event__Output[]): Event__Output[] => {
      const seen = lastSent.get(host) ?? 0;
      const out = events.filter((e) => Number(e.seq) > seen);
      if (out.length > 0) lastSent.set(host, Math.max(seen, ...out.map((e) => Number(e.seq))));
      return out;
    };
    const limit = request.limit > 0 ? request.limit : 0;
    const tail: Event__Output[] = [];
    let cont: string | undefined;
    let revision = 0;
    do {
      const page = await this.store.list(prefix, { limit: 500, ...(cont ? { continue: cont } : {}) });
      revision = page.revision;
      for (const kv of page.items) {
        const batch = this.telemetry.parseBatch(kv.key, kv.value);
        if (!batch) continue;
        for (const e of fresh(batch.host, batch.events as Event__Output[])) {
          if (!eventMatches(e, filter)) continue;
          if (limit === 0) yield e;
          else {
            tail.push(e);
            if (tail.length > limit) tail.shift();
          }
        }
        if (signal.aborted) return;
      }
      cont = page.continue;
    } while (cont);
    yield* tail;
    if (!request.follow || signal.aborted) return;
    const watch = await this.store.watch(prefix, { fromRevision: revision + 1 });
    signal.addEventListener('abort', () => void watch.close(), { once: true });
    try {
      for await (const change of watch) {
        if (change.type !== 'PUT') continue;
        const batch = this.telemetry.parseBatch(change.key, change.kv.value);
        if (!batch) continue;
        for (const e of fresh(batch.host, batch.events as Event__Output[])) if (eventMatches(e, filter)) yield e;
      }
    } finally {
      await watch.close();
    }
  }
}
