/**
 * At the API edge (Kubernetes-style metadata.resourceVersion) a revision travels as a decimal
 * string; inside the store it is a number (etcd revisions are int64, but stay far below 2^53).
 */
export function formatResourceVersion(revision: number): string {
  return String(revision);
}

export type ParsedResourceVersion =
  | { readonly ok: true; readonly revision: number }
  | { readonly ok: false; readonly reason: string };

/** Total: any input gives a revision or a reason. */
export function parseResourceVersion(text: unknown): ParsedResourceVersion {
  if (typeof text !== 'string') return { ok: false, reason: 'resourceVersion must be a string' };
  if (!/^[1-9][0-9]{0,15}$/.test(text)) {
    return { ok: false, reason: `resourceVersion ${JSON.stringify(text.slice(0, 32))} is not a positive decimal integer` };
  }
  const revision = Number(text);
  if (!Number.isSafeInteger(revision)) return { ok: false, reason: `resourceVersion ${text} is too large` };
  return { ok: true, revision };
}
