import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileMatcher, escapeRegexLiteral, fromByteString, globToRegex, literalDirectory, literalPrefix, toByteString } from './render-path-regex.js';

const matches = (pattern: string, path: string) => compileMatcher(globToRegex(pattern)).test(toByteString(path));

describe('literal paths as file-context regexes', () => {
  it('escapes every regex metacharacter and writes spaces as \\x20', () => {
    expect(escapeRegexLiteral('/a.b/c+d(e)[f]{g}|h^$*?i')).toBe('/a\\.b/c\\+d\\(e\\)\\[f\\]\\{g\\}\\|h\\^\\$\\*\\?i');
    expect(escapeRegexLiteral('/my dir/x')).toBe('/my\\x20dir/x');
    expect(escapeRegexLiteral('/é/日')).toBe('/\\xc3\\xa9/\\xe6\\x97\\xa5'); // UTF-8 bytes: file_contexts must be ASCII
    expect(fromByteString(toByteString('/é/日'))).toBe('/é/日');
  });

  it('matches exactly the literal and nothing else (property)', () => {
    const text = fc.string({ unit: fc.constantFrom(...'/ab.+*?()[]{}|^$ -_é'), minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(text, text, (a, b) => {
        const re = compileMatcher(escapeRegexLiteral(a));
        expect(re.test(toByteString(a))).toBe(true);
        expect(re.test(toByteString(b))).toBe(a === b);
        expect(escapeRegexLiteral(a)).toMatch(/^[\x21-\x7e]+$/); // printable ASCII, no whitespace
      }),
      { numRuns: 500 },
    );
  });
});

describe('KubeArmor (AppArmor) globs as regexes', () => {
  it.each([
    ['/tmp/*', '/tmp/a', true],
    ['/tmp/*', '/tmp/', false], // a whole-component * matches at least one character
    ['/tmp/*', '/tmp/a/b', false],
    ['/tmp/**', '/tmp/a/b', true],
    ['/tmp/**', '/tmp/', false],
    ['/usr/bin/apt*', '/usr/bin/apt', true],
    ['/usr/bin/apt*', '/usr/bin/apt-get', true],
    ['/usr/bin/apt*', '/usr/bin/aptx/y', false],
    ['/a/?.log', '/a/x.log', true],
    ['/a/?.log', '/a//.log', false],
    ['/a/*.log', '/a/.log', true],
    ['/a/{b,c}/d', '/a/c/d', true],
    ['/a/{b,c}/d', '/a/e/d', false],
    ['/a/{,**}', '/a/', true],
    ['/a/{,**}', '/a/x/y', true],
    ['/a/{b,{c,d}e}', '/a/de', true],
    ['/a/[a-c]x', '/a/bx', true],
    ['/a/[^a-c]x', '/a/dx', true],
    ['/a/[^a-c]x', '/a/bx', false],
    ['/a/[ ]x', '/a/ x', true],
    ['/a b/*', '/a b/c', true],
    ['/a.b/*', '/aXb/c', false],
    ['/a(b)/*', '/a(b)/c', true],
    ['/données/*.csv', '/données/x.csv', true],
    ['/données/*.csv', '/donnees/x.csv', false],
  ])('%s matches %s: %s', (pattern, path, expected) => {
    expect(matches(pattern, path)).toBe(expected);
  });

  it('never writes whitespace into the regex', () => {
    expect(globToRegex('/a b/[ x]*')).not.toMatch(/\s/);
  });

  it('knows the literal part of a pattern', () => {
    expect(literalPrefix('/usr/bin/apt*')).toBe('/usr/bin/apt');
    expect(literalDirectory('/usr/bin/apt*')).toBe('/usr/bin');
    expect(literalDirectory('/*/x')).toBe('/');
    expect(literalDirectory('/tmp/{a,b}')).toBe('/tmp');
  });
});
