import type { Database } from 'better-sqlite3';
import { MAX_COMMIT_OPERATIONS } from '../commit.js';

/**
 * One file holds the whole store:
 * - `log`: every change (the revision log), one row per changed key. A row's `pos` is
 *   `revision * POSITIONS_PER_REVISION + index`, where index is the operation's place in its commit
 *   (0 for single writes): the keys of one multi-key commit share a revision and keep their order,
 *   and the integer primary key stays the only index needed to read history in order (etcd numbers
 *   its log the same way, as main and sub revision). A PUT row carries the full key-value; a DELETE
 *   row is a tombstone. `prev_pos` points at the key's previous PUT row (0 when the key was absent),
 *   which gives watch events their previous value. Compaction removes rows older than the compaction
 *   revision that are tombstones or superseded, so the state at any revision >= the compaction
 *   revision can still be read (list paging reads a snapshot).
 * - `kv`: the live keys, each pointing at its current `log` row.
 * - `lease`: TTL grants with a wall-clock deadline; ids are never reused (AUTOINCREMENT), so a stale
 *   holder can never renew somebody else's lease.
 * - `meta`: the schema version and the compaction revision. The store revision is the revision of the
 *   newest `log` row (compaction never removes it), so a write touches no extra page to count revisions.
 *
 * Version 1 numbered log rows by revision alone (one row per revision); opening such a file
 * rewrites it to version 2 once, in one transaction.
 */
export const SCHEMA_VERSION = 2;

/** Log positions per revision: room for the largest commit. */
export const POSITIONS_PER_REVISION = 256;
if (MAX_COMMIT_OPERATIONS > POSITIONS_PER_REVISION) throw new Error('POSITIONS_PER_REVISION must hold the largest commit');

export function positionOf(revision: number, index = 0): number {
  return revision * POSITIONS_PER_REVISION + index;
}

export function revisionOf(position: number): number {
  return Math.floor(position / POSITIONS_PER_REVISION);
}

const TABLES = `
CREATE TABLE log (
  pos INTEGER PRIMARY KEY,
  key BLOB NOT NULL,
  deleted INTEGER NOT NULL,
  value BLOB,
  create_rev INTEGER NOT NULL,
  version INTEGER NOT NULL,
  lease INTEGER NOT NULL,
  prev_pos INTEGER NOT NULL
);
CREATE INDEX log_key_pos ON log (key, pos);
CREATE TABLE kv (key BLOB PRIMARY KEY, pos INTEGER NOT NULL, lease INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX kv_lease ON kv (lease) WHERE lease <> 0;
`;

const CREATE = `
CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
${TABLES}
CREATE TABLE lease (id INTEGER PRIMARY KEY AUTOINCREMENT, ttl INTEGER NOT NULL, expires_at INTEGER NOT NULL);
`;

/** Version 1 → 2: log rows keyed by revision become positions (revision * POSITIONS_PER_REVISION). */
const FROM_VERSION_1 = `
DROP INDEX log_key_rev;
DROP INDEX kv_lease;
ALTER TABLE log RENAME TO log_v1;
ALTER TABLE kv RENAME TO kv_v1;
${TABLES}
INSERT INTO log (pos, key, deleted, value, create_rev, version, lease, prev_pos)
  SELECT rev * ${POSITIONS_PER_REVISION}, key, deleted, value, create_rev, version, lease, prev_rev * ${POSITIONS_PER_REVISION} FROM log_v1;
INSERT INTO kv (key, pos, lease) SELECT key, rev * ${POSITIONS_PER_REVISION}, lease FROM kv_v1;
DROP TABLE log_v1;
DROP TABLE kv_v1;
UPDATE meta SET value = 2 WHERE name = 'schema';
`;

export interface StoredMeta {
  readonly revision: number;
  readonly compacted: number;
}

/** Creates, upgrades or checks the schema inside an IMMEDIATE transaction (which also takes the write lock). */
export function migrateSchema(db: Database, file: string): StoredMeta {
  return db.transaction(() => {
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
    if (!hasMeta) {
      db.exec(CREATE);
      db.prepare('INSERT INTO meta (name, value) VALUES (?, ?), (?, ?)').run('schema', SCHEMA_VERSION, 'compacted', 0);
    }
    const read = db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE name = ?');
    const version = read.get('schema')?.value;
    if (version === 1) db.exec(FROM_VERSION_1);
    else if (version !== SCHEMA_VERSION) {
      throw new Error(`${file}: store schema version ${String(version)}, this build understands 1 and ${SCHEMA_VERSION}`);
    }
    const newest = db.prepare<[], { pos: number | null }>('SELECT max(pos) AS pos FROM log').get();
    return { revision: revisionOf(newest?.pos ?? 0), compacted: read.get('compacted')?.value ?? 0 };
  }).immediate();
}
