import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { revisionOf, SCHEMA_VERSION } from './sqlite-schema.js';

/** Pages copied per step of the online backup (1 MiB at 4 KiB pages): writes run between steps. */
export const BACKUP_PAGES_PER_STEP = 256;

/** Files SQLite may create beside a database while it is open. */
export const SQLITE_COMPANION_SUFFIXES = ['-journal', '-wal', '-shm'] as const;

/**
 * What the worker does with the fresh copy. The backup copies the source's header, which says WAL;
 * the copy is switched to a rollback journal so it is one file with nothing beside it (the store
 * turns WAL on again when it opens it), checked page by page (`quick_check`, which reads the whole
 * file), and its newest log position read. Exclusive locking: no -shm file, nobody else touches it;
 * no syncs here: the caller fsyncs the file before publishing it.
 */
const CHECK_IN_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.betterSqlite3);
let db;
try {
  db = new Database(workerData.file);
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('synchronous = OFF');
  const mode = String(db.pragma('journal_mode = DELETE', { simple: true })).toLowerCase();
  if (mode !== 'delete') throw new Error('cannot leave WAL mode (journal_mode is ' + mode + ')');
  const check = db.pragma('quick_check', { simple: true });
  if (check !== 'ok') throw new Error('the copy fails its integrity check: ' + check);
  const schema = db.prepare("SELECT value FROM meta WHERE name = 'schema'").get();
  const newest = db.prepare('SELECT max(pos) AS pos FROM log').get();
  parentPort.postMessage({ ok: true, schema: schema === undefined ? null : schema.value, newestPosition: newest.pos });
} catch (error) {
  parentPort.postMessage({ ok: false, message: String((error && error.message) || error) });
} finally {
  if (db !== undefined) db.close();
}
`;

type CheckAnswer = { ok: true; schema: number | null; newestPosition: number | null } | { ok: false; message: string };

/**
 * Makes a fresh backup copy a self-contained store file, checks it, and returns the revision it
 * holds (the revision of its newest log row, as the store reads it on open). The work reads the
 * whole file, so it runs in a worker thread: the store's event loop keeps serving writes.
 */
export async function finishSqliteSnapshot(file: string): Promise<number> {
  const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
  const answer = await new Promise<CheckAnswer>((resolve, reject) => {
    const worker = new Worker(CHECK_IN_WORKER, { eval: true, workerData: { betterSqlite3, file } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the snapshot check ended with exit code ${code} before answering`)));
  });
  if (!answer.ok) throw new Error(answer.message);
  if (answer.schema !== SCHEMA_VERSION) throw new Error(`the copy has store schema ${String(answer.schema)}, expected ${SCHEMA_VERSION}`);
  return revisionOf(answer.newestPosition ?? 0);
}
