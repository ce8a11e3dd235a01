import { InvalidArgumentError } from './errors.js';
import type { StoreValue } from './store.js';

const MAX_KEY_BYTES = 1536;

/** Checks a key or prefix: starts with `/`, no NUL, at most 1.5 KiB of UTF-8. Returns its bytes. */
export function keyBytes(key: string, what: 'key' | 'prefix' = 'key'): Buffer {
  if (typeof key !== 'string' || !key.startsWith('/')) {
    throw new InvalidArgumentError(`${what} ${JSON.stringify(key)}: must be a string starting with "/"`);
  }
  if (key.includes('\0')) {
    throw new InvalidArgumentError(`${what} ${JSON.stringify(key)}: must not contain NUL`);
  }
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length > MAX_KEY_BYTES) {
    throw new InvalidArgumentError(`${what} ${key.slice(0, 64)}…: longer than ${MAX_KEY_BYTES} bytes`);
  }
  return bytes;
}

/**
 * The exclusive end of the byte range of keys beginning with `prefix` (etcd's range_end).
 * Keys always start with `/`, so the prefix has a byte below 0xff and the end always exists.
 */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  throw new InvalidArgumentError('prefix has no upper bound');
}

/** Same limit on both backends (etcd refuses requests over 1.5 MiB), so nothing works on one only. */
export const MAX_VALUE_BYTES = 1024 * 1024;

export function valueBytes(value: StoreValue): Buffer {
  let bytes: Buffer;
  if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  else throw new InvalidArgumentError('value: must be a string or a Uint8Array');
  if (bytes.length > MAX_VALUE_BYTES) {
    throw new InvalidArgumentError(`value: ${bytes.length} bytes, more than the ${MAX_VALUE_BYTES}-byte limit`);
  }
  return bytes;
}

export interface ResourceKeyParts {
  /** First segment, e.g. `kvmservice`. */
  readonly root: string;
  /** API group, e.g. `security.kubearmor.com`. */
  readonly group: string;
  /** Plural resource name, e.g. `kubearmorhostpolicies`. */
  readonly plural: string;
}

function checkSegment(field: string, value: string): void {
  if (typeof value !== 'string' || value === '' || value.includes('/') || value.includes('\0')) {
    throw new InvalidArgumentError(`${field} ${JSON.stringify(value)}: must be a non-empty string without "/"`);
  }
}

/** `/<root>/<group>/<plural>/` — the prefix to list or watch one resource collection. */
export function collectionPrefix(parts: ResourceKeyParts): string {
  checkSegment('root', parts.root);
  checkSegment('group', parts.group);
  checkSegment('plural', parts.plural);
  return `/${parts.root}/${parts.group}/${parts.plural}/`;
}

/** `/<root>/<group>/<plural>/<name>` — the key of one object. */
export function resourceKey(parts: ResourceKeyParts & { readonly name: string }): string {
  checkSegment('name', parts.name);
  return collectionPrefix(parts) + parts.name;
}
