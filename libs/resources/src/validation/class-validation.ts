import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { joinField, type FieldError } from './field-error.js';

/**
 * Validates a plain object against a decorated class: unknown fields are errors, missing required
 * fields say "is required", and every problem becomes one FieldError with its full path.
 */
export function validateAgainstClass(cls: new () => object, input: Record<string, unknown>): FieldError[] {
  const reserved: (string | number)[][] = [];
  const plain = withoutReservedKeys(input, [], reserved) as Record<string, unknown>;
  const instance = plainToInstance(cls, plain, { enableImplicitConversion: false, exposeDefaultValues: false });
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: true },
  });
  const out: FieldError[] = [];
  flatten(errors, '', out);
  for (const path of reserved) out.push({ field: path.reduce<string>((f, k) => joinField(f, k), ''), reason: reservedKeyReason(instance, path) });
  droppedKeys(plain, instance, '', out);
  return out;
}

/**
 * Keys class-transformer cannot take: in a schema class it skips `__proto__` and `constructor`, and
 * in any other object a `constructor` key makes it throw. They are taken out before the transform
 * (their paths recorded) and reported, never validated around.
 */
const RESERVED_KEYS = new Set(['__proto__', 'constructor']);

function withoutReservedKeys(value: unknown, path: (string | number)[], reserved: (string | number)[][]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => withoutReservedKeys(v, [...path, i], reserved));
  if (!isPlain(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (RESERVED_KEYS.has(key)) reserved.push([...path, key]);
    else out[key] = withoutReservedKeys(v, [...path, key], reserved);
  }
  return out;
}

/** In a schema class a reserved key is an unknown field; in a map (labels, selectors) a key that cannot be used. */
function reservedKeyReason(instance: unknown, path: (string | number)[]): string {
  let parent: unknown = instance;
  for (const key of path.slice(0, -1)) parent = typeof parent === 'object' && parent !== null ? (parent as Record<string, unknown>)[key] : undefined;
  const inMap = typeof parent === 'object' && parent !== null && Object.getPrototypeOf(parent) === Object.prototype;
  return inMap ? RESERVED_KEY_REASON : 'unknown field';
}

const RESERVED_KEY_REASON = 'is a name reserved by JavaScript and cannot be used as a key';

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/**
 * Keys class-transformer leaves out of the instance, so class-validator never sees them: names of
 * Object.prototype's methods (`toString`, `hasOwnProperty`, …). Unchecked, they would be stored as
 * written (an unknown field accepted, or a label map validated without them).
 */
function droppedKeys(plain: unknown, instance: unknown, field: string, out: FieldError[]): void {
  if (Array.isArray(plain)) {
    if (Array.isArray(instance)) plain.forEach((v, i) => droppedKeys(v, instance[i], joinField(field, i), out));
    return;
  }
  if (!isPlain(plain) || typeof instance !== 'object' || instance === null) return;
  const schema = Object.getPrototypeOf(instance) !== Object.prototype;
  for (const key of Object.keys(plain)) {
    const at = joinField(field, key);
    if (!Object.prototype.hasOwnProperty.call(instance, key)) out.push({ field: at, reason: schema ? 'unknown field' : RESERVED_KEY_REASON });
    else droppedKeys(plain[key], (instance as Record<string, unknown>)[key], at, out);
  }
}

function flatten(errors: ValidationError[], parent: string, out: FieldError[]): void {
  for (const e of errors) {
    const field = joinField(parent, e.property);
    const constraints = e.constraints ?? {};
    if (constraints.whitelistValidation) {
      out.push({ field, reason: 'unknown field' });
    } else if (Object.keys(constraints).length > 0) {
      out.push({ field, reason: e.value === undefined ? 'is required' : firstReason(constraints) });
    }
    if (e.children && e.children.length > 0) flatten(e.children, field, out);
  }
}

// A wrong type makes every other check on the field meaningless, so the type check wins.
const TYPE_CONSTRAINTS = ['isString', 'isBoolean', 'isInt', 'isArray', 'isObject', 'isStringMap', 'nestedValidation'];

function firstReason(constraints: Record<string, string>): string {
  for (const key of TYPE_CONSTRAINTS) {
    const reason = constraints[key];
    if (reason !== undefined) return reason;
  }
  return Object.values(constraints)[0] ?? 'is invalid';
}
