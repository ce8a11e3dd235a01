import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readEtcdSnapshotRevision } from './bolt-revision.js';

/*
 * A small bbolt file laid out as etcd's: root bucket with `key` (its own tree: a branch page over
 * two leaves) and `meta` (inline). The real thing (a snapshot of a real etcd, checked against
 * `etcdctl snapshot status` and a restored member) is in test/conformance/store-snapshot.test.ts.
 */
const PAGE = 4096;

interface Entry {
  key: Buffer;
  value: Buffer;
  bucket?: boolean;
}

function fnv1a64(bytes: Buffer): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of bytes) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n);
  return hash;
}

function page(id: number, flags: number, count: number, body: Buffer, size = PAGE): Buffer {
  const out = Buffer.alloc(Math.max(size, 16 + body.length));
  out.writeBigUInt64LE(BigInt(id), 0);
  out.writeUInt16LE(flags, 8);
  out.writeUInt16LE(count, 10);
  body.copy(out, 16);
  return size === 0 ? out.subarray(0, 16 + body.length) : out;
}

function leaf(id: number, entries: Entry[], size = PAGE): Buffer {
  const elements = Buffer.alloc(entries.length * 16);
  const data: Buffer[] = [];
  let offset = elements.length;
  entries.forEach((entry, i) => {
    elements.writeUInt32LE(entry.bucket ? 1 : 0, i * 16);
    elements.writeUInt32LE(offset - i * 16, i * 16 + 4);
    elements.writeUInt32LE(entry.key.length, i * 16 + 8);
    elements.writeUInt32LE(entry.value.length, i * 16 + 12);
    data.push(entry.key, entry.value);
    offset += entry.key.length + entry.value.length;
  });
  return page(id, 0x02, entries.length, Buffer.concat([elements, ...data]), size);
}

function branch(id: number, children: { key: Buffer; pgid: number }[]): Buffer {
  const elements = Buffer.alloc(children.length * 16);
  const data: Buffer[] = [];
  let offset = elements.length;
  children.forEach((child, i) => {
    elements.writeUInt32LE(offset - i * 16, i * 16);
    elements.writeUInt32LE(child.key.length, i * 16 + 4);
    elements.writeBigUInt64LE(BigInt(child.pgid), i * 16 + 8);
    data.push(child.key);
    offset += child.key.length;
  });
  return page(id, 0x01, children.length, Buffer.concat([elements, ...data]));
}

function meta(id: number, root: number, txid: number): Buffer {
  const body = Buffer.alloc(64);
  body.writeUInt32LE(0xed0cdaed, 0);
  body.writeUInt32LE(2, 4);
  body.writeUInt32LE(PAGE, 8);
  body.writeBigUInt64LE(BigInt(root), 16);
  body.writeBigUInt64LE(7n, 40);
  body.writeBigUInt64LE(BigInt(txid), 48);
  body.writeBigUInt64LE(fnv1a64(body.subarray(0, 56)), 56);
  return page(id, 0x04, 0, body);
}

/** etcd's revision key: main (8 bytes, big-endian), '_', sub (8 bytes). */
function revisionKey(main: number, sub = 0, tombstone = false): Buffer {
  const key = Buffer.alloc(tombstone ? 18 : 17);
  key.writeBigUInt64BE(BigInt(main), 0);
  key[8] = 0x5f;
  key.writeBigUInt64BE(BigInt(sub), 9);
  if (tombstone) key[17] = 0x74;
  return key;
}

function bucketValue(root: number, inline?: Buffer): Buffer {
  const header = Buffer.alloc(16);
  header.writeBigUInt64LE(BigInt(root), 0);
  return inline ? Buffer.concat([header, inline]) : header;
}

