import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STORE_URL, parseStoreUrl } from './store-url.js';

describe('parseStoreUrl', () => {
  it('reads sqlite and etcd URLs', () => {
    expect(parseStoreUrl(DEFAULT_STORE_URL)).toEqual({ kind: 'sqlite', path: './data/kvmservice.db' });
    expect(parseStoreUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
    expect(parseStoreUrl('sqlite:/var/lib/kvm/store.db')).toEqual({ kind: 'sqlite', path: '/var/lib/kvm/store.db' });
    expect(parseStoreUrl('etcd://10.0.0.1:2379,etcd-2.internal:2379,[::1]:2379/')).toEqual({
      kind: 'etcd',
      endpoints: ['10.0.0.1:2379', 'etcd-2.internal:2379', '[::1]:2379'],
    });
  });

  it('names what is wrong in one line', () => {
    for (const [url, reason] of [
      ['', /empty/],
      ['sqlite:', /needs a file path/],
      ['etcd://', /endpoint "" is not host:port/],
      ['etcd://host', /endpoint "host" is not host:port/],
      ['etcd://host:99999', /endpoint "host:99999"/],
      ['etcd://a:1,,b:2', /endpoint ""/],
      ['postgres://x', /expected sqlite:PATH or etcd:\/\//],
    ] as const) {
      const parsed = parseStoreUrl(url);
      expect(parsed.kind).toBe('invalid');
      if (parsed.kind === 'invalid') {
        expect(parsed.reason).toMatch(reason);
        expect(parsed.reason).not.toContain('\n');
      }
    }
    expect(parseStoreUrl(undefined).kind).toBe('invalid');
  });

  it('is total', () => {
    fc.assert(fc.property(fc.anything(), (input) => ['sqlite', 'etcd', 'invalid'].includes(parseStoreUrl(input).kind)));
    fc.assert(fc.property(fc.string(), (tail) => ['sqlite', 'etcd', 'invalid'].includes(parseStoreUrl(`etcd://${tail}`).kind)));
  });
});
