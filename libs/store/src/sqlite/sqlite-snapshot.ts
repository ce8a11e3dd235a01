import Database from 'better-sqlite3';
import { revisionOf, SCHEMA_VERSION } from './sqlite-schema.js';

/** Pages copied per step of the online backup (1 MiB at 4 KiB pages): writes run between steps. */
export const BACKUP_PAGES_PER_STEP = 256;

/** Files SQLite may create beside a database while it is open. */
export const SQLITE_COMPANION_SUFFIXES = ['-journal', '-wal', '-shm'] as const;

/**
 * Makes a fresh backup copy a self-contained store file and reads the revision it holds.
 *
 * The backup copies the source's header, which says WAL; the copy is switched to a rollback journal
 * so it is one file with nothing beside it (the store turns WAL on again when it opens it), checked
 * page by page (`quick_check`), and its revision read the way the store reads it on open: the
 * revision of the newest log row.
 */
export function finishSqliteSnapshot(file: string): number {
  const db = new Database(file);
  try {
    // Exclusive: no -shm file, and nobody else can touch the copy while we look at it.
    db.pragma('locking_mode = EXCLUSIVE');
    const mode = String(db.pragma('journal_mode = DELETE', { simple: true })).toLowerCase();
    if (mode !== 'delete') throw new Error(`cannot leave WAL mode (journal_mode is ${mode})`);
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`the copy fails its integrity check: ${String(check)}`);
    const schema = db.prepare<[], { value: number }>("SELECT value FROM meta WHERE name = 'schema'").get()?.value;
    if (schema !== SCHEMA_VERSION) throw new Error(`the copy has store schema ${String(schema)}, expected ${SCHEMA_VERSION}`);
    const newest = db.prepare<[], { pos: number | null }>('SELECT max(pos) AS pos FROM log').get();
    return revisionOf(newest?.pos ?? 0);
  } finally {
    db.close();
  }
}
