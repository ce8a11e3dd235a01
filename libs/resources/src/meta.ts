/** Kubernetes-style object metadata shared by every kind. */
import { Check, IntRange, Optional, Pattern, MaxLen, Str, StringMap } from './validation/decorators.js';
import { quoteValue } from './validation/field-error.js';

/** RFC 1123 subdomain, as Kubernetes requires for object names. */
export const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kubernetes label key: optional DNS-subdomain prefix and a name of at most 63 characters. */
export const LABEL_KEY_PATTERN = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** Kubernetes label value: empty or at most 63 characters of alphanumerics, `-`, `_`, `.`. */
export const LABEL_VALUE_PATTERN = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  if (slash > 253) return false;
  return LABEL_KEY_PATTERN.test(key);
}

export function labelProblems(labels: Record<string, string>): string | undefined {
  for (const [k, v] of Object.entries(labels)) {
    if (!isLabelKey(k)) return `invalid label key ${quoteValue(k)}`;
    if (typeof v !== 'string' || !LABEL_VALUE_PATTERN.test(v)) return `invalid value ${quoteValue(v)} for label ${k}`;
  }
  return undefined;
}

export class ObjectMeta {
  @Pattern(NAME_PATTERN, 'must be a lowercase RFC 1123 name (a-z, 0-9, "-", "."), starting and ending with a letter or digit')
  @MaxLen(253)
  name!: string;

  @Optional()
  @StringMap()
  @Check('labels', (v) => typeof v !== 'object' || v === null || labelProblems(v as Record<string, string>) === undefined, (v) =>
    labelProblems((v ?? {}) as Record<string, string>) ?? 'invalid labels',
  )
  labels?: Record<string, string>;

  @Optional()
  @StringMap()
  annotations?: Record<string, string>;

  // Server-set fields: accepted so that `kvmctl get -o yaml | kvmctl apply -f -` round-trips.
  @Optional() @Str() uid?: string;
  @Optional() @Pattern(/^[0-9]+$/, 'must be a decimal revision') resourceVersion?: string;
  @Optional() @IntRange(0) generation?: number;
  @Optional() @Str() creationTimestamp?: string;
}

export interface TypeMeta {
  apiVersion: string;
  kind: string;
}

export interface Resource<Spec = unknown, Status = unknown> extends TypeMeta {
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
}
