/**
 * Characters a path or pattern from a policy may contain. Renderers quote every path and escape
 * glob characters of literal paths, but some text cannot be expressed safely in an AppArmor quoted
 * string or a CIL string at all, so it is refused at validation, naming the field (issue 3:
 * nothing from a policy can add a rule).
 */

const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /\p{Cs}/u;

/** Longest `matchPatterns[].pattern` accepted: keeps the parser's DFA construction bounded. */
export const MAX_PATTERN_LENGTH = 256;

/** Why `text` cannot be used as a path or pattern, or undefined when it can. */
export function unsafeTextReason(text: string): string | undefined {
  const control = CONTROL.exec(text);
  if (control) return `must not contain control characters (found U+${control[0].charCodeAt(0).toString(16).padStart(4, '0')})`;
  if (text.includes('"')) return 'must not contain a double quote (")';
  if (text.includes('\\')) return 'must not contain a backslash (\\)';
  if (text.includes('@{')) return 'must not contain "@{" (AppArmor variable expansion)';
  // Written out as UTF-8, a lone surrogate becomes U+FFFD: the rule would name another path.
  if (LONE_SURROGATE.test(text)) return 'must be valid Unicode (found a lone UTF-16 surrogate)';
  return undefined;
}

/**
 * Why a glob pattern is not in the glob language renderers pass through verbatim, or undefined.
 * Accepted: literal characters, `*`, `**`, `?`, alternations `{a,b}` (nestable, at least two
 * alternatives, which may be empty as in `{,**}`) and character classes `[abc]`, `[^a-z]`
 * (non-empty, printable ASCII, ranges ascending, `-` literal only first). Everything else — stray `]` or `}`,
 * `{x}` with one alternative, `[]`, `[a-]` — is refused here because apparmor_parser rejects it,
 * and a policy must never validate and then fail to load.
 */
export function globPatternReason(pattern: string): string | undefined {
  if (pattern.length > MAX_PATTERN_LENGTH) return `must be at most ${MAX_PATTERN_LENGTH} characters long`;
  const chars = [...pattern];
  // One entry per open `{`: how many top-level commas it has seen so far.
  const alternations: number[] = [];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '[') {
      const end = classEnd(chars, i);
      if (typeof end === 'string') return end;
      i = end;
    } else if (ch === ']') {
      return 'has a "]" without a matching "["';
    } else if (ch === '{') {
      alternations.push(0);
    } else if (ch === ',' && alternations.length > 0) {
      alternations[alternations.length - 1] = alternations.at(-1)! + 1;
    } else if (ch === '}') {
      const commas = alternations.pop();
      if (commas === undefined) return 'has a "}" without a matching "{"';
      if (commas === 0) return 'has a "{…}" group with a single alternative (write it without braces, or as {a,b})';
    }
  }
  if (alternations.length > 0) return 'has a "{" without a matching "}"';
  return undefined;
}

/** What a character class may contain besides ranges: printable ASCII without glob syntax. */
const CLASS_CHAR = /^[\x20-\x7e]$/;
const CLASS_SPECIAL = new Set(['[', '{', '}', '*', '?', '^']);

/** Why `ch` cannot stand inside a character class, or undefined. */
function classCharReason(ch: string): string | undefined {
  if (!CLASS_CHAR.test(ch)) return 'has a non-ASCII character inside a character class (AppArmor matches classes byte by byte)';
  if (CLASS_SPECIAL.has(ch)) return `has "${ch}" inside a character class`;
  return undefined;
}

/** Index of the `]` closing the class opened at `open`, or why the class is malformed. */
function classEnd(chars: string[], open: number): number | string {
  let i = open + 1;
  if (chars[i] === '^') i++;
  else if (chars[i] === '!') return 'has a character class starting with "!" (AppArmor negates with "[^…]")';
  const first = i;
  for (; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === ']') {
      if (i === first) return 'has an empty character class "[]"';
      return i;
    }
    const bad = classCharReason(ch);
    if (bad) return bad;
    if (ch === '-' && i !== first) {
      const lo = chars[i - 1]!;
      const hi = chars[i + 1];
      if (hi === undefined || hi === ']') return 'has a character class ending in "-"';
      if (i - 1 > first && chars[i - 2] === '-') return 'has a character class with chained ranges like "a-b-c"';
      const badHi = classCharReason(hi);
      if (badHi) return badHi;
      if (lo === '-' && i - 1 === first) return 'has a character class range starting with "-"';
      if (lo.charCodeAt(0) > hi.charCodeAt(0)) return `has a descending character range "${lo}-${hi}"`;
      i++;
    }
  }
  return 'has a "[" without a matching "]"';
}

/** Kept for callers written before the full glob check: same as `globPatternReason`. */
export function unbalancedPatternReason(pattern: string): string | undefined {
  return globPatternReason(pattern);
}
