import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seqKey, seqRangePrefixes } from './seq-range.js';

describe('seqRangePrefixes', () => {
  it('covers exactly the range, with disjoint ascending prefixes (fast-check)', () => {
    const seq = fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 10 ** 9 }), fc.constantFrom(0, 9, 10, 99, 100, 999_999, 10 ** 15));
    fc.assert(
      fc.property(seq, seq, fc.array(seq, { maxLength: 30 }), (a, b, probes) => {
        const [from, to] = a <= b ? [a, b] : [b, a];
        const prefixes = seqRangePrefixes(from, to);
        expect([...prefixes].sort()).toEqual(prefixes);
        for (let i = 1; i < prefixes.length; i++) expect(prefixes[i]!.startsWith(prefixes[i - 1]!)).toBe(false);
        expect(prefixes.length).toBeLessThanOrEqual(2 * 9 * 20);
        for (const x of [...probes, from, to, from - 1, to + 1, Math.floor((from + to) / 2)].filter((n) => n >= 0)) {
          const hits = prefixes.filter((p) => seqKey(x).startsWith(p)).length;
          expect(hits, `${x} in [${from}, ${to}]`).toBe(x >= from && x <= to ? 1 : 0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('is small for the ranges a reader asks for', () => {
    expect(seqRangePrefixes(5, 5)).toEqual([seqKey(5)]);
    expect(seqRangePrefixes(100, 199)).toEqual([`${'0'.repeat(17)}1`]);
    expect(seqRangePrefixes(100, 299)).toEqual([`${'0'.repeat(17)}1`, `${'0'.repeat(17)}2`]);
    expect(seqRangePrefixes(123_456, 125_000).length).toBeLessThanOrEqual(20);
    expect(seqRangePrefixes(10, 5)).toEqual([]);
    expect(seqRangePrefixes(-1, 5)).toEqual([]);
  });
});
