#!/usr/bin/env node
/**
 * Runs many kvmagent instances in one Node process, from the built agent (apps/kvmagent/dist):
 * its composition root `startAgent` — connection with failover across `--server` addresses, sync
 * session, reconciler (desired.json, applied.json), collector, spool, uploader — each configured
 * from the same flags as the bin. Started by test/support/fleet-agents.ts.
 *
 * Usage: node agent-fleet-host.mjs SPEC.json, SPEC = {"agents": [{"name", "argv": [...]}]}.
 * Prints `{"started":N}` when every agent runs; SIGTERM stops them all (orderly, as the bin does),
 * prints `{"stopped":N}` and exits 0. Each agent logs to `<its state dir>/../agent.log`.
 *
 * One part is replaced, so that a fleet of 200 fits on two cores: the LSM worker's AppArmor step
 * writes the profiles into the state directory as the loader's dry run lays them out
 * (`apparmor/profiles/<file>`, files that left the set removed) without running apparmor_parser
 * (~200 ms a profile) in a spawned worker. Agents run as real processes compile with the parser.
 */
import { createWriteStream, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startAgent } from '../../apps/kvmagent/dist/agent.js';
import { resolveAgentConfig } from '../../apps/kvmagent/dist/config.js';
import { createLogger } from '../../apps/kvmagent/dist/log.js';
import { runLsmOperation } from '../../apps/kvmagent/dist/loaders/lsm-operations.js';

function readOrUndefined(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The dry-run AppArmor apply without the compiler: the set written to `options.dir`. */
function writeProfiles(request) {
  const dir = request.options.dir;
  mkdirSync(dir, { recursive: true });
  const wanted = new Set(request.artifacts.map((a) => a.fileName));
  const results = request.artifacts.map((a) => {
    const file = join(dir, a.fileName);
    if (readOrUndefined(file) === a.content) return { name: a.name, fileName: a.fileName, status: 'unchanged', message: 'already on disk' };
    writeFileSync(file, a.content);
    return { name: a.name, fileName: a.fileName, status: 'applied', message: 'written (test fleet: not compiled)' };
  });
  const removed = readdirSync(dir)
    .filter((f) => !f.startsWith('.') && !wanted.has(f))
    .map((f) => {
      rmSync(join(dir, f), { force: true });
      return { fileName: f, status: 'removed', message: 'removed' };
    });
  return { mode: 'compile-only', ok: true, results, removed };
}

const runner = { run: async (request) => (request.op === 'apparmor-apply' ? writeProfiles(request) : runLsmOperation(request)) };

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const running = [];
const streams = [];

async function startOne(entry) {
  const { config } = resolveAgentConfig(entry.argv, {}, (p) => readFileSync(p, 'utf8'), () => false);
  mkdirSync(dirname(config.stateDir), { recursive: true });
  const stream = createWriteStream(join(dirname(config.stateDir), 'agent.log'), { flags: 'a' });
  streams.push(stream);
  const log = createLogger('info', (line) => stream.write(line));
  running.push(await startAgent(config, log, { runner, env: {} }));
}

let next = 0;
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < spec.agents.length) await startOne(spec.agents[next++]);
  }),
);
process.stdout.write(`${JSON.stringify({ started: running.length })}\n`);

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void Promise.race([Promise.all(running.map((a) => a.stop().catch(() => undefined))), new Promise((r) => setTimeout(r, 15_000))]).then(async () => {
    await Promise.all(streams.map((s) => new Promise((r) => s.end(r))));
    process.stdout.write(`${JSON.stringify({ stopped: running.length })}\n`);
    process.exit(0);
  });
});