/** Pages: 0,1 meta · 2 root bucket · 3 `key` branch · 4,5 `key` leaves. */
function etcdLikeFile(options: { newest: number; compacted?: number; emptyKeys?: boolean; staleMetaRoot?: number }): Buffer {
  const metaEntries: Entry[] = [{ key: Buffer.from('consistent_index'), value: Buffer.alloc(8) }];
  if (options.compacted !== undefined) metaEntries.push({ key: Buffer.from('finishedCompactRev'), value: revisionKey(options.compacted) });
  const inlineMeta = leaf(0, metaEntries, 0);
  const root = leaf(2, [
    { key: Buffer.from('alarm'), value: bucketValue(0, leaf(0, [], 0)), bucket: true },
    { key: Buffer.from('key'), value: bucketValue(options.emptyKeys ? 0 : 3, options.emptyKeys ? leaf(0, [], 0) : undefined), bucket: true },
    { key: Buffer.from('meta'), value: bucketValue(0, inlineMeta), bucket: true },
  ]);
  const value = Buffer.from('{"kv":"…"}');
  const low = Array.from({ length: 5 }, (_, i) => ({ key: revisionKey(2 + i), value }));
  const high = [...Array.from({ length: options.newest - 8 }, (_, i) => ({ key: revisionKey(7 + i), value })), { key: revisionKey(options.newest - 1, 1), value }, { key: revisionKey(options.newest, 0, true), value }];
  const keys = branch(3, [
    { key: low[0]!.key, pgid: 4 },
    { key: high[0]!.key, pgid: 5 },
  ]);
  // Meta 1 is newer; when told so, it is damaged and meta 0 (pointing at the same root) is used.
  const meta1 = meta(1, options.staleMetaRoot ?? 2, 9);
  if (options.staleMetaRoot !== undefined) meta1.writeUInt8(meta1.readUInt8(16 + 60) ^ 0xff, 16 + 60);
  return Buffer.concat([meta(0, 2, 8), meta1, root, keys, leaf(4, low), leaf(5, high)]);
}

const readerOf = (bytes: Buffer) => (offset: number, length: number) => bytes.subarray(offset, offset + length);

describe('readEtcdSnapshotRevision', () => {
  it('reads the newest revision of bucket `key` through a branch page, and the compaction point of bucket `meta`', () => {
    expect(readEtcdSnapshotRevision(readerOf(etcdLikeFile({ newest: 40 })))).toEqual({ ok: true, revision: 40, newestKeyRevision: 40, compactRevision: 0 });
    expect(readEtcdSnapshotRevision(readerOf(etcdLikeFile({ newest: 40, compacted: 30 })))).toEqual({ ok: true, revision: 40, newestKeyRevision: 40, compactRevision: 30 });
    // Compaction removed the newest revisions' rows (deleted keys): the store continues from the compaction point.
    expect(readEtcdSnapshotRevision(readerOf(etcdLikeFile({ newest: 40, compacted: 55 })))).toEqual({ ok: true, revision: 55, newestKeyRevision: 40, compactRevision: 55 });
    expect(readEtcdSnapshotRevision(readerOf(etcdLikeFile({ newest: 40, emptyKeys: true })))).toEqual({ ok: true, revision: 1, newestKeyRevision: 0, compactRevision: 0 });
    expect(readEtcdSnapshotRevision(readerOf(etcdLikeFile({ newest: 40, staleMetaRoot: 99 })))).toMatchObject({ ok: true, revision: 40 });
  });

  it('is total: truncated, damaged or random input gives a reason, never an exception', () => {
    const file = etcdLikeFile({ newest: 40, compacted: 30 });
    expect(readEtcdSnapshotRevision(readerOf(Buffer.alloc(0)))).toEqual({ ok: false, reason: 'meta page 0: truncated' });
    expect(readEtcdSnapshotRevision(readerOf(file.subarray(0, 5 * PAGE)))).toEqual({ ok: false, reason: 'page 5 lies beyond the end of the file' });
    const badMagic = Buffer.from(file);
    badMagic.writeUInt32LE(0, 16);
    expect(readEtcdSnapshotRevision(readerOf(badMagic))).toEqual({ ok: false, reason: 'meta page 0: not a bbolt file (bad magic)' });
    const badSum = Buffer.from(file);
    badSum.writeUInt8(badSum.readUInt8(16 + 20) ^ 1, 16 + 20);
    expect(readEtcdSnapshotRevision(readerOf(badSum))).toEqual({ ok: false, reason: 'meta page 0: checksum mismatch' });
    const noKeyBucket = Buffer.from(file);
    noKeyBucket.write('kez', 2 * PAGE + 16 + 3 * 16 + 5 + 16 + 16);
    expect(readEtcdSnapshotRevision(readerOf(noKeyBucket))).toMatchObject({ ok: false });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3 * PAGE }), (random) => {
        const result = readEtcdSnapshotRevision(readerOf(Buffer.from(random)));
        return !result.ok && result.reason.length > 0;
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(file.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (damage) => {
        const copy = Buffer.from(file);
        for (const [at, value] of damage) copy[at] = value;
        const result = readEtcdSnapshotRevision(readerOf(copy));
        return result.ok ? Number.isSafeInteger(result.revision) && result.revision >= 1 : result.reason.length > 0;
      }),
      { numRuns: 2000 },
    );
  });
});
