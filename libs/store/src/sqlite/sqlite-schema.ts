import type { Database } from 'better-sqlite3';

/**
 * One file holds the whole store:
 * - `log`: every change (the revision log). A PUT row carries the full key-value; a DELETE row is a
 *   tombstone. `prev_rev` points at the key's previous PUT row (0 when the key was absent), which
 *   gives watch events their previous value. Compaction removes rows older than the compaction
 *   revision that are tombstones or superseded, so the state at any revision >= the compaction
 *   revision can still be read (list paging reads a snapshot).
 * - `kv`: the live keys, each pointing at its current `log` row.
 * - `lease`: TTL grants with a wall-clock deadline; ids are never reused (AUTOINCREMENT), so a stale
 *   holder can never renew somebody else's lease.
 * - `meta`: the schema version and the compaction revision. The store revision is the newest `log`
 *   row (compaction never removes it), so a write touches no extra page to count revisions.
 */
export const SCHEMA_VERSION = 1;

const DDL = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
  rev INTEGER PRIMARY KEY,
  key BLOB NOT NULL,
  deleted INTEGER NOT NULL,
  value BLOB,
  create_rev INTEGER NOT NULL,
  version INTEGER NOT NULL,
  lease INTEGER NOT NULL,
  prev_rev INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_rev ON log (key, rev);
CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, rev INTEGER NOT NULL, lease INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_lease ON kv (lease) WHERE lease <> 0;
CREATE TABLE IF NOT EXISTS lease (id INTEGER PRIMARY KEY AUTOINCREMENT, ttl INTEGER NOT NULL, expires_at INTEGER NOT NULL);
`;

export interface StoredMeta {
  readonly revision: number;
  readonly compacted: number;
}

/** Creates or checks the schema inside an IMMEDIATE transaction (which also takes the write lock). */
export function migrateSchema(db: Database, file: string): StoredMeta {
  return db.transaction(() => {
    db.exec(DDL);
    const read = db.prepare<[string], { value: number }>('SELECT value FROM meta WHERE name = ?');
    const version = read.get('schema')?.value;
    if (version === undefined) {
      db.prepare('INSERT INTO meta (name, value) VALUES (?, ?), (?, ?)').run('schema', SCHEMA_VERSION, 'compacted', 0);
    } else if (version !== SCHEMA_VERSION) {
      throw new Error(`${file}: store schema version ${version}, this build understands ${SCHEMA_VERSION}`);
    }
    const newest = db.prepare<[], { rev: number | null }>('SELECT max(rev) AS rev FROM log').get();
    return { revision: newest?.rev ?? 0, compacted: read.get('compacted')?.value ?? 0 };
  }).immediate();
}
