#!/usr/bin/env node
// Snapshot benchmark (`npm run bench snapshot`): how long `store.snapshot()` takes on the built
// @kvmservice/store, against references measured in the same run on the same data:
// - SQLite: better-sqlite3's own `db.backup()` of the same file (what the store wraps; the store adds
//   the journal switch, quick_check and fsyncs) and a plain file copy; and the store under 4
//   concurrent writers: their put rate and latency during the snapshot against just before.
// - etcd (1 member): Debian's `etcdctl snapshot save` from the same member.
// SNAPSHOT_BENCH_MIB sets the data size (default 64).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore } from '@kvmservice/store';
import { etcdHealthy, freePort } from './bench-support.mjs';

const MIB = Number(process.env.SNAPSHOT_BENCH_MIB ?? 64);
const ROUNDS = 3;
const VALUE = 'v'.repeat(4000);
const work = mkdtempSync(join(tmpdir(), 'kvm-snapshot-bench-'));
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (value) => `${value.toFixed(0)} ms`;
const rate = (bytes, millis) => `${(bytes / 2 ** 20 / (millis / 1000)).toFixed(0)} MiB/s`;

async function timed(run) {
  const start = performance.now();
  const result = await run();
  return { ms: performance.now() - start, result };
}

async function fill(store) {
  const commits = Math.ceil((MIB * 2 ** 20) / (128 * VALUE.length));
  for (let c = 0; c < commits; c++) {
    await store.commit(Array.from({ length: 128 }, (_, i) => ({ type: 'put', key: `/bench/${c}/${i}`, value: VALUE })));
  }
}

async function sqlite() {
  const file = join(work, 'store.db');
  const store = await openStore(`sqlite:${file}`, { sqlite: { durability: 'normal' } });
  await fill(store);
  const idle = [];
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const { ms: took, result } = await timed(() => store.snapshot(join(work, `snap-${round}.db`)));
    idle.push(took);
    bytes = result.bytes;
  }

  // Under writers: put latency and rate just before, and during, one snapshot.
  let running = true;
  let phase = 'warm-up';
  const latencies = { before: [], during: [] };
  const writers = Array.from({ length: 4 }, async (_, w) => {
    for (let n = 0; running; n++) {
      const start = performance.now();
      await store.put(`/writer/${w}/${n % 1000}`, 'x'.repeat(400));
      latencies[phase]?.push(performance.now() - start);
    }
  });
  await sleep(300);
  phase = 'before';
  await sleep(1000);
  phase = 'during';
  const { ms: busyMs } = await timed(() => store.snapshot(join(work, 'snap-busy.db')));
  phase = 'after';
  running = false;
  await Promise.all(writers);
  await store.close();

  // References on the same file, with the store closed (it holds the file exclusively).
  const raw = [];
  const copy = [];
  for (let round = 0; round < ROUNDS; round++) {
    const db = new Database(file);
    raw.push((await timed(() => db.backup(join(work, `raw-${round}.db`)))).ms);
    db.close();
    copy.push((await timed(() => copyFileSync(file, join(work, `copy-${round}.db`)))).ms);
  }
  const store_ = median(idle);
  console.log(`SQLite, ${(bytes / 2 ** 20).toFixed(0)} MiB file (median of ${ROUNDS}):`);
  console.log(`  store.snapshot()            ${ms(store_)}  ${rate(bytes, store_)}`);
  console.log(`  better-sqlite3 db.backup()  ${ms(median(raw))}  ${rate(bytes, median(raw))}   store/backup = ${(store_ / median(raw)).toFixed(2)}`);
  console.log(`  file copy                   ${ms(median(copy))}  ${rate(bytes, median(copy))}   store/copy = ${(store_ / median(copy)).toFixed(2)}`);
  const pct = (values, p) => [...values].sort((x, y) => x - y)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))].toFixed(2);
  const line = (name, values, millis) => `${name}: ${(values.length / (millis / 1000)).toFixed(0)} puts/s, latency p50 ${pct(values, 50)} ms, p99 ${pct(values, 99)} ms, max ${pct(values, 100)} ms`;
  console.log(`  under 4 writers (durability normal), snapshot took ${ms(busyMs)}:`);
  console.log(`    ${line('before', latencies.before, 1000)}`);
  console.log(`    ${line('during', latencies.during, busyMs)}`);
}

async function etcd() {
  const [client, peer] = await Promise.all([freePort(), freePort()]);
  const child = spawn('etcd', [
    '--name=b1', `--data-dir=${join(work, 'etcd')}`,
    `--listen-client-urls=http://127.0.0.1:${client}`, `--advertise-client-urls=http://127.0.0.1:${client}`,
    `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-cluster=b1=http://127.0.0.1:${peer}`, '--logger=zap', '--log-level=error',
  ], { stdio: 'ignore' });
  child.on('error', (error) => {
    console.error(`cannot start etcd (Debian package etcd-server): ${error.message}`);
    process.exit(2);
  });
  children.add(child);
  const deadline = Date.now() + 20_000;
  while (!(await etcdHealthy(client))) {
    if (Date.now() > deadline) throw new Error('etcd did not become healthy');
    await sleep(50);
  }
  const store = await openStore(`etcd://127.0.0.1:${client}`);
  await fill(store);
  const ours = [];
  const theirs = [];
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const { ms: took, result } = await timed(() => store.snapshot(join(work, `etcd-${round}.snap`)));
    ours.push(took);
    bytes = result.bytes;
    const reference = join(work, `etcdctl-${round}.snap`);
    const { ms: ref } = await timed(async () => {
      const run = spawnSync('etcdctl', [`--endpoints=127.0.0.1:${client}`, 'snapshot', 'save', reference], { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`etcdctl snapshot save: ${run.stderr}`);
    });
    theirs.push(ref);
    if (statSync(reference).size !== bytes) console.log(`  (etcdctl's file: ${statSync(reference).size} bytes, ours ${bytes})`);
  }
  await store.close();
  child.kill('SIGKILL');
  console.log(`etcd 3.4, 1 member, ${(bytes / 2 ** 20).toFixed(0)} MiB snapshot (median of ${ROUNDS}):`);
  console.log(`  store.snapshot()            ${ms(median(ours))}  ${rate(bytes, median(ours))}`);
  console.log(`  etcdctl snapshot save       ${ms(median(theirs))}  ${rate(bytes, median(theirs))}   store/etcdctl = ${(median(ours) / median(theirs)).toFixed(2)}`);
}

await sqlite();
await etcd();
