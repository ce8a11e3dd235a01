/** One problem with one field of one object: `spec.file.matchPaths[0].path: <reason>`. */
export interface FieldError {
  /** Dotted path with list indexes, e.g. `spec.file.matchPaths[0].path`; empty for the whole object. */
  field: string;
  reason: string;
}

export function formatFieldError(e: FieldError): string {
  return e.field === '' ? e.reason : `${e.field}: ${e.reason}`;
}

/** Longest key shown whole in a field path; a hostile megabyte key must not make a megabyte line. */
const MAX_KEY_SHOWN = 64;

/** Appends a property or index to a field path. */
export function joinField(parent: string, key: string | number): string {
  if (typeof key === 'number' || /^\d+$/.test(key)) return `${parent}[${key}]`;
  const shown = key.length > MAX_KEY_SHOWN ? `${key.slice(0, MAX_KEY_SHOWN)}…` : key;
  const safe = /^[A-Za-z_$][\w$-]*$/.test(shown) ? shown : JSON.stringify(shown);
  return parent === '' ? safe : `${parent}.${safe}`;
}

/**
 * A value as a reason quotes it: JSON, cut after `max` characters with its length, so that echoing
 * hostile input keeps a problem on one short line (and a refusal within what gRPC can carry).
 */
export function quoteValue(value: unknown, max = 80): string {
  if (typeof value === 'string' && value.length > max) return `${JSON.stringify(value.slice(0, max)).slice(0, -1)}…" (${value.length} characters)`;
  let text: string;
  try {
    text = String(JSON.stringify(value));
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}
