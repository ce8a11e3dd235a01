/**
 * Turning policy strings into AppArmor text. Every string from a policy reaches a profile only
 * through `quotedAare`, inside double quotes, after the same checks validation makes (repeated
 * here so that a caller that skipped validation still cannot add a rule).
 */
import { globPatternReason, unsafeTextReason, type PathTarget } from '@kvmservice/resources';

/** Characters that are glob syntax in AppArmor; a literal path escapes them with a backslash. */
const GLOB_CHARS = /[*?[\]{}]/g;
/**
 * Wildcards: apparmor_parser treats an AARE without them as an exact match (alternations
 * included), and an exact match wins over a wildcard match when exec transitions differ.
 */
const HAS_WILDCARD = /[*?[]/;

/** An AppArmor path expression (AARE) and whether the parser treats it as an exact match. */
export interface Aare {
  text: string;
  /** No wildcard: the AARE names the finite set of paths `expandAlternations` lists. */
  literal: boolean;
}

export type AareResult = Aare | { error: string };

/** A literal path as an AARE: glob characters escaped, so `/a*b` matches only `/a*b`. */
export function literalAare(path: string): AareResult {
  const unsafe = unsafeTextReason(path);
  if (unsafe) return { error: unsafe };
  if (!path.startsWith('/')) return { error: 'must be an absolute path' };
  // The kernel matches resolved paths: a rule naming `/a/../b` would never apply, silently.
  if (path.split('/').some((c) => c === '.' || c === '..')) return { error: 'must not contain "." or ".." components (AppArmor matches resolved paths; the rule would never apply)' };
  return { text: path.replace(GLOB_CHARS, (c) => `\\${c}`), literal: true };
}

/** A `matchPatterns` glob as an AARE, passed through as written once it is known to compile. */
export function patternAare(pattern: string): AareResult {
  const unsafe = unsafeTextReason(pattern) ?? globPatternReason(pattern);
  if (unsafe) return { error: unsafe };
  if (!pattern.startsWith('/')) return { error: "must be an absolute pattern starting with '/'" };
  return { text: pattern, literal: !HAS_WILDCARD.test(pattern) };
}

/** The AARE of a process/file target: upstream's `{,*}` / `{,**}` for directories, `/**\/name` for execname. */
export function targetAare(target: PathTarget): AareResult {
  switch (target.kind) {
    case 'path':
      return literalAare(target.path);
    case 'dir': {
      if (!target.dir.endsWith('/')) return { error: "must be an absolute directory path ending with '/'" };
      const dir = literalAare(target.dir);
      return 'error' in dir ? dir : { text: `${dir.text}${target.recursive ? '{,**}' : '{,*}'}`, literal: false };
    }
    case 'pattern':
      return patternAare(target.pattern);
    case 'execname': {
      if (target.name === '' || target.name.includes('/')) return { error: "must be a binary name without '/'" };
      const name = literalAare(`/${target.name}`);
      return 'error' in name ? name : { text: `/**${name.text}`, literal: false };
    }
  }
}

/** The raw target string upstream keys its rule maps with (used for fromSource overrides). */
export function targetKey(target: PathTarget): string {
  switch (target.kind) {
    case 'path':
      return target.path;
    case 'dir':
      return target.dir;
    case 'pattern':
      return target.pattern;
    case 'execname':
      return `/**/${target.name}`;
  }
}

/**
 * The paths an exact AARE names: `{a,b}` alternations multiplied out (escapes kept as written).
 * Undefined when there are more than `limit`.
 */
export function expandAlternations(text: string, limit: number): string[] | undefined {
  let pos = 0;
  let overflow = false;
  const product = (left: string[], right: string[]): string[] => {
    const out: string[] = [];
    for (const a of left) for (const b of right) out.push(a + b);
    if (out.length > limit) overflow = true;
    return out;
  };
  // Outside braces ',' and '}' are plain text; inside, ',' separates alternatives.
  const sequence = (nested: boolean): string[] => {
    let acc = [''];
    while (pos < text.length && !overflow) {
      const ch = text[pos]!;
      if (nested && (ch === ',' || ch === '}')) break;
      if (ch === '{') {
        pos++;
        const alternatives: string[] = [];
        for (;;) {
          alternatives.push(...sequence(true));
          if (alternatives.length > limit) overflow = true;
          const end = text[pos++];
          if (end !== ',') break;
        }
        acc = product(acc, alternatives);
        continue;
      }
      const piece = ch === '\\' ? text.slice(pos, pos + 2) : ch;
      pos += piece.length;
      acc = acc.map((a) => a + piece);
    }
    return acc;
  };
  const all = sequence(false);
  return overflow ? undefined : [...new Set(all)];
}

export function quoted(aare: Aare | string): string {
  return `"${typeof aare === 'string' ? aare : aare.text}"`;
}

/**
 * Text for a comment. Only names the renderer checked or made itself go into comments; this is
 * the last line of defence against a newline (which would end the comment) from a careless caller.
 */
export function commentText(text: string): string {
  return text.replace(/[^A-Za-z0-9._:/@=, ;()[\]-]/g, '?');
}
