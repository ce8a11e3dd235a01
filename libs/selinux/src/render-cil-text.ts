/**
 * CIL text. Identifiers come only from the renderer's own vocabulary (render-perms.ts,
 * render-names.ts); the only policy text in a module is inside filecon strings and comments, and
 * both are checked here so that nothing can close the string or the comment early.
 */

/** Thrown when text that must be inert in CIL is not; the renderer turns it into a problem. */
export class UnsafeCilText extends Error {}

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]*$/;
// Characters that end or break a CIL quoted string or a `;` comment, in any encoding flex might see.
const STRING_BREAKERS = /["\u0000-\u001f\u007f\u0085\u2028\u2029]/;

export function cilString(text: string): string {
  if (STRING_BREAKERS.test(text)) throw new UnsafeCilText(`cannot quote ${JSON.stringify(text)} in CIL`);
  return `"${text}"`;
}

export function cilIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new UnsafeCilText(`${JSON.stringify(name)} is not a CIL identifier`);
  return name;
}

/** A `;` comment; anything that could end the line early is replaced. */
export function cilComment(text: string): string {
  return `; ${text.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]/g, '?')}`;
}

const list = (items: readonly string[]): string => `(${items.map(cilIdentifier).join(' ')})`;

/** `(allow src tgt (class (perms)))`, or nothing when there are no permissions. */
export function avRule(kind: 'allow' | 'auditallow', source: string, target: string, cls: string, perms: readonly string[]): string[] {
  if (perms.length === 0) return [];
  const unique = [...new Set(perms)];
  return [`(${kind} ${cilIdentifier(source)} ${cilIdentifier(target)} (${cilIdentifier(cls)} ${list(unique)}))`];
}

/** `(allow src tgt named_classpermission)`. */
export const avRuleNamed = (kind: 'allow' | 'auditallow', source: string, target: string, classPermission: string): string =>
  `(${kind} ${cilIdentifier(source)} ${cilIdentifier(target)} ${cilIdentifier(classPermission)})`;

export const typeStatement = (name: string): string => `(type ${cilIdentifier(name)})`;
export const attributeStatement = (name: string): string => `(typeattribute ${cilIdentifier(name)})`;
export const roleType = (role: string, type: string): string => `(roletype ${cilIdentifier(role)} ${cilIdentifier(type)})`;

export function attributeSet(attribute: string, members: readonly string[]): string[] {
  return members.length === 0 ? [] : [`(typeattributeset ${cilIdentifier(attribute)} ${list(members)})`];
}

/** `(typeattributeset attr (and base (not (excluded…))))`. */
export function attributeExpression(attribute: string, base: string, excluded: readonly string[]): string {
  const not = excluded.length === 0 ? '' : ` (not ${list(excluded)})`;
  return excluded.length === 0
    ? `(typeattributeset ${cilIdentifier(attribute)} (${cilIdentifier(base)}))`
    : `(typeattributeset ${cilIdentifier(attribute)} (and ${cilIdentifier(base)}${not}))`;
}

export const typePermissive = (type: string): string => `(typepermissive ${cilIdentifier(type)})`;

export const typeTransition = (source: string, exec: string, domain: string): string =>
  `(typetransition ${cilIdentifier(source)} ${cilIdentifier(exec)} process ${cilIdentifier(domain)})`;

export const fileContext = (regex: string, type: string): string =>
  `(filecon ${cilString(regex)} any (system_u object_r ${cilIdentifier(type)} ((s0) (s0))))`;
