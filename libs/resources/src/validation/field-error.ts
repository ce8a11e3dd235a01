/** One problem with one field of one object: `spec.file.matchPaths[0].path: <reason>`. */
export interface FieldError {
  /** Dotted path with list indexes, e.g. `spec.file.matchPaths[0].path`; empty for the whole object. */
  field: string;
  reason: string;
}

export function formatFieldError(e: FieldError): string {
  return e.field === '' ? e.reason : `${e.field}: ${e.reason}`;
}

/** Appends a property or index to a field path. */
export function joinField(parent: string, key: string | number): string {
  if (typeof key === 'number' || /^\d+$/.test(key)) return `${parent}[${key}]`;
  const safe = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key);
  return parent === '' ? safe : `${parent}.${safe}`;
}
