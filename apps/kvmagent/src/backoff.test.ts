import { describe, expect, it } from 'vitest';
import { Backoff, sleep } from './backoff.js';

describe('Backoff', () => {
  it('doubles up to the cap, with jitter in the upper half of each window', () => {
    const low = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0 });
    const high = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0.999999 });
    expect(Array.from({ length: 7 }, () => low.next())).toEqual([50, 100, 200, 400, 500, 500, 500]);
    expect(Array.from({ length: 7 }, () => high.next())).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('spreads a fleet: many agents retrying at once do not wait the same time', () => {
    const waits = Array.from({ length: 200 }, () => {
      const b = new Backoff({ baseMs: 500, maxMs: 30_000 });
      for (let i = 0; i < 5; i++) b.next();
      return b.next();
    });
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(8000);
    expect(Math.max(...waits)).toBeLessThanOrEqual(16000);
    expect(new Set(waits).size).toBeGreaterThan(150);
  });

  it('starts over after reset', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0 });
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(50);
  });

  it('sleep ends early when aborted', async () => {
    const c = new AbortController();
    const started = Date.now();
    setTimeout(() => c.abort(), 20);
    await sleep(10_000, c.signal);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
