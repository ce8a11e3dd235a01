#!/usr/bin/env node
// Agent benchmark (`npm run bench agent`): an idle kvmagent — joined, connected over TLS to a real
// kvmservice, one policy compiled (dry-run), following an empty audit log — measured over an idle
// minute: resident memory (goal <= 60 MB) and CPU time (no busy loop), against a `node -e` idle
// process measured in the same minute as the reference. Exits 1 if a goal is missed.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControlClient, parseClientConfig, unary } from '@kvmservice/api';

const IDLE_MS = Number(process.env.AGENT_BENCH_IDLE_MS ?? 60_000);
// Past the agent's start-up (its optimiser is held back for the first 30 s).
const SETTLE_MS = Number(process.env.AGENT_BENCH_SETTLE_MS ?? 35_000);
const RSS_GOAL_MB = 60;
/** A busy loop burns a core: 60 000 ms per idle minute. An idle agent stays under 1 % of that. */
const CPU_GOAL_MS = 0.01 * IDLE_MS;

const root = new URL('../..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'kvm-agent-bench-'));
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function start(command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.lastOutput = () => stderr;
  return child;
}

function ready(port) {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/readyz', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

async function until(what, probe, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU time (user + system) of a process, milliseconds. */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
}

// The control plane, with a policy for the agent's host.
const grpcPort = await freePort();
const httpPort = await freePort();
const dataDir = join(work, 'kvmservice');
const service = start(process.execPath, [join(root, 'apps/kvmservice/bin/kvmservice.js'), '--data-dir', dataDir, '--store', `sqlite:${join(dataDir, 'db')}`, '--grpc-port', String(grpcPort), '--http-port', String(httpPort), '--bind-address', '127.0.0.1', '--log-level', 'warn']);
await until('kvmservice', () => ready(httpPort));
const kvmctl = parseClientConfig(readFileSync(join(dataDir, 'kvmctl.yaml'), 'utf8'), 'kvmctl.yaml').contexts[0];
const control = createControlClient({ address: `127.0.0.1:${grpcPort}`, caPem: readFileSync(join(dataDir, 'ca.crt')), token: kvmctl.token });
await unary(control.apply.bind(control), {
  objects: [JSON.stringify({ apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name: 'bench-guard' }, spec: { nodeSelector: { matchLabels: { 'kubearmor.io/hostname': 'bench-1' } }, file: { matchPaths: [{ path: '/etc/shadow' }] }, action: 'Block' } })],
});
const token = (await unary(control.createToken.bind(control), { hostname: 'bench-1', labels: {}, ttlSeconds: 600 })).secret;

// The agent, started as installed (its bin as a program), and the reference.
const log = join(work, 'audit.log');
writeFileSync(log, '');
const agent = start(join(root, 'apps/kvmagent/bin/kvmagent.js'), ['--server', `127.0.0.1:${grpcPort}`, '--ca', join(dataDir, 'ca.crt'), '--token', token, '--state-dir', join(work, 'agent'), '--hostname', 'bench-1', '--lsm', 'apparmor', '--dry-run', '--log-source', log]);
const reference = start(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)']);
await until('the agent to apply its policy', async () => {
  const host = JSON.parse((await unary(control.get.bind(control), { kind: 'kvm', name: 'bench-1' })).object);
  const s = host.status;
  return s?.connected && s.applied?.revision === s.desired?.revision && s.applied.artifacts.length > 0;
}).catch((e) => {
  console.error(agent.lastOutput());
  throw e;
});
await sleep(SETTLE_MS);

const cpu0 = { agent: cpuMs(agent.pid), reference: cpuMs(reference.pid) };
let peak = memory(agent.pid);
const started = Date.now();
while (Date.now() - started < IDLE_MS) {
  await sleep(Math.min(5000, IDLE_MS - (Date.now() - started)));
  const m = memory(agent.pid);
  if (m.rss > peak.rss) peak = m;
}
const elapsed = Date.now() - started;
const cpu = { agent: cpuMs(agent.pid) - cpu0.agent, reference: cpuMs(reference.pid) - cpu0.reference };
const end = memory(agent.pid);
const ref = memory(reference.pid);
control.close();

const mb = (n) => n.toFixed(1);
console.log(`idle kvmagent over ${(elapsed / 1000).toFixed(0)} s (connected over TLS, 1 policy compiled, heartbeats every 15 s, following an empty audit log)`);
console.log(`  RSS       end ${mb(end.rss)} MB (anon ${mb(end.anon)}, file ${mb(end.file)}), peak ${mb(peak.rss)} MB   goal <= ${RSS_GOAL_MB} MB`);
console.log(`  reference node -e idle: RSS ${mb(ref.rss)} MB (anon ${mb(ref.anon)}, file ${mb(ref.file)}); agent/reference ${(peak.rss / ref.rss).toFixed(2)}x`);
console.log(`  CPU       agent ${cpu.agent.toFixed(0)} ms, reference ${cpu.reference.toFixed(0)} ms in ${(elapsed / 1000).toFixed(0)} s (${((cpu.agent / elapsed) * 100).toFixed(3)} % of a core); goal <= ${CPU_GOAL_MS.toFixed(0)} ms`);
const failures = [];
if (peak.rss > RSS_GOAL_MB) failures.push(`peak RSS ${mb(peak.rss)} MB > ${RSS_GOAL_MB} MB`);
if (cpu.agent > CPU_GOAL_MS) failures.push(`CPU ${cpu.agent.toFixed(0)} ms > ${CPU_GOAL_MS.toFixed(0)} ms idle`);
agent.kill('SIGTERM');
service.kill('SIGTERM');
await sleep(500);
if (failures.length > 0) {
  console.log(`FAIL: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('ok');
process.exit(0);
