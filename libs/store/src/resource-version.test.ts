import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatResourceVersion, parseResourceVersion } from './resource-version.js';

describe('resourceVersion', () => {
  it('round-trips revisions as decimal strings', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (revision) => {
        expect(parseResourceVersion(formatResourceVersion(revision))).toEqual({ ok: true, revision });
      }),
    );
  });

  it('rejects anything else with a reason, never throws', () => {
    for (const bad of ['', '0', '-1', '01', '1.5', ' 1', '1e3', '99999999999999999', 'abc', 42, null]) {
      const parsed = parseResourceVersion(bad);
      expect(parsed.ok).toBe(false);
    }
    fc.assert(fc.property(fc.anything(), (input) => typeof parseResourceVersion(input).ok === 'boolean'));
  });
});
