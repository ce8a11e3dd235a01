#!/usr/bin/env node
// `npm start`: kvmservice on the embedded SQLite store, and a kvmagent for this machine joined to
// it — enforcing with the kernel's LSM when there is one and we may load profiles (root),
// otherwise in dry-run (profiles compiled into the state directory only). Ctrl-C stops both.
//
// Environment: KVMSERVICE_DATA_DIR (default ./data), and kvmservice's own KVMSERVICE_* settings
// (e.g. KVMSERVICE_GRPC_PORT, KVMSERVICE_HTTP_PORT).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = resolve(process.env.KVMSERVICE_DATA_DIR ?? 'data');
const grpcPort = process.env.KVMSERVICE_GRPC_PORT ?? '32770';
const httpPort = process.env.KVMSERVICE_HTTP_PORT ?? '9090';
const bin = (app) => join(root, 'apps', app, 'bin', `${app}.js`);
const say = (line) => process.stderr.write(`npm start: ${line}\n`);

for (const app of ['kvmservice', 'kvmagent', 'kvmctl']) {
  if (!existsSync(join(root, 'apps', app, 'dist', 'main.js'))) {
    say(`${app} is not built; run \`npm ci\` (or \`npm run build\`) first`);
    process.exit(1);
  }
}
mkdirSync(dataDir, { recursive: true, mode: 0o700 });

/** The LSM this machine enforces with, and whether this process may load policy into it. */
function enforcement() {
  const lsms = existsSync('/sys/kernel/security/lsm') ? readFileSync('/sys/kernel/security/lsm', 'utf8').trim().split(',') : [];
  const lsm = lsms.includes('apparmor') ? 'apparmor' : lsms.includes('selinux') ? 'selinux' : 'none';
  const root = process.getuid?.() === 0;
  if (lsm === 'none') return { lsm: 'none', dryRun: true, why: 'this kernel has no AppArmor or SELinux: profiles are compiled, not enforced (dry run)' };
  if (!root) return { lsm, dryRun: true, why: `${lsm} is active, but loading policy needs root: profiles are compiled, not enforced (dry run)` };
  return { lsm, dryRun: false, why: `${lsm} is active: the local agent enforces` };
}

const children = [];
let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  const deadline = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }, 10_000);
  Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined))).then(() => {
    clearTimeout(deadline);
    process.exit(code);
  });
}
process.once('SIGINT', () => stop(0));
process.once('SIGTERM', () => stop(0));

// Quiet by default (warnings and errors only); KVMSERVICE_LOG_LEVEL / KVMAGENT_LOG_LEVEL override.
const quiet = { KVMSERVICE_LOG_LEVEL: process.env.KVMSERVICE_LOG_LEVEL ?? 'warn', KVMAGENT_LOG_LEVEL: process.env.KVMAGENT_LOG_LEVEL ?? 'warn' };

function start(name, args, env = {}) {
  const child = spawn(process.execPath, [bin(name), ...args], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...quiet, ...env } });
  child.once('exit', (code, signal) => {
    if (!stopping) {
      say(`${name} exited (${signal ?? code}); stopping`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

async function waitReady() {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !stopping) {
    try {
      if ((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`kvmservice did not become ready on http://127.0.0.1:${httpPort}/readyz`);
}

say(`kvmservice: store sqlite:${join(dataDir, 'kvmservice.db')}, gRPC :${grpcPort}, HTTP :${httpPort}, data ${dataDir}`);
start('kvmservice', ['--data-dir', dataDir, '--store', `sqlite:${join(dataDir, 'kvmservice.db')}`, '--grpc-port', grpcPort, '--http-port', httpPort]);
try {
  await waitReady();
} catch (e) {
  say(e.message);
  stop(1);
}

const kvmctlConfig = join(dataDir, 'kvmctl.yaml');
const agentDir = join(dataDir, 'agent');
const host = hostname().toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '') || 'localhost';
const mode = enforcement();
const agentArgs = ['--server', `127.0.0.1:${grpcPort}`, '--state-dir', agentDir, '--hostname', host, '--ca', join(dataDir, 'ca.crt'), '--lsm', mode.lsm === 'none' ? 'none' : 'auto'];
if (mode.dryRun) agentArgs.push('--dry-run', '--apparmor-dir', join(agentDir, 'apparmor.d'));
let agentEnv = {};
if (!existsSync(join(agentDir, 'credential.json'))) {
  // First start of this agent: a token bound to this host, handed over in the environment (never argv).
  const created = spawnSync(process.execPath, [bin('kvmctl'), '--config', kvmctlConfig, 'token', 'create', '--hostname', host, '--ttl', '10m', '--description', 'npm start: local agent'], { encoding: 'utf8' });
  if (created.status !== 0) {
    say(`could not create a join token for the local agent: ${created.stderr.trim()}`);
    stop(1);
  }
  agentEnv = { KVMAGENT_TOKEN: created.stdout.trim() };
}
say(`kvmagent for this machine (${host}): ${mode.why}`);
start('kvmagent', agentArgs, agentEnv);
say(`ready. Try:
    npx kvmctl get kvm                  # this machine, as a managed host
    npx kvmctl apply -f policy.yaml     # a KubeArmorHostPolicy (kvmctl validate -f checks it first)
    npx kvmctl describe kvm ${host}
    npx kvmctl logs -f
  kvmctl reads ${kvmctlConfig} (admin token and CA). Ctrl-C stops kvmservice and the agent.`);
