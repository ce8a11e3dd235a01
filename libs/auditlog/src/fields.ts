import { decodeHexBytes, isUpperHexString } from './text.js';

// Fields the kernel writes with audit_log_untrustedstring(): quoted when harmless, otherwise
// as upper-case hex. Only these are decoded, so a hex-looking value elsewhere (a0=ffff, inode
// numbers) stays as written.
const ENCODED_FIELDS = new Set([
  'name',
  'comm',
  'exe',
  'cwd',
  'path',
  'proctitle',
  'cmd',
  'acct',
  'key',
  'data',
  'ocomm',
  'dir',
  'file',
  'watch',
  'root_dir',
]);

function isEncodedField(key: string, execve: boolean): boolean {
  if (ENCODED_FIELDS.has(key)) return true;
  // EXECVE arguments: a0, a1, … and the chunks of long ones, a1[0], a1[1], … (a0-a3 of a
  // SYSCALL record are register values in hex and stay as they are)
  if (!execve) return false;
  const c0 = key.charCodeAt(0);
  if (c0 !== 97 /* a */ || key.length < 2) return false;
  for (let k = 1; k < key.length; k++) {
    const c = key.charCodeAt(k);
    if (!((c >= 48 && c <= 57) || c === 91 || c === 93)) return false;
  }
  return true;
}

// Field names repeat on every record. Reusing one string per name (a small, bounded table by
// hash) spares the engine from hashing a new key string for every property store.
const KEY_CACHE_MASK = 4095;
const keyCache: (string | undefined)[] = new Array<string | undefined>(KEY_CACHE_MASK + 1);

function cachedKey(s: string, start: number, end: number, h: number): string {
  const slot = h & KEY_CACHE_MASK;
  const hit = keyCache[slot];
  if (hit !== undefined && hit.length === end - start) {
    let k = 0;
    while (k < hit.length && hit.charCodeAt(k) === s.charCodeAt(start + k)) k++;
    if (k === hit.length) return hit;
  }
  const key = s.slice(start, end);
  if (key.length <= 64) keyCache[slot] = key;
  return key;
}

function isFieldWs(c: number): boolean {
  return c === 32 || c === 9 || c === 0x1d || c === 10 || c === 13;
}

/**
 * Splits `key=value key="quoted value" key='single quoted'` text into a field map. Values are
 * kept as data: quotes removed, hex-encoded untrusted strings decoded, nothing interpreted.
 * Words without '=' (the `avc:  denied  { read } for` part) are skipped. The first occurrence
 * of a key wins, so text later in a record cannot replace what the kernel wrote first.
 */
export function parseFields(s: string, start = 0, end = s.length, recordType = ''): Record<string, string> {
  const execve = recordType === 'EXECVE';
  if (typeof s !== 'string') return {};
  // a plain object: records of one type share their shape (a null-prototype object would be a
  // slow dictionary); "__proto__" is the one key that needs defineProperty to stay data
  const out: Record<string, string> = {};
  let i = start;
  while (i < end) {
    while (i < end && isFieldWs(s.charCodeAt(i))) i++;
    if (i >= end) break;
    const keyStart = i;
    let h = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c === 61 /* = */ || isFieldWs(c)) break;
      h = (Math.imul(h, 31) + c) | 0;
      i++;
    }
    if (i >= end || s.charCodeAt(i) !== 61 || i === keyStart) {
      // a bare word; skip it (a quoted bare word is skipped whole)
      while (i < end && !isFieldWs(s.charCodeAt(i))) i++;
      continue;
    }
    const key = cachedKey(s, keyStart, i, h);
    i++; // '='
    const q = s.charCodeAt(i);
    let value: string;
    if (q === 34 /* " */ || q === 39 /* ' */) {
      let close = s.indexOf(q === 34 ? '"' : "'", i + 1);
      if (close < 0 || close >= end) close = end;
      value = s.slice(i + 1, close);
      i = close + 1;
    } else {
      const vStart = i;
      while (i < end && !isFieldWs(s.charCodeAt(i))) i++;
      value = s.slice(vStart, i);
      if (isUpperHexString(value) && isEncodedField(key, execve)) value = decodeHexBytes(value, 0, value.length, false);
    }
    if (Object.hasOwn(out, key)) continue;
    if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}
