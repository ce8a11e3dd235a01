import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { globMatches, inDirectory } from './glob.js';

/**
 * The glob as a backtracking regular expression (the translation the matcher replaced), as an
 * oracle on inputs small enough for backtracking to be harmless.
 */
function oracle(glob: string, path: string): boolean | undefined {
  const esc = (ch: string) => (/[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch);
  let out = '';
  let depth = 0;
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '\\' && i + 1 < glob.length) out += esc(glob[++i]!);
    else if (ch === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        while (glob[i + 1] === '*') i++;
      } else out += '[^/]*';
    } else if (ch === '?') out += '[^/]';
    else if (ch === '{') {
      depth++;
      out += '(?:';
    } else if (ch === '}' && depth > 0) {
      depth--;
      out += ')';
    } else if (ch === ',' && depth > 0) out += '|';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^/' : ''}${body.replace(/[\\\]^]/g, (c) => `\\${c}`)}]`;
      i = end;
    } else out += esc(ch);
  }
  out += ')'.repeat(depth);
  let re: RegExp;
  try {
    re = new RegExp(`^${out}$`, 's');
  } catch {
    return undefined; // a descending range: refused by validation, no oracle
  }
  return re.test(path);
}

describe('globMatches', () => {
  it('speaks AppArmor globbing', () => {
    expect(globMatches('/a/*', '/a/b')).toBe(true);
    expect(globMatches('/a/*', '/a/b/c')).toBe(false);
    expect(globMatches('/a/**', '/a/b/c')).toBe(true);
    expect(globMatches('/a/**', '/a/')).toBe(true);
    expect(globMatches('/a/{b,c}/d', '/a/c/d')).toBe(true);
    expect(globMatches('/a/{b,c}/d', '/a/e/d')).toBe(false);
    expect(globMatches('/a/{,**}', '/a/')).toBe(true);
    expect(globMatches('/a/{x,{y,z}w}', '/a/zw')).toBe(true);
    expect(globMatches('/a/[0-9]?', '/a/5x')).toBe(true);
    expect(globMatches('/a/[^0-9]', '/a/5')).toBe(false);
    expect(globMatches('/a[^x]b', '/a/b')).toBe(false);
    expect(globMatches('/a.b', '/aXb')).toBe(false);
    expect(globMatches('/a/\\*', '/a/*')).toBe(true);
    expect(globMatches('/a/\\*', '/a/b')).toBe(false);
    expect(globMatches('/etc/passwd', '/etc/passwd')).toBe(true);
    expect(globMatches('/etc/passwd', '/etc/passwd2')).toBe(false);
  });

  it('takes malformed syntax literally, as before', () => {
    expect(globMatches('/a[b', '/a[b')).toBe(true);
    expect(globMatches('/a}b', '/a}b')).toBe(true);
    expect(globMatches('/a,b', '/a,b')).toBe(true);
    expect(globMatches('/a{b,c', '/ac')).toBe(true);
    expect(globMatches('/a[]]', '/a]')).toBe(true);
  });

  it('agrees with the regular-expression translation on small inputs (fast-check)', () => {
    const globChar = fc.constantFrom('/', 'a', 'b', '*', '**', '?', '{', '}', ',', '[a-b]', '[^a]', '[]a]', '\\*', '.', '-', '[');
    const pathChar = fc.constantFrom('/', 'a', 'b', 'c', '*', '.', '-', ']', '[', ',', '{');
    fc.assert(
      fc.property(fc.array(globChar, { maxLength: 10 }), fc.array(pathChar, { maxLength: 12 }), (g, p) => {
        const glob = g.join('');
        const path = p.join('');
        const expected = oracle(glob, path);
        fc.pre(expected !== undefined);
        expect(globMatches(glob, path)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('is linear on a pattern that makes a backtracking matcher exponential', () => {
    // `/**a**a**a…b` against `/aaaa…`: a backtracking regex tries every way to split the a's between
    // the 30 `**` (C(4096, 30) ways) before failing; the NFA keeps at most 62 states per character.
    const glob = `/${'**a'.repeat(30)}b`;
    const path = `/${'a'.repeat(4096)}`;
    expect(globMatches(glob, path)).toBe(false);
    expect(globMatches(glob, `${path}b`)).toBe(true);
    const star = `/${'*a'.repeat(40)}*b`;
    expect(globMatches(star, `/${'a'.repeat(4096)}`)).toBe(false);
    const alternations = `/${'{a,a*}'.repeat(40)}b`;
    expect(globMatches(alternations, `/${'a'.repeat(2000)}`)).toBe(false);
  });
});

describe('inDirectory', () => {
  it('matches the directory, its children and (recursive) its descendants', () => {
    expect(inDirectory('/a/', false, '/a/')).toBe(true);
    expect(inDirectory('/a/', false, '/a/b')).toBe(true);
    expect(inDirectory('/a/', false, '/a/b/c')).toBe(false);
    expect(inDirectory('/a/', true, '/a/b/c')).toBe(true);
    expect(inDirectory('/a/', true, '/ab')).toBe(false);
  });
});
