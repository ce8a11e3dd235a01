import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { globPatternReason, MAX_PATTERN_LENGTH, unbalancedPatternReason, unsafeTextReason } from './safe-text.js';

describe('unsafeTextReason', () => {
  it.each([
    ['/etc/passwd'],
    ['/tmp/a b,c#d'],
    ['/srv/data/ümlaut'],
    ['/tmp/@home'],
    ['/tmp/{a,b}'],
    ['/tmp/\u{1f600}'],
  ])('accepts %j', (text) => {
    expect(unsafeTextReason(text)).toBeUndefined();
  });

  it.each([
    ['/tmp/a\nb', 'control characters (found U+000a)'],
    ['/tmp/a\u0000', 'control characters (found U+0000)'],
    ['/tmp/a\u007f', 'control characters (found U+007f)'],
    ['/tmp/a"b', 'double quote'],
    ['/tmp/a\\b', 'backslash'],
    ['/tmp/@{HOME}', '"@{"'],
    ['/tmp/a\ud800', 'lone UTF-16 surrogate'],
    ['/tmp/\udc00b', 'lone UTF-16 surrogate'],
  ])('refuses %j', (text, reason) => {
    expect(unsafeTextReason(text)).toContain(reason);
  });
});

// Patterns the validator accepts must compile, and the ones it refuses for syntax must be ones
// apparmor_parser refuses too (or, for the ones AppArmor mis-reads, listed with the reason).
const ACCEPTED = [
  '/tmp/*',
  '/usr/bin/apt*',
  '/home/**/.ssh/*',
  '/tmp/?',
  '/tmp/{a,b}',
  '/tmp/{,**}',
  '/tmp/{,,}',
  '/tmp/{a,{b,c}}',
  '/tmp/{a,b}{c,d}',
  '/tmp/[abc]',
  '/tmp/[^a-z]',
  '/tmp/[-a]',
  '/tmp/[a-z0-9]',
  '/tmp/{a[,]b,c}',
  '/tmp/[,]',
  '/tmp/a,b',
  '/tmp/ü*',
];

const REFUSED_BY_PARSER: [string, string][] = [
  ['/tmp/[]', 'empty character class'],
  ['/tmp/[^]', 'empty character class'],
  ['/tmp/[a-]', 'ending in "-"'],
  ['/tmp/[a-b-c]', 'chained ranges'],
  ['/tmp/a]', '"]" without a matching "["'],
  ['/tmp/[a-z', '"[" without a matching "]"'],
  ['/tmp/{}', 'single alternative'],
  ['/tmp/{head}', 'single alternative'],
  ['/tmp/{a,{b}}', 'single alternative'],
  ['/tmp/{a', '"{" without a matching "}"'],
  ['/tmp/a}', '"}" without a matching "{"'],
  ['/tmp/{[,]}', 'single alternative'],
];

// AppArmor compiles these but means something else than the text says, so they are refused too.
const REFUSED_AS_MISLEADING: [string, string][] = [
  ['/tmp/[*]', '"*" inside a character class'],
  ['/tmp/[?]', '"?" inside a character class'],
  ['/tmp/[a^]', '"^" inside a character class'],
  ['/tmp/[é]', 'non-ASCII character inside a character class'],
  ['/tmp/[!a]', 'starting with "!"'],
  ['/tmp/[z-a]', 'descending character range "z-a"'],
  ['/tmp/[{]', '"{" inside a character class'],
  [`/${'a'.repeat(MAX_PATTERN_LENGTH)}`, `at most ${MAX_PATTERN_LENGTH} characters`],
];

describe('globPatternReason', () => {
  const work = mkdtempSync(join(tmpdir(), 'safe-text-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  function compiles(pattern: string): boolean {
    const file = join(work, 'profile');
    writeFileSync(file, `profile t {\n  "${pattern}" r,\n}\n`);
    const run = spawnSync('apparmor_parser', ['-Q', '-K', '-M', '/usr/share/apparmor-features/features', file], { encoding: 'utf8', timeout: 30_000 });
    // A missing parser is a failure (scripts/ensure-debian-packages.sh installs Debian's apparmor), never a skip.
    if (run.error) throw new Error(`apparmor_parser could not be run (install the Debian package apparmor): ${run.error.message}`);
    return run.status === 0;
  }

  it.each(ACCEPTED.map((p) => [p]))('accepts %j, and apparmor_parser compiles it', (pattern) => {
    expect(globPatternReason(pattern)).toBeUndefined();
    expect(compiles(pattern)).toBe(true);
  });

  it.each(REFUSED_BY_PARSER)('refuses %j (%s), as apparmor_parser does', (pattern, reason) => {
    expect(globPatternReason(pattern)).toContain(reason);
    expect(compiles(pattern)).toBe(false);
  });

  it.each(REFUSED_AS_MISLEADING)('refuses %j (%s)', (pattern, reason) => {
    expect(globPatternReason(pattern)).toContain(reason);
  });

  it('keeps the old name as the same check', () => {
    expect(unbalancedPatternReason('/tmp/{head}')).toBe(globPatternReason('/tmp/{head}'));
    expect(unbalancedPatternReason('/tmp/*')).toBeUndefined();
  });
});
