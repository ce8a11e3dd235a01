/**
 * The revision an etcd snapshot holds, read from the snapshot file itself (a bbolt database).
 *
 * etcd 3.4's Snapshot RPC sends no header, so the stream does not say which revision it is; a
 * revision read before or after the stream would only bound it while writes go on. The file says it
 * exactly: etcd keeps its MVCC history in the bucket `key`, keyed by revision (8-byte big-endian main
 * revision, `_`, sub revision), and the compaction point in bucket `meta` under `finishedCompactRev`.
 * A member restored from the snapshot starts at the larger of the newest key revision and the
 * compaction revision (etcd's mvcc restore); `etcdctl snapshot status` reports the former.
 *
 * Pure and total: `read(offset, length)` supplies bytes (shorter at the end of the file), and every
 * malformed input gives `{ ok: false, reason }`, never an exception.
 *
 * bbolt layout: pages of `pageSize` bytes; a page starts with a 16-byte header (id u64, flags u16,
 * count u16, overflow u32, native little-endian), then `count` 16-byte elements. Pages 0 and 1 hold
 * the two meta copies (the valid one with the higher txid wins); a bucket value is a 16-byte header
 * (root page id, sequence) followed, when the root is 0, by the bucket's own page inline.
 */

export type BoltRevision =
  | { readonly ok: true; readonly revision: number; readonly newestKeyRevision: number; readonly compactRevision: number }
  | { readonly ok: false; readonly reason: string };

export type ByteReader = (offset: number, length: number) => Buffer;

const PAGE_HEADER = 16;
const ELEMENT = 16;
const BRANCH = 0x01;
const LEAF = 0x02;
const META = 0x04;
const BUCKET_LEAF = 0x01;
const MAGIC = 0xed0cdaed;
const MAX_DEPTH = 64;
const MAX_PAGE_SIZE = 1 << 20;

class Malformed extends Error {}

interface Page {
  readonly flags: number;
  readonly count: number;
  /** The page bytes: header, elements and data. */
  readonly data: Buffer;
}

interface Element {
  readonly key: Buffer;
  /** Leaf: the value; branch: empty. */
  readonly value: Buffer;
  readonly flags: number;
  /** Branch: the child page. */
  readonly child: bigint;
}

/** FNV-1a, 64 bit: bbolt's meta checksum. */
function fnv1a64(bytes: Buffer): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of bytes) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n);
  return hash;
}

function slice(buffer: Buffer, start: number, length: number, what: string): Buffer {
  if (start < 0 || length < 0 || start + length > buffer.length) throw new Malformed(`${what} lies outside its page`);
  return buffer.subarray(start, start + length);
}

class BoltFile {
  private pageSize = 0;

  constructor(private readonly read: ByteReader) {}

  private bytes(offset: number, length: number, what: string): Buffer {
    const data = this.read(offset, length);
    if (data.length < length) throw new Malformed(`${what} lies beyond the end of the file`);
    return data;
  }

  /** The root bucket's page id from the newer valid meta page. */
  rootPage(): bigint {
    const first = this.meta(0);
    if ('reason' in first) throw new Malformed(`meta page 0: ${first.reason}`);
    this.pageSize = first.pageSize;
    const second = this.meta(first.pageSize);
    const newest = 'reason' in second || second.txid < first.txid ? first : second;
    return newest.root;
  }

  private meta(offset: number): { pageSize: number; root: bigint; txid: bigint } | { reason: string } {
    const page = this.read(offset, PAGE_HEADER + 64);
    if (page.length < PAGE_HEADER + 64) return { reason: 'truncated' };
    if ((page.readUInt16LE(8) & META) === 0) return { reason: 'not a meta page' };
    const meta = page.subarray(PAGE_HEADER);
    if (meta.readUInt32LE(0) !== MAGIC) return { reason: 'not a bbolt file (bad magic)' };
    if (meta.readUInt32LE(4) !== 2) return { reason: `bbolt format version ${meta.readUInt32LE(4)}, expected 2` };
    if (fnv1a64(meta.subarray(0, 56)) !== meta.readBigUInt64LE(56)) return { reason: 'checksum mismatch' };
    const pageSize = meta.readUInt32LE(8);
    if (pageSize < 512 || pageSize > MAX_PAGE_SIZE || (pageSize & (pageSize - 1)) !== 0) return { reason: `page size ${pageSize}` };
    return { pageSize, root: meta.readBigUInt64LE(16), txid: meta.readBigUInt64LE(48) };
  }

  page(id: bigint): Page {
    const offset = Number(id) * this.pageSize;
    if (id < 2n || !Number.isSafeInteger(offset)) throw new Malformed(`page id ${id} is out of range`);
    const header = this.bytes(offset, PAGE_HEADER, `page ${id}`);
    const overflow = header.readUInt32LE(12);
    if (overflow > 1 << 20) throw new Malformed(`page ${id}: overflow ${overflow}`);
    return this.parsePage(this.bytes(offset, (overflow + 1) * this.pageSize, `page ${id}`), `page ${id}`);
  }

