/**
 * Events from agents: de-duplicated by (host, sequence number), attributed to policies, stored
 * before they are acknowledged, and served to readers (StreamEvents) from the store, so every
 * replica sees every event whichever replica received it.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { Event, Event__Output, PushEventsRequest__Output } from '@kvmservice/api';
import { MAX_COMMIT_VALUE_BYTES, type Store } from '@kvmservice/store';
import type { ServiceKeys } from '../store/service-keys.js';
import { KEYS, STORE } from '../tokens.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { AttributionService } from './attribution.service.js';
import { boundEvent, chunkEvents } from './event-chunks.js';

/** Bytes of a commit kept for the cursor written beside a chunk of events. */
const CURSOR_ROOM = 1024;

/** Largest batch accepted in one message (the agent sends far less). */
export const MAX_EVENTS_PER_BATCH = 5000;

export interface StoredBatch {
  host: string;
  firstSeq: number;
  events: Event[];
}

@Injectable()
export class TelemetryService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(KEYS) private readonly keys: ServiceKeys,
    private readonly metrics: MetricsService,
    private readonly attribution: AttributionService,
  ) {}

  /**
   * The highest sequence number stored for a host. Read from the store every time (never cached):
   * an agent may move between replicas, and a stale cursor would store events twice.
   */
  async cursor(host: string): Promise<number> {
    const kv = await this.store.get(this.keys.eventCursor(host));
    return kv ? (JSON.parse(kv.value.toString('utf8')) as { upTo: number }).upTo : 0;
  }

  /**
   * Stores the new events of a batch and returns the sequence number everything up to which is
   * stored. Events at or below the host's cursor were stored before and are dropped as duplicates.
   * A batch that leaves a gap (its first event is past cursor + 1) is stored too: the gap is events
   * the agent lost (its spool overflowed), which the agent counts and reports.
   */
  async ingest(host: string, batch: PushEventsRequest__Output): Promise<number> {
    const events = batch.events.slice(0, MAX_EVENTS_PER_BATCH);
    const upTo = await this.cursor(host);
    const fresh: Event[] = [];
    events.forEach((e, i) => {
      const seq = batch.firstSeq + i;
      if (seq > upTo) fresh.push(this.attribution.attribute(host, { ...e, seq, hostName: host }));
    });
    this.metrics.eventsDuplicate.inc(events.length - fresh.length);
    if (fresh.length === 0) return upTo;
    let lastSeq = upTo;
    let truncated = 0;
    const bounded = fresh.map((e) => {
      const b = boundEvent(e);
      if (b.truncated) truncated++;
      return b.event;
    });
    this.metrics.eventsTruncated.inc(truncated);
    // Each chunk is keyed by its first sequence number and committed with the cursor moving past
    // it: a batch sent again after a crash stores only what the cursor has not passed, once.
    for (const chunk of chunkEvents(bounded, MAX_COMMIT_VALUE_BYTES - CURSOR_ROOM)) {
      const firstSeq = chunk[0]!.seq as number;
      lastSeq = firstSeq + chunk.length - 1;
      await this.store.commit([
        { type: 'put', key: this.keys.eventBatch(host, firstSeq), value: JSON.stringify({ events: chunk }) },
        { type: 'put', key: this.keys.eventCursor(host), value: JSON.stringify({ upTo: lastSeq }) },
      ]);
      this.metrics.eventsReceived.inc(chunk.length);
      this.metrics.eventsAcked.inc(chunk.length);
    }
    return lastSeq;
  }

  /** Parses a stored batch key and value. */
  parseBatch(key: string, value: Buffer): StoredBatch | undefined {
    const prefix = this.keys.events();
    if (!key.startsWith(prefix)) return undefined;
    const [host, seq] = key.slice(prefix.length).split('/');
    if (!host || !seq) return undefined;
    const { events } = JSON.parse(value.toString('utf8')) as { events: Event__Output[] };
    return { host, firstSeq: Number(seq), events };
  }
}
