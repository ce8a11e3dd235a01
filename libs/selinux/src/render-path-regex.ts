/**
 * Paths and KubeArmor glob patterns as file-context regular expressions. libselinux matches
 * `file_contexts` entries as PCRE, anchored at both ends; the same text is a valid JavaScript
 * regular expression, which the renderer uses to decide which rules cover which paths.
 *
 * - Literal text: every regex metacharacter is escaped, a space becomes `\x20` (file_contexts is
 *   whitespace-separated, so a literal space would split the entry) and every non-ASCII character
 *   becomes its UTF-8 bytes as `\xHH` (libselinux refuses non-ASCII file_contexts lines and
 *   matches paths byte by byte). JavaScript matchers therefore test `toByteString(path)`.
 * - Globs (the language `globPatternReason` in @kvmservice/resources accepts, which is AppArmor's):
 *   `*` → `[^/]*` (`[^/]+` when it is a whole path component), `**` → `.*` (`.+` as the whole last
 *   component), `?` → `[^/]`, `{a,b}` → `(a|b)`, `[…]` kept (spaces as `\x20`).
 */

const REGEX_META = new Set(['.', '^', '$', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '\\']);
const GLOB_CHARS = new Set(['*', '?', '[', '{']);

const hex = (byte: number) => `\\x${byte.toString(16).padStart(2, '0')}`;

/** One literal character as regex text. */
function literalChar(ch: string): string {
  if (ch === ' ') return '\\x20';
  if (ch.codePointAt(0)! > 0x7e || ch.codePointAt(0)! < 0x20) return [...new TextEncoder().encode(ch)].map(hex).join('');
  return REGEX_META.has(ch) ? `\\${ch}` : ch;
}

/** A string's UTF-8 bytes as a string of one character per byte: what file-context regexes match. */
export function toByteString(text: string): string {
  return String.fromCharCode(...new TextEncoder().encode(text));
}

/** The inverse of `toByteString`. */
export function fromByteString(bytes: string): string {
  return new TextDecoder().decode(Uint8Array.from(bytes, (c) => c.charCodeAt(0)));
}

/** Literal text as a regex that matches exactly that text. */
export function escapeRegexLiteral(text: string): string {
  let out = '';
  for (const ch of text) out += literalChar(ch);
  return out;
}

/** Whether `pattern` contains glob syntax at all (otherwise it names one path). */
export function hasGlob(pattern: string): boolean {
  for (const ch of pattern) if (GLOB_CHARS.has(ch)) return true;
  return false;
}

/** The text before the first glob character. */
export function literalPrefix(pattern: string): string {
  const chars = [...pattern];
  const i = chars.findIndex((ch) => GLOB_CHARS.has(ch));
  return i < 0 ? pattern : chars.slice(0, i).join('');
}

/**
 * The directory that holds everything a pattern can match: its literal prefix up to the last `/`,
 * without the trailing slash (`/` itself for `/*`).
 */
export function literalDirectory(pattern: string): string {
  const prefix = literalPrefix(pattern);
  const slash = prefix.lastIndexOf('/');
  return slash <= 0 ? '/' : prefix.slice(0, slash);
}

/** Index of the `]` that closes the class opened at `open` (validated input always has one). */
function classClose(chars: string[], open: number): number {
  let i = open + 1;
  if (chars[i] === '^') i++;
  i++; // the first character of a class is never its end
  while (i < chars.length && chars[i] !== ']') i++;
  return i;
}

/** Index of the `}` that closes the alternation opened at `open`. */
function braceClose(chars: string[], open: number): number {
  let depth = 0;
  for (let i = open; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '[') i = classClose(chars, i);
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return i;
  }
  return chars.length;
}

/** Splits the inside of `{…}` at its top-level commas. */
function alternatives(chars: string[]): string[][] {
  const out: string[][] = [[]];
  let depth = 0;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '[') {
      const end = classClose(chars, i);
      out[out.length - 1]!.push(...chars.slice(i, end + 1));
      i = end;
      continue;
    }
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (ch === ',' && depth === 0) out.push([]);
    else out[out.length - 1]!.push(ch);
  }
  return out;
}

function translate(chars: string[], afterSlash: boolean, atEnd: (i: number) => boolean): string {
  let out = '';
  let slash = afterSlash;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      let j = i;
      while (chars[j + 1] === '*') j++;
      const double = j > i;
      const next = chars[j + 1];
      // A whole component ("/*/", "/*" at the end) must match at least one character, as in AppArmor.
      const wholeComponent = slash && (next === '/' || (next === undefined && atEnd(j)));
      if (double) out += wholeComponent ? '.+' : '.*';
      else out += wholeComponent ? '[^/]+' : '[^/]*';
      i = j;
      slash = false;
      continue;
    }
    if (ch === '?') {
      out += '[^/]';
    } else if (ch === '[') {
      const end = classClose(chars, i);
      out += `[${chars.slice(i + 1, end).map((c) => (c === ' ' ? '\\x20' : c)).join('')}]`;
      i = end;
    } else if (ch === '{') {
      const end = braceClose(chars, i);
      const rest = (k: number) => k === end && atEnd(end);
      const alts = alternatives(chars.slice(i + 1, end)).map((alt) => translate(alt, slash, (k) => k === alt.length - 1 && rest(end)));
      out += `(${alts.join('|')})`;
      i = end;
    } else {
      out += literalChar(ch);
    }
    slash = ch === '/';
  }
  return out;
}

/** A validated glob pattern as an (unanchored) regex; see the module comment for the mapping. */
export function globToRegex(pattern: string): string {
  const chars = [...pattern];
  return translate(chars, false, (i) => i === chars.length - 1);
}

/** A JavaScript matcher for regex text produced here (anchored like libselinux); test byte strings. */
export function compileMatcher(regex: string): RegExp {
  return new RegExp(`^(?:${regex})$`, 's');
}
