/**
 * The nesting limit of input objects (docs/policy-reference.md, "Input"). Validation and the
 * libraries under it recurse; a hostile document nested thousands of levels deep would overflow
 * their stack, so it is refused first, naming where it happens.
 */
import { joinField } from './field-error.js';

/** Deepest nesting of maps and lists accepted, counting the object itself as level 1. */
export const MAX_NESTING = 64;

/**
 * The field of the first map or list nested deeper than `limit` levels, or undefined when there
 * is none. Iterative: safe at any depth.
 */
export function tooDeepField(value: unknown, limit = MAX_NESTING): string | undefined {
  const stack: [unknown, number, string][] = [[value, 1, '']];
  while (stack.length > 0) {
    const [v, depth, field] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return field;
    if (Array.isArray(v)) v.forEach((child, i) => stack.push([child, depth + 1, joinField(field, i)]));
    else for (const [k, child] of Object.entries(v)) stack.push([child, depth + 1, joinField(field, k)]);
  }
  return undefined;
}
