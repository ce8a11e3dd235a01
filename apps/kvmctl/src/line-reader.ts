import { readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

const CHUNK = 1 << 16;

function readChunk(fd: number, buffer: Buffer): number {
  for (;;) {
    try {
      return readSync(fd, buffer, 0, buffer.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A non-blocking stdin (some terminals and pipes) has nothing yet: wait a little, retry.
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      if (code === 'EOF') return 0;
      throw e;
    }
  }
}

/**
 * The lines of a file descriptor, read as they are consumed, so that a log of any size is parsed
 * in bounded memory by the synchronous parsers. Lines end at `\n` (a `\r` before it is dropped);
 * a last line without newline is yielded too. Invalid UTF-8 becomes U+FFFD, as the parsers expect.
 * `beforeRead` runs before every read that may block.
 */
export function* readLinesSync(fd: number, beforeRead?: () => void): Generator<string> {
  const buffer = Buffer.allocUnsafe(CHUNK);
  const decoder = new StringDecoder('utf8');
  let carry = '';
  for (;;) {
    // The caller flushes its output here: everything from the input so far is out before we wait for more.
    beforeRead?.();
    const n = readChunk(fd, buffer);
    const text = n === 0 ? carry + decoder.end() : carry + decoder.write(buffer.subarray(0, n));
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      yield text.slice(start, nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl);
      start = nl + 1;
    }
    carry = text.slice(start);
    if (n === 0) {
      if (carry !== '') yield carry.endsWith('\r') ? carry.slice(0, -1) : carry;
      return;
    }
  }
}
