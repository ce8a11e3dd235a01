/**
 * Discovery models in the store, and the stored events they are built from.
 *
 * A host's model lives under `${prefix}/discovery/models/<host>`: one line of JSON saying how far it
 * has consumed the host's events (`lastSeq`, and `batchFirst`, the key of the batch holding it),
 * then the model (libs/discovery `serializeModel`, at most 768 KiB). Model and position are one
 * value, so whoever reads it resumes exactly after the last event the model holds: no event is
 * observed twice, none is skipped. `${prefix}/discovery/cursors/<host>` repeats the first line (a
 * small index to list), written in the same commit. Writes are conditional on the revisions read,
 * so two writers (an old and a new leader) can never interleave.
 */
import type { Event__Output } from '@kvmservice/api';
import { fromWireEvent } from '@kvmservice/auditlog';
import { createHostModel, observeEvents, parseModel, serializeModel, type HostModel, type SourceResolver } from '@kvmservice/discovery';
import type { CommitOperation, KeyValue, Store } from '@kvmservice/store';
import type { ServiceKeys } from '../store/service-keys.js';
import type { StoredBatch } from '../telemetry/telemetry.service.js';
import { seqRangePrefixes } from './seq-range.js';

export interface ModelPosition {
  host: string;
  /** Highest event sequence number the model holds (0: none). */
  lastSeq: number;
  /** First sequence number (key) of the batch holding `lastSeq` (0: none): reading resumes there. */
  batchFirst: number;
  /** Events observed in total. */
  events: number;
  updatedAt: string;
}

export interface HostModelState extends ModelPosition {
  model: HostModel;
  /** modRevision of the stored model and position keys (undefined: not stored yet). */
  modelRevision: number | undefined;
  cursorRevision: number | undefined;
  /** Why the stored model could not be read (it is replaced by a new one, and this is counted). */
  unreadable?: string;
}

/** Batches read per list call while catching up (each holds up to 5 000 events). */
const PAGE = 50;

function parseHeader(text: string, host: string): Omit<ModelPosition, 'host'> | undefined {
  try {
    const h = JSON.parse(text) as Partial<ModelPosition>;
    if (h.host !== host || !Number.isSafeInteger(h.lastSeq) || !Number.isSafeInteger(h.batchFirst)) return undefined;
    return { lastSeq: h.lastSeq!, batchFirst: h.batchFirst!, events: Number.isSafeInteger(h.events) ? h.events! : 0, updatedAt: String(h.updatedAt ?? '') };
  } catch {
    return undefined;
  }
}

/** Reads a stored model value; never throws (an unreadable value gives a fresh model and the reason). */
export function readModelValue(host: string, kv: KeyValue | undefined, cursor: KeyValue | undefined): HostModelState {
  const fresh = (unreadable?: string): HostModelState => ({
    host,
    lastSeq: 0,
    batchFirst: 0,
    events: 0,
    updatedAt: '',
    model: createHostModel(host),
    modelRevision: kv?.modRevision,
    cursorRevision: cursor?.modRevision,
    ...(unreadable ? { unreadable } : {}),
  });
  if (!kv) return fresh();
  const text = kv.value.toString('utf8');
  const newline = text.indexOf('\n');
  const header = newline < 0 ? undefined : parseHeader(text.slice(0, newline), host);
  if (!header) return fresh('the first line is not a position for this host');
  const parsed = parseModel(text.slice(newline + 1));
  if (!parsed.ok) return fresh(parsed.error);
  if (parsed.model.host !== host) return fresh(`the model is of host ${parsed.model.host}`);
  return { host, ...header, model: parsed.model, modelRevision: kv.modRevision, cursorRevision: cursor?.modRevision };
}

export class DiscoveryModels {
  constructor(
    private readonly store: Store,
    private readonly keys: ServiceKeys,
    private readonly parseBatch: (key: string, value: Buffer) => StoredBatch | undefined,
  ) {}

  /** The stored model of a host (a fresh one when none is stored). */
  async load(host: string): Promise<HostModelState> {
    const [kv, cursor] = await Promise.all([this.store.get(this.keys.discoveryModel(host)), this.store.get(this.keys.discoveryCursor(host))]);
    return readModelValue(host, kv, cursor);
  }

