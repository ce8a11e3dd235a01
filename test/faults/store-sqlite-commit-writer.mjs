#!/usr/bin/env node
// Child process for store-sqlite-commit-kill.test.ts: commits multi-key transactions to a SQLite
// store as fast as it can and prints one JSON line per commit the store acknowledged, until killed.
// Uses the built library. argv: <database file> <writer id>
//
// Every "pair" commit creates <writer>/<n>/a and <writer>/<n>/b and increments the shared counter
// (with expectRevision, so concurrent committers conflict and fail whole); every "unpair" commit
// deletes both keys of an earlier pair. So in any state: a and b exist together or not at all, and
// the counter equals the number of pairs ever created.
import { openStore } from '@kvmservice/store';

const [file, writer] = process.argv.slice(2);
const store = await openStore(`sqlite:${file}`);
const out = (record) => process.stdout.write(`${JSON.stringify(record)}\n`);
const root = '/faults-commit/';
const counter = `${root}counter`;
await store.create(counter, '0').catch((error) => {
  if (error.code !== 'AlreadyExists') throw error;
});
out({ ready: true });

let next = 0;
const pairs = [];
async function committer() {
  for (;;) {
    const current = await store.get(counter);
    const n = next++;
    const key = `${root}${writer}/${String(n).padStart(8, '0')}/`;
    const value = JSON.stringify({ n, pad: 'x'.repeat(n % 500) });
    try {
      const { revision } = await store.commit([
        { type: 'create', key: `${key}a`, value },
        { type: 'create', key: `${key}b`, value },
        { type: 'update', key: counter, value: String(Number(current.value.toString()) + 1), expectRevision: current.modRevision },
      ]);
      out({ op: 'pair', key, rev: revision });
      pairs.push({ key, rev: revision });
    } catch (error) {
      if (error.code !== 'Conflict') throw error;
    }
    if (n % 5 === 4 && pairs.length > 0) {
      const { key, rev } = pairs.splice(Math.floor(pairs.length / 2), 1)[0];
      const { revision } = await store.commit([
        { type: 'delete', key: `${key}a`, expectRevision: rev },
        { type: 'delete', key: `${key}b`, expectRevision: rev },
      ]);
      out({ op: 'unpair', key, rev: revision });
    }
  }
}
await Promise.all([committer(), committer(), committer(), committer()]);
