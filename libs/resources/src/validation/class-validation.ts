import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { joinField, type FieldError } from './field-error.js';

/**
 * Validates a plain object against a decorated class: unknown fields are errors, missing required
 * fields say "is required", and every problem becomes one FieldError with its full path.
 */
export function validateAgainstClass(cls: new () => object, plain: Record<string, unknown>): FieldError[] {
  const instance = plainToInstance(cls, plain, { enableImplicitConversion: false, exposeDefaultValues: false });
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: true },
  });
  const out: FieldError[] = [];
  flatten(errors, '', out);
  return out;
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
