#!/usr/bin/env node
// Child process for store-sqlite-kill.test.ts: writes to a SQLite store as fast as it can and prints
// one JSON line per write the store acknowledged, until it is killed. Uses the built library.
// argv: <database file> <writer id>
import { openStore } from '@kvmservice/store';

const [file, writer] = process.argv.slice(2);
const store = await openStore(`sqlite:${file}`);
const out = (record) => process.stdout.write(`${JSON.stringify(record)}\n`);
// One counter shared by every round: it must only ever grow.
const counter = '/faults/counter';
await store.create(counter, '0').catch((error) => {
  if (error.code !== 'AlreadyExists') throw error;
});
out({ ready: true });

let next = 0;
async function uniquePuts() {
  for (;;) {
    const i = next++;
    const key = `/faults/${writer}/item/${String(i).padStart(8, '0')}`;
    const value = JSON.stringify({ i, pad: 'x'.repeat(i % 300) });
    const kv = await store.create(key, value);
    out({ op: 'create', key, value, rev: kv.modRevision });
    if (i % 7 === 0) {
      const gone = await store.delete(key, { expectRevision: kv.modRevision });
      out({ op: 'delete', key, rev: gone.revision });
    }
  }
}
async function counterUpdates() {
  for (;;) {
    const current = await store.get(counter);
    const value = String(Number(current.value.toString()) + 1);
    try {
      const kv = await store.update(counter, value, { expectRevision: current.modRevision });
      out({ op: 'update', key: counter, value, rev: kv.modRevision });
    } catch (error) {
      if (error.code !== 'Conflict') throw error;
    }
  }
}
await Promise.all([uniquePuts(), uniquePuts(), uniquePuts(), uniquePuts(), counterUpdates(), counterUpdates()]);
