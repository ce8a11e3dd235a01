/**
 * AppArmor globbing (AARE) as regular expressions, for the evaluator: `*` any characters but `/`,
 * `**` any characters including `/`, `?` one character but `/`, `{a,b}` alternation (nestable,
 * empty alternatives allowed), `[abc]` / `[^a-z]` classes; a backslash escapes the next character.
 * The same language the renderers hand to apparmor_parser (`libs/resources` safe-text rules).
 */

const cache = new Map<string, RegExp>();
const CACHE_LIMIT = 4096;

function escapeRegex(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch;
}

/** The regular expression (anchored) for an AppArmor glob; malformed syntax is taken literally. */
export function globRegexSource(glob: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '\\' && i + 1 < glob.length) {
      out += escapeRegex(glob[++i]!);
    } else if (ch === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        while (glob[i + 1] === '*') i++;
      } else {
        out += '[^/]*';
      }
    } else if (ch === '?') {
      out += '[^/]';
    } else if (ch === '{') {
      depth++;
      out += '(?:';
    } else if (ch === '}' && depth > 0) {
      depth--;
      out += ')';
    } else if (ch === ',' && depth > 0) {
      out += '|';
    } else if (ch === '[') {
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
    } else {
      out += escapeRegex(ch);
    }
  }
  // an unclosed alternation is literal text in spirit; close it so the regex stays valid
  out += ')'.repeat(depth);
  return `^${out}$`;
}

/** Whether `path` matches the AppArmor glob `glob`. */
export function globMatches(glob: string, path: string): boolean {
  let re = cache.get(glob);
  if (!re) {
    try {
      re = new RegExp(globRegexSource(glob), 's');
    } catch {
      re = new RegExp(`^${glob.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')}$`, 's');
    }
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(glob, re);
  }
  return re.test(path);
}

/** Whether `path` lies in directory `dir` (ending with '/'): the directory itself, a child, or (recursive) any descendant. */
export function inDirectory(dir: string, recursive: boolean, path: string): boolean {
  if (!path.startsWith(dir)) return false;
  if (recursive) return true;
  const rest = path.slice(dir.length);
  // `/dir/{,*}`: the directory itself or one more component (not itself a directory path)
  return !rest.includes('/');
}
