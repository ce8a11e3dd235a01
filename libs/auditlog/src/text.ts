const utf8 = new TextDecoder('utf-8', { fatal: false });

function hexNibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Decodes the hex digits s[start, end) (an even count) as bytes and the bytes as UTF-8
 * (invalid sequences become U+FFFD). With `stopAtNul` the string ends at the first NUL byte,
 * as C consumers of the value see it.
 */
export function decodeHexBytes(s: string, start: number, end: number, stopAtNul: boolean): string {
  const n = (end - start) >> 1;
  let ascii = true;
  let out = '';
  // fast path: plain ASCII, the common case for paths and command names
  for (let k = 0; k < n; k++) {
    const b = (hexNibble(s.charCodeAt(start + 2 * k)) << 4) | hexNibble(s.charCodeAt(start + 2 * k + 1));
    if (b === 0 && stopAtNul) return out;
    if (b >= 0x80) {
      ascii = false;
      break;
    }
    out += String.fromCharCode(b);
  }
  if (ascii) return out;
  const bytes = new Uint8Array(n);
  let len = 0;
  for (let k = 0; k < n; k++) {
    const b = (hexNibble(s.charCodeAt(start + 2 * k)) << 4) | hexNibble(s.charCodeAt(start + 2 * k + 1));
    if (b === 0 && stopAtNul) break;
    bytes[len++] = b;
  }
  return utf8.decode(bytes.subarray(0, len));
}

/** True when s is a non-empty, even-length run of hex digits (either case). */
export function isHexString(s: string): boolean {
  if (s.length === 0 || (s.length & 1) !== 0) return false;
  for (let k = 0; k < s.length; k++) if (hexNibble(s.charCodeAt(k)) < 0) return false;
  return true;
}

/** True when s is a non-empty, even-length run of upper-case hex digits, as the kernel writes them. */
export function isUpperHexString(s: string): boolean {
  if (s.length === 0 || (s.length & 1) !== 0) return false;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}
