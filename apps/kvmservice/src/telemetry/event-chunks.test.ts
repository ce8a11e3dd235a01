import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Event } from '@kvmservice/api';
import { boundEvent, chunkEvents } from './event-chunks.js';

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v), 'utf8');
const event = (seq: number, data: string, extra: Partial<Event> = {}): Event => ({ seq, hostName: 'h', operation: 'File', resource: `/srv/${seq}`, data, type: 'HostLog', ...extra });

describe('boundEvent', () => {
  it('keeps an event that fits untouched', () => {
    const e = event(1, 'x'.repeat(100));
    expect(boundEvent(e, 4096)).toEqual({ event: e, truncated: false });
  });

  it('cuts the longest strings, marks the cut, and keeps what identifies the event', () => {
    const e = event(7, 'd'.repeat(300_000), { message: 'm'.repeat(50_000), eventData: { 'lsm.profile': 'p'.repeat(100_000), small: 'ok' }, policyName: 'pol', action: 'Block' });
    const { event: cut, truncated } = boundEvent(e, 64 * 1024);
    expect(truncated).toBe(true);
    expect(bytes(cut)).toBeLessThanOrEqual(64 * 1024);
    expect(cut.data).toMatch(/^d*…\[truncated by kvmservice\]$/);
    expect(cut.eventData!['lsm.profile']).toMatch(/truncated by kvmservice/);
    expect(cut.eventData!.small).toBe('ok');
    expect([cut.seq, cut.policyName, cut.action, cut.operation]).toEqual([7, 'pol', 'Block', 'File']);
    // The input is not changed.
    expect(e.data!.length).toBe(300_000);
  });

  it('fits any event with long fields (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('data', 'message', 'resource', 'source', 'cwd'), fc.nat(200_000)), { maxLength: 5 }), fc.nat(50), (fields, keys) => {
        const e: Event = event(1, '');
        for (const [f, n] of fields) (e as Record<string, unknown>)[f] = 'é'.repeat(n);
        e.eventData = Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, 'v'.repeat(i * 3000)]));
        expect(bytes(boundEvent(e, 256 * 1024).event)).toBeLessThanOrEqual(256 * 1024);
      }),
      { numRuns: 30 },
    );
  });
});

describe('chunkEvents', () => {
  it('splits into consecutive runs within the limit, in order, losing nothing', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(20_000), { maxLength: 300 }), (sizes) => {
        const events = sizes.map((n, i) => event(i + 1, 'x'.repeat(n)));
        const chunks = chunkEvents(events, 64 * 1024);
        expect(chunks.flat()).toEqual(events);
        for (const c of chunks) {
          expect(c.length).toBeGreaterThan(0);
          expect(bytes({ events: c })).toBeLessThanOrEqual(64 * 1024);
        }
        expect(chunkEvents(events, 64 * 1024)).toEqual(chunks);
      }),
      { numRuns: 100 },
    );
  });
});