  /**
   * Writes a model and its position in one commit, on condition that neither changed since it was
   * read (ConflictError / AlreadyExistsError otherwise: someone else wrote it; reload).
   */
  async save(state: HostModelState, now: Date = new Date()): Promise<void> {
    const position: ModelPosition = { host: state.host, lastSeq: state.lastSeq, batchFirst: state.batchFirst, events: state.events, updatedAt: now.toISOString() };
    const header = JSON.stringify(position);
    const value = `${header}\n${serializeModel(state.model)}`;
    const op = (key: string, v: string, revision: number | undefined): CommitOperation =>
      revision === undefined ? { type: 'create', key, value: v } : { type: 'update', key, value: v, expectRevision: revision };
    const result = await this.store.commit([
      op(this.keys.discoveryModel(state.host), value, state.modelRevision),
      op(this.keys.discoveryCursor(state.host), header, state.cursorRevision),
    ]);
    state.modelRevision = (result.results[0] as KeyValue).modRevision;
    state.cursorRevision = (result.results[1] as KeyValue).modRevision;
    state.updatedAt = position.updatedAt;
    delete state.unreadable;
  }

  /** Every host with stored events, and the highest sequence number stored for it. */
  async eventCursors(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const prefix = this.keys.eventCursor();
    let cont: string | undefined;
    do {
      const page = await this.store.list(prefix, { limit: 1000, ...(cont ? { continue: cont } : {}) });
      for (const kv of page.items) {
        try {
          out.set(kv.key.slice(prefix.length), (JSON.parse(kv.value.toString('utf8')) as { upTo: number }).upTo);
        } catch {
          // not ours to judge: TelemetryService writes these
        }
      }
      cont = page.continue;
    } while (cont);
    return out;
  }

  /** Every stored model position (the small index), by host. */
  async positions(): Promise<Map<string, ModelPosition>> {
    const out = new Map<string, ModelPosition>();
    const prefix = this.keys.discoveryCursor();
    let cont: string | undefined;
    do {
      const page = await this.store.list(prefix, { limit: 1000, ...(cont ? { continue: cont } : {}) });
      for (const kv of page.items) {
        const host = kv.key.slice(prefix.length);
        const h = parseHeader(kv.value.toString('utf8'), host);
        if (h) out.set(host, { host, ...h });
      }
      cont = page.continue;
    } while (cont);
    return out;
  }

  /** The highest event sequence number stored for a host (0: none). */
  async upTo(host: string): Promise<number> {
    const kv = await this.store.get(this.keys.eventCursor(host));
    if (!kv) return 0;
    try {
      return (JSON.parse(kv.value.toString('utf8')) as { upTo: number }).upTo;
    } catch {
      return 0;
    }
  }

  /** The stored batches of a host whose first sequence number is in [from, to], in order. */
  async *batches(host: string, from: number, to: number): AsyncGenerator<StoredBatch> {
    const base = this.keys.events(host);
    for (const prefix of seqRangePrefixes(Math.max(1, from), to)) {
      let cont: string | undefined;
      do {
        const page = await this.store.list(base + prefix, { limit: PAGE, ...(cont ? { continue: cont } : {}) });
        for (const kv of page.items) {
          const batch = this.parseBatch(kv.key, kv.value);
          if (batch && batch.host === host) yield batch;
        }
        cont = page.continue;
      } while (cont);
    }
  }
}

/**
 * Observes the events of a batch the model does not hold yet (sequence numbers above `lastSeq`)
 * and moves the position. Returns how many were observed and how many sequence numbers were
 * missing before them (events the agent dropped, or that retention deleted before discovery read
 * them).
 */
export function observeBatch(state: HostModelState, batch: StoredBatch, nowMs: number, sourceResolver?: SourceResolver): { observed: number; gap: number } {
  const fresh = (batch.events as Event__Output[]).filter((e) => Number(e.seq) > state.lastSeq).sort((a, b) => Number(a.seq) - Number(b.seq));
  if (fresh.length === 0) return { observed: 0, gap: 0 };
  const first = Number(fresh[0]!.seq);
  const gap = Math.max(0, first - state.lastSeq - 1);
  observeEvents(state.model, fresh.map(fromWireEvent), nowMs, sourceResolver ? { sourceResolver } : {});
  state.lastSeq = Number(fresh[fresh.length - 1]!.seq);
  state.batchFirst = batch.firstSeq;
  state.events += fresh.length;
  return { observed: fresh.length, gap };
}
