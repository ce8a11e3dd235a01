import { describe, expect, it } from 'vitest';
import { httpRules } from './http-paths.js';

describe('httpRules', () => {
  it('keeps up to `threshold` siblings literal, escaped for Cilium regular expressions', () => {
    expect(httpRules(['GET /test1', 'GET /test2', 'POST /api/v1.0/items', 'GET /'])).toEqual([
      { method: 'GET', path: '/' },
      { method: 'GET', path: '/test1' },
      { method: 'GET', path: '/test2' },
      { method: 'POST', path: '/api/v1\\.0/items' },
    ]);
  });

  it('turns more than `threshold` numeric siblings into [0-9]+ and others into [^/]+, merging their subtrees', () => {
    const ids = [1, 2, 3, 4, 5, 6].map((i) => `GET /users/${i}/profile`);
    expect(httpRules(ids)).toEqual([{ method: 'GET', path: '/users/[0-9]+/profile' }]);
    expect(httpRules(ids, 6)).toHaveLength(6);
    const names = ['a', 'b', 'c', 'd', 'e', 'f7'].map((n) => `GET /files/${n}`);
    expect(httpRules([...names, 'GET /files/a/meta'])).toEqual([
      { method: 'GET', path: '/files/[^/]+' },
      { method: 'GET', path: '/files/[^/]+/meta' },
    ]);
    // per method
    expect(httpRules([...names, 'PUT /files/a'])).toEqual([
      { method: 'GET', path: '/files/[^/]+' },
      { method: 'PUT', path: '/files/a' },
    ]);
  });

  it('a request with a query string allows the query', () => {
    expect(httpRules(['GET /search?'])).toEqual([{ method: 'GET', path: '/search(\\?.*)?' }]);
  });
});
