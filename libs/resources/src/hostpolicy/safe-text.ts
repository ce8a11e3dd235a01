/**
 * Characters a path or pattern from a policy may contain. Renderers quote every path, but some
 * characters cannot be expressed safely in an AppArmor quoted string or a CIL string at all, so
 * they are refused at validation, naming the field (issue 3: nothing from a policy can add a rule).
 */

const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why `text` cannot be used as a path or pattern, or undefined when it can. */
export function unsafeTextReason(text: string): string | undefined {
  const control = CONTROL.exec(text);
  if (control) return `must not contain control characters (found U+${control[0].charCodeAt(0).toString(16).padStart(4, '0')})`;
  if (text.includes('"')) return 'must not contain a double quote (")';
  if (text.includes('\\')) return 'must not contain a backslash (\\)';
  if (text.includes('@{')) return 'must not contain "@{" (AppArmor variable expansion)';
  return undefined;
}

/** Why a glob pattern is malformed (unbalanced braces or brackets), or undefined. */
export function unbalancedPatternReason(pattern: string): string | undefined {
  let braces = 0;
  let inBracket = false;
  for (const ch of pattern) {
    if (inBracket) {
      if (ch === ']') inBracket = false;
      continue;
    }
    if (ch === '[') inBracket = true;
    else if (ch === ']') return 'has a "]" without a matching "["';
    else if (ch === '{') braces++;
    else if (ch === '}') {
      if (--braces < 0) return 'has a "}" without a matching "{"';
    }
  }
  if (inBracket) return 'has a "[" without a matching "]"';
  if (braces > 0) return 'has a "{" without a matching "}"';
  return undefined;
}
