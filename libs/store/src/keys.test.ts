import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from './errors.js';
import { collectionPrefix, keyBytes, prefixRangeEnd, resourceKey } from './keys.js';
import { encodeContinueToken, keyAfter, parseListOptions } from './list-paging.js';

const keyArb = fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => `/${s.replaceAll('\0', '')}`);

describe('key layout and ranges', () => {
  it('builds /<root>/<group>/<plural>/<name> and rejects bad segments by field', () => {
    const parts = { root: 'kvmservice', group: 'security.kubearmor.com', plural: 'kubearmorhostpolicies' };
    expect(collectionPrefix(parts)).toBe('/kvmservice/security.kubearmor.com/kubearmorhostpolicies/');
    expect(resourceKey({ ...parts, name: 'block-shell' })).toBe('/kvmservice/security.kubearmor.com/kubearmorhostpolicies/block-shell');
    expect(() => resourceKey({ ...parts, name: 'a/b' })).toThrow(/^name "a\/b"/);
    expect(() => collectionPrefix({ ...parts, group: '' })).toThrow(InvalidArgumentError);
  });

  it('puts exactly the keys with the prefix inside [prefix, rangeEnd)', () => {
    fc.assert(
      fc.property(keyArb, keyArb, (prefix, key) => {
        const start = keyBytes(prefix, 'prefix');
        const end = prefixRangeEnd(start);
        const bytes = keyBytes(key);
        const inside = Buffer.compare(bytes, start) >= 0 && Buffer.compare(bytes, end) < 0;
        expect(inside).toBe(bytes.subarray(0, start.length).equals(start));
      }),
    );
  });

  it('orders keyAfter(k) right after k', () => {
    fc.assert(
      fc.property(keyArb, keyArb, (a, b) => {
        const ka = keyBytes(a);
        const kb = keyBytes(b);
        if (Buffer.compare(kb, ka) > 0) expect(Buffer.compare(kb, keyAfter(ka))).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});

describe('list options', () => {
  const prefix = keyBytes('/p/');
  const end = prefixRangeEnd(prefix);

  it('round-trips continue tokens and refuses tampered or foreign ones', () => {
    const token = encodeContinueToken({ revision: 42, startKey: keyBytes('/p/b') });
    expect(parseListOptions({ limit: 5, continue: token }, prefix, end)).toEqual({
      limit: 5,
      position: { revision: 42, startKey: keyBytes('/p/b') },
    });
    const foreign = encodeContinueToken({ revision: 42, startKey: keyBytes('/q/b') });
    for (const bad of [foreign, token.slice(0, -3), 'x', Buffer.from('{"v":1,"r":-1,"k":""}').toString('base64url')]) {
      expect(() => parseListOptions({ continue: bad }, prefix, end)).toThrow(InvalidArgumentError);
    }
    fc.assert(
      fc.property(fc.string(), (garbage) => {
        try {
          parseListOptions({ continue: garbage }, prefix, end);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidArgumentError);
        }
      }),
    );
  });

  it('bounds the limit', () => {
    expect(parseListOptions(undefined, prefix, end)).toEqual({ limit: 0, position: undefined });
    for (const limit of [-1, 1.5, 10_001, Number.NaN]) {
      expect(() => parseListOptions({ limit }, prefix, end)).toThrow(/^limit /);
    }
  });
});
