import { DISCOVERABLE_KINDS, DISCOVERED_POLICY, RESOURCE_KINDS, type ResourceKind } from '../kinds.js';
import type { Resource } from '../meta.js';
import { validateAgainstClass } from './class-validation.js';
import { quoteValue, type FieldError } from './field-error.js';
import { MAX_NESTING, tooDeepField } from './nesting.js';

export type ValidationResult =
  | { valid: true; kind: ResourceKind; resource: Resource }
  | { valid: false; errors: FieldError[]; kind?: string; name?: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The kind and name an object claims, for error messages (whatever else is wrong with it). */
export function describeObject(input: unknown): { kind?: string; name?: string } {
  if (!isObject(input)) return {};
  const kind = typeof input.kind === 'string' ? input.kind : undefined;
  const metadata = isObject(input.metadata) ? input.metadata : undefined;
  const name = typeof metadata?.name === 'string' ? metadata.name : undefined;
  return { kind, name };
}

/** Most problems reported for one object; the rest are counted on one more line. */
export const MAX_PROBLEMS = 50;

/**
 * A kind or name as messages show it (`KIND/NAME: field: reason`): as written when it is a short
 * line of printable text, quoted and cut otherwise, so that it can neither forge nor break a line.
 */
function shown(text: string | undefined): string | undefined {
  return text === undefined || /^[\x21-\x7e]{1,253}$/.test(text) ? text : quoteValue(text, 64);
}

/**
 * Validates one object of any known kind. Never throws; a valid object is returned unchanged (the
 * user's object as written, not a normalised copy).
 */
export function validateResource(input: unknown, allowed: readonly ResourceKind[] = RESOURCE_KINDS): ValidationResult {
  const { kind: kindName, name } = describeObject(input);
  const fail = (errors: FieldError[]): ValidationResult => {
    const listed = errors.length > MAX_PROBLEMS ? [...errors.slice(0, MAX_PROBLEMS), { field: '', reason: `and ${errors.length - MAX_PROBLEMS} more problems` }] : errors;
    return { valid: false, errors: listed, kind: shown(kindName), name: shown(name) };
  };
  if (!isObject(input)) return fail([{ field: '', reason: 'must be an object with apiVersion, kind, metadata' }]);
  // Before anything recursive looks at it (objects from the API have not been through parseDocuments).
  const tooDeep = tooDeepField(input);
  if (tooDeep !== undefined) return fail([{ field: tooDeep, reason: `is nested deeper than ${MAX_NESTING} levels` }]);
  if (kindName === undefined) return fail([{ field: 'kind', reason: 'is required' }]);
  const kind = allowed.find((k) => k.kind === kindName);
  if (!kind) return fail([{ field: 'kind', reason: `unsupported kind ${quoteValue(kindName)} (one of ${allowed.map((k) => k.kind).join(', ')})` }]);
  if (input.apiVersion !== kind.apiVersion) {
    return fail([{ field: 'apiVersion', reason: `must be ${kind.apiVersion} for ${kind.kind}${input.apiVersion === undefined ? '' : ` (got ${quoteValue(input.apiVersion)})`}` }]);
  }
  let errors: FieldError[];
  try {
    errors = validateAgainstClass(kind.schema, input);
  } catch (e) {
    // class-transformer can trip over hostile shapes (e.g. getters named like fields); never throw.
    errors = [{ field: '', reason: `cannot be read: ${(e as Error).message}` }];
  }
  if (errors.length === 0 && kind.problems) errors = kind.problems(input as never);
  if (errors.length === 0 && kind === DISCOVERED_POLICY) errors = wrappedPolicyProblems(input);
  return errors.length === 0 ? { valid: true, kind, resource: input as unknown as Resource } : fail(errors);
}

function wrappedPolicyProblems(dsp: Record<string, unknown>): FieldError[] {
  const policy = (dsp.spec as Record<string, unknown>).policy;
  const inner = validateResource(policy, DISCOVERABLE_KINDS);
  if (inner.valid) return [];
  return inner.errors.map((e) => ({ field: e.field === '' ? 'spec.policy' : `spec.policy.${e.field}`, reason: e.reason }));
}