  parsePage(data: Buffer, what: string): Page {
    if (data.length < PAGE_HEADER) throw new Malformed(`${what}: truncated`);
    const flags = data.readUInt16LE(8);
    const count = data.readUInt16LE(10);
    if ((flags & (BRANCH | LEAF)) === 0) throw new Malformed(`${what}: neither a branch nor a leaf page (flags ${flags})`);
    if (PAGE_HEADER + count * ELEMENT > data.length) throw new Malformed(`${what}: ${count} elements do not fit`);
    return { flags, count, data };
  }

  element(page: Page, index: number, what: string): Element {
    const at = PAGE_HEADER + index * ELEMENT;
    if ((page.flags & BRANCH) !== 0) {
      const position = page.data.readUInt32LE(at);
      const keySize = page.data.readUInt32LE(at + 4);
      return { key: slice(page.data, at + position, keySize, `${what} key`), value: Buffer.alloc(0), flags: 0, child: page.data.readBigUInt64LE(at + 8) };
    }
    const flags = page.data.readUInt32LE(at);
    const position = page.data.readUInt32LE(at + 4);
    const keySize = page.data.readUInt32LE(at + 8);
    const valueSize = page.data.readUInt32LE(at + 12);
    return {
      key: slice(page.data, at + position, keySize, `${what} key`),
      value: slice(page.data, at + position + keySize, valueSize, `${what} value`),
      flags,
      child: 0n,
    };
  }

  /** A bucket's root page: its own page, or the page stored inline after its header. */
  bucketRoot(value: Buffer, what: string): Page {
    if (value.length < 16) throw new Malformed(`${what}: bucket header truncated`);
    const root = value.readBigUInt64LE(0);
    return root === 0n ? this.parsePage(value.subarray(16), `${what} (inline)`) : this.page(root);
  }

  /** The value of `key` in the tree under `root`, if it is there with the given leaf flags. */
  find(root: Page, key: Buffer, bucket: boolean, what: string): Buffer | undefined {
    let page = root;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      if ((page.flags & LEAF) !== 0) {
        for (let i = 0; i < page.count; i++) {
          const element = this.element(page, i, what);
          if (element.key.equals(key)) return ((element.flags & BUCKET_LEAF) !== 0) === bucket ? element.value : undefined;
        }
        return undefined;
      }
      // Branch: the last child whose first key is at or before the key (the first child otherwise).
      let child: bigint | undefined;
      for (let i = 0; i < page.count; i++) {
        const element = this.element(page, i, what);
        if (i === 0 || Buffer.compare(element.key, key) <= 0) child = element.child;
        else break;
      }
      if (child === undefined) return undefined;
      page = this.page(child);
    }
    throw new Malformed(`${what}: tree deeper than ${MAX_DEPTH}`);
  }

  /** The greatest key of the tree under `root`, if any. */
  lastKey(root: Page, what: string): Buffer | undefined {
    let page = root;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      if (page.count === 0) return undefined;
      const last = this.element(page, page.count - 1, what);
      if ((page.flags & LEAF) !== 0) return last.key;
      page = this.page(last.child);
    }
    throw new Malformed(`${what}: tree deeper than ${MAX_DEPTH}`);
  }
}

function mainRevision(bytes: Buffer, what: string): number {
  if (bytes.length < 17 || bytes[8] !== 0x5f) throw new Malformed(`${what}: ${bytes.toString('hex')} is not a revision`);
  const main = bytes.readBigUInt64BE(0);
  if (main > BigInt(Number.MAX_SAFE_INTEGER)) throw new Malformed(`${what}: revision ${main} is too large`);
  return Number(main);
}

/** Reads the revision an etcd snapshot (or member database) holds; see the file comment. */
export function readEtcdSnapshotRevision(read: ByteReader): BoltRevision {
  try {
    const file = new BoltFile(read);
    const root = file.page(file.rootPage());
    const keyBucket = file.find(root, Buffer.from('key'), true, 'bucket "key"');
    if (keyBucket === undefined) return { ok: false, reason: 'no bucket "key": not an etcd v3 database' };
    const newest = file.lastKey(file.bucketRoot(keyBucket, 'bucket "key"'), 'bucket "key"');
    const newestKeyRevision = newest === undefined ? 0 : mainRevision(newest, 'newest key of bucket "key"');
    const metaBucket = file.find(root, Buffer.from('meta'), true, 'bucket "meta"');
    const compacted = metaBucket === undefined ? undefined : file.find(file.bucketRoot(metaBucket, 'bucket "meta"'), Buffer.from('finishedCompactRev'), false, 'bucket "meta"');
    const compactRevision = compacted === undefined ? 0 : mainRevision(compacted, 'finishedCompactRev');
    // An etcd store starts at revision 1 before its first write.
    return { ok: true, revision: Math.max(1, newestKeyRevision, compactRevision), newestKeyRevision, compactRevision };
  } catch (error) {
    if (error instanceof Malformed || error instanceof RangeError) return { ok: false, reason: error.message };
    return { ok: false, reason: String(error) };
  }
}
