/**
 * Fitting events into store values. A stored batch is one value (at most MAX_VALUE_BYTES) written in
 * the same commit as the host's cursor, so a batch an agent may send (1 MiB of events as it encodes
 * them, more once attributed and stored as JSON) is stored as several chunks, each atomic with the
 * cursor moving past it: a crash between chunks leaves the cursor at the last stored one, and the
 * agent's resend stores the rest once.
 */
import type { Event } from '@kvmservice/api';

/** The largest stored form of one event; longer string fields are cut to fit. */
export const MAX_STORED_EVENT_BYTES = 256 * 1024;

const TRUNCATED_MARK = '…[truncated by kvmservice]';

/** The string fields an event may carry at length, cut longest first when the event is too large. */
const LONG_FIELDS = ['data', 'message', 'resource', 'source', 'cwd', 'processName', 'parentProcessName', 'tags'] as const;

const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');

/**
 * The event if its JSON fits in `maxBytes`, else a copy with its longest strings (fields and
 * eventData values) cut and marked, and `truncated` set. Everything else (sequence number, host,
 * operation, action, result, policy) is kept: the event still counts and is still attributed.
 */
export function boundEvent(event: Event, maxBytes = MAX_STORED_EVENT_BYTES): { event: Event; truncated: boolean } {
  if (jsonBytes(event) <= maxBytes) return { event, truncated: false };
  const copy: Event = { ...event, eventData: { ...(event.eventData ?? {}) } };
  const data = copy.eventData as Record<string, string>;
  type Slot = { get(): string; set(v: string): void };
  const slots: Slot[] = [
    ...LONG_FIELDS.filter((f) => typeof copy[f] === 'string').map((f): Slot => ({ get: () => copy[f] as string, set: (v) => ((copy as Record<string, unknown>)[f] = v) })),
    ...Object.keys(data).map((k): Slot => ({ get: () => data[k]!, set: (v) => (data[k] = v) })),
  ];
  // Cut the longest string by the excess (a character is at least one byte, so that is enough
  // unless the string is shorter than the excess; then the next longest goes too). Every cut is
  // marked so a reader sees it.
  for (let size = jsonBytes(copy), guard = 0; size > maxBytes && guard <= slots.length; size = jsonBytes(copy), guard++) {
    const longest = slots.reduce((a, b) => (b.get().length > a.get().length ? b : a));
    const text = longest.get();
    if (text.length <= TRUNCATED_MARK.length * 2) break;
    const kept = text.endsWith(TRUNCATED_MARK) ? text.slice(0, -TRUNCATED_MARK.length) : text;
    longest.set(kept.slice(0, Math.max(0, kept.length - (size - maxBytes) - TRUNCATED_MARK.length * 4)) + TRUNCATED_MARK);
  }
  return { event: copy, truncated: true };
}

/**
 * Consecutive runs of events whose stored form (`{"events":[...]}`) stays within `maxBytes`. Each
 * event must already fit on its own (boundEvent). Deterministic: the same events give the same chunks.
 */
export function chunkEvents(events: readonly Event[], maxBytes: number): Event[][] {
  const chunks: Event[][] = [];
  let current: Event[] = [];
  let bytes = jsonBytes({ events: [] });
  for (const event of events) {
    const size = jsonBytes(event) + 1;
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = jsonBytes({ events: [] });
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
