/**
 * Decorators shared by every resource class. Each one sets its own message (a reason without the
 * field name; the field path is added when errors are flattened) so that `kvmctl validate` prints
 * `spec.file.matchPaths[0].path: must be an absolute path without a trailing '/'`.
 */
import 'reflect-metadata';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateIf,
  ValidateNested,
  buildMessage,
  type ValidationOptions,
} from 'class-validator';

type Decorator = PropertyDecorator;

function compose(...decorators: Decorator[]): Decorator {
  return (target, key) => {
    for (const d of decorators) d(target, key);
  };
}

/**
 * The field may be absent. Unlike class-validator's `IsOptional`, an explicit `null` is still
 * validated (and rejected by the type check), as the CRD schema (no `nullable`) does.
 */
export function Optional(): Decorator {
  return ValidateIf((_object, value) => value !== undefined);
}

export const Str = (): Decorator => IsString({ message: 'must be a string' });
export const Bool = (): Decorator => IsBoolean({ message: 'must be a boolean (true or false)' });
export const Int = (): Decorator => IsInt({ message: 'must be an integer' });
export const IntRange = (min: number, max?: number): Decorator =>
  compose(
    IsInt({ message: 'must be an integer' }),
    Min(min, { message: `must be at least ${min}` }),
    ...(max === undefined ? [] : [Max(max, { message: `must be at most ${max}` })]),
  );

export const OneOf = (values: readonly string[]): Decorator =>
  IsIn([...values], { message: `must be one of ${values.join(', ')}` });

/**
 * Longest string a pattern is tried on. Some schema patterns (e.g. the CRD's `^\/+.*[^\/]$`)
 * backtrack quadratically: on hostile megabyte strings they would hold the CPU for hours.
 */
export const MAX_PATTERN_INPUT = 4096;

export const Pattern = (re: RegExp, reason: string): Decorator =>
  compose(
    IsString({ message: 'must be a string' }),
    ValidateBy({
      name: 'matches',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && value.length <= MAX_PATTERN_INPUT && re.test(value),
        defaultMessage: (args) => (typeof args?.value === 'string' && args.value.length > MAX_PATTERN_INPUT ? `must be at most ${MAX_PATTERN_INPUT} characters` : reason),
      },
    }),
  );

export const MaxLen = (n: number): Decorator => MaxLength(n, { message: `must be at most ${n} characters` });

export const StringList = (maxItems?: number): Decorator =>
  compose(
    IsArray({ message: 'must be a list' }),
    IsString({ each: true, message: 'must be a list of strings' }),
    ...(maxItems === undefined ? [] : [ArrayMaxSize(maxItems, { message: `must have at most ${maxItems} items` })]),
  );

/** A nested object validated by its own class. */
export const Nested = (cls: () => new () => object): Decorator =>
  compose(
    IsObject({ message: 'must be an object' }),
    ValidateNested({ message: 'must be an object' }),
    Type(cls),
  );

/** A list of nested objects validated by their class. */
export const NestedList = (cls: () => new () => object, maxItems?: number): Decorator =>
  compose(
    IsArray({ message: 'must be a list' }),
    IsObject({ each: true, message: 'must be a list of objects' }),
    ValidateNested({ each: true, message: 'must be a list of objects' }),
    ...(maxItems === undefined ? [] : [ArrayMaxSize(maxItems, { message: `must have at most ${maxItems} items` })]),
    Type(cls),
  );

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A map of string to string (labels, annotations, matchLabels). */
export function StringMap(options?: ValidationOptions): Decorator {
  return ValidateBy(
    {
      name: 'isStringMap',
      validator: {
        validate: (value: unknown) => isPlainObject(value) && Object.values(value).every((v) => typeof v === 'string'),
        defaultMessage: buildMessage(() => 'must be a map of string keys to string values', options),
      },
    },
    options,
  );
}

/** A custom check with its own reason. */
export function Check(name: string, ok: (value: unknown, object: object) => boolean, reason: string | ((value: unknown) => string)): Decorator {
  return ValidateBy({
    name,
    validator: {
      validate: (value: unknown, args) => ok(value, args?.object ?? {}),
      defaultMessage: (args) => (typeof reason === 'string' ? reason : reason(args?.value)),
    },
  });
}
