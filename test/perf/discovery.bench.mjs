// Benchmark: @kvmservice/discovery (built).
// 1. events/s into the model (observeEvents), best of 3 runs on a fresh model;
// 2. 1 M events → policies: observe + discoverPolicies (KubeArmorHostPolicy per binary and the
//    host's CiliumClusterwideNetworkPolicy) + serialising the model, one run (goal <= 5 s);
// 3. side by side with audit2allow (Debian policycoreutils-python-utils) on sepolgen's httpd.log
//    in the same run: ours = parse the log + observe + discover policies; audit2allow = parse the
//    log + allow rules (it needs the host policy, -p). Goal: ours >= 10x faster (wall time; CPU
//    time reported too).
// Not a test: no assertions. Inputs are generated deterministically or read from ../shared.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { splitLines } from '@kvmservice/auditlog';
import { createHostModel, discoverPolicies, mergeModels, observeEvents, observeLogLines, parseModel, serializeModel } from '@kvmservice/discovery';

const conf = process.env.KVMSERVICE_CONFORMANCE_DIR ?? join(process.cwd(), '..', 'shared', 'conformance');
const EVENTS = Number(process.env.DISCOVERY_BENCH_EVENTS ?? 1_000_000);
const BINARIES = Number(process.env.DISCOVERY_BENCH_BINARIES ?? 150);
const fmt = (x, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

// ---- a deterministic host: 150 binaries, their files, execs, sockets, capabilities ----
// (about 7 500 distinct entries: a busy host that fits the default model limits)
function generateEvents() {
  let seed = 11;
  const rnd = (m) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % m;
  };
  const t0 = 1_716_000_000_000;
  const pool = [];
  const dirs = ['/etc/app', '/usr/lib/x86_64-linux-gnu', '/usr/share/zoneinfo', '/var/lib/app/data', '/var/log/app', '/run/app', '/home/svc/.cache'];
  for (let b = 0; b < BINARIES; b++) {
    const exe = `/usr/${b % 3 === 0 ? 'sbin' : 'bin'}/prog${b}`;
    const base = (kind, extra) => ({ operation: kind, action: rnd(20) === 0 ? 'Block' : 'Allow', result: 'Passed', enforcer: b % 5 === 0 ? 'Linux-audit' : 'AppArmor', type: 'MatchedHostPolicy', process: { exe }, ...extra });
    for (let f = 0; f < 40; f++) {
      const dir = dirs[(b + f) % dirs.length];
      const path = `${dir}/file${(b * 7 + f) % 60}.${['conf', 'so', 'db', 'log'][f % 4]}`;
      const access = f % 4 === 3 ? ['write', 'append'] : f % 4 === 1 ? ['read', 'mmap'] : ['read'];
      pool.push(base('File', { file: { path, access, fsuid: 0, ouid: f % 3 === 0 ? 1000 : 0 } }));
    }
    for (let p = 0; p < 10; p++) pool.push(base('File', { file: { path: `/proc/${1000 + rnd(5000)}/stat`, access: ['read'], fsuid: 0, ouid: 0 } }));
    for (let e = 0; e < 5; e++) {
      pool.push({ operation: 'Process', action: 'Allow', result: 'Passed', enforcer: 'Linux-audit', type: 'HostLog', source: exe, file: { path: `/usr/bin/tool${(b + e) % 30}`, access: ['exec'] } });
    }
    pool.push(base('Network', { network: { family: 'inet', sockType: 'stream', protocol: 'tcp', direction: 'connect', peerAddr: `10.1.${b % 8}.${rnd(40)}`, peerPort: [443, 5432, 6379][b % 3] } }));
    pool.push(base('Network', { network: { family: 'inet', sockType: 'dgram', protocol: 'udp', direction: 'send', peerAddr: '10.0.0.2', peerPort: 53 } }));
    if (b % 10 === 0) pool.push(base('Network', { network: { family: 'inet6', sockType: 'stream', protocol: 'tcp', direction: 'accept', localPort: 8000 + b, peerAddr: `2001:db8::${rnd(300).toString(16)}` } }));
    pool.push(base('Capabilities', { capability: ['net_bind_service', 'setuid', 'setgid', 'dac_override', 'chown'][b % 5] }));
  }
  // one million events, in a fixed pseudo-random order, with advancing time
  const order = new Uint32Array(EVENTS);
  for (let k = 0; k < EVENTS; k++) order[k] = rnd(pool.length);
  return { pool, order, t0 };
}

function* stream({ pool, order, t0 }) {
  for (let k = 0; k < order.length; k++) {
    const e = pool[order[k]];
    e.timestampMs = t0 + k;
    yield e;
  }
}

function cpuSeconds(fn) {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { value, cpu: (c.user + c.system) / 1e6, wall: (performance.now() - w0) / 1000 };
}

const input = generateEvents();
console.log(`generated ${fmt(input.pool.length)} distinct events of ${BINARIES} binaries; ${fmt(EVENTS)} events per run; load average ${loadavg().map((x) => fmt(x, 1)).join(' ')} on ${availableParallelism()} CPUs`);

// 1. observe throughput
let bestWall = Infinity;
let bestCpu = Infinity;
for (let run = 0; run < 3; run++) {
  const m = createHostModel('bench-host');
  const { wall, cpu } = cpuSeconds(() => observeEvents(m, stream(input), 0));
  bestWall = Math.min(bestWall, wall);
  bestCpu = Math.min(bestCpu, cpu);
}
console.log(`observeEvents: ${fmt(EVENTS / bestCpu)} events per CPU second, ${fmt(EVENTS / bestWall)} events/s wall (best of 3)`);

// 2. 1 M events → policies
const full = cpuSeconds(() => {
  const m = createHostModel('bench-host');
  observeEvents(m, stream(input), 0);
  const result = discoverPolicies(m);
  const text = serializeModel(m);
  return { m, result, text };
});
const { m, result, text } = full.value;
console.log(
  `${fmt(EVENTS)} events → ${result.hostPolicies.length} KubeArmorHostPolicy + ${result.hostNetworkPolicy ? 1 : 0} CiliumClusterwideNetworkPolicy: ` +
    `${fmt(full.wall, 2)} s wall, ${fmt(full.cpu, 2)} s CPU (goal <= 5 s)`,
);
console.log(`  model: ${fmt(m.entries)} entries, ${fmt(Buffer.byteLength(text) / 1024, 0)} KiB serialised, overflow ${JSON.stringify(m.stats.overflow)}`);
const alone = cpuSeconds(() => discoverPolicies(m));
const parse = cpuSeconds(() => parseModel(text));
const merge = cpuSeconds(() => mergeModels(m, parse.value.model));
console.log(`  discoverPolicies alone ${fmt(alone.wall * 1000, 0)} ms; parseModel ${fmt(parse.wall * 1000, 0)} ms; mergeModels ${fmt(merge.wall * 1000, 0)} ms`);

// 3. httpd.log: ours vs audit2allow
const httpd = join(conf, 'selinux', 'sepolgen__tests__test_data__httpd.log');
const httpdText = readFileSync(httpd, 'utf8');
const ours = () => {
  const model = createHostModel('selinux-host');
  observeLogLines(model, splitLines(httpdText), 0);
  return discoverPolicies(model);
};
ours();
let oursBest = { wall: Infinity, cpu: Infinity };
let oursResult;
for (let run = 0; run < 5; run++) {
  const r = cpuSeconds(ours);
  oursResult = r.value;
  if (r.wall < oursBest.wall) oursBest = r;
}
const policyDir = '/etc/selinux/default/policy';
const policy = existsSync(policyDir) ? readdirSync(policyDir).filter((f) => /^policy\.\d+$/.test(f)).map((f) => join(policyDir, f))[0] : undefined;
if (!policy) {
  console.log('audit2allow: no SELinux policy under /etc/selinux/default/policy (install selinux-policy-default); comparison skipped');
  process.exit(1);
}
let refBest = { wall: Infinity, cpu: Infinity };
let rules = 0;
for (let run = 0; run < 2; run++) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', 'audit2allow', '-p', policy, '-i', httpd], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`audit2allow failed: ${r.stderr.slice(-2000)}`);
  const [wall, user, sys] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  rules = r.stdout.split('\n').filter((l) => l.startsWith('allow ')).length;
  if (wall < refBest.wall) refBest = { wall, cpu: user + sys };
}
console.log(`\nsepolgen httpd.log (${fmt(httpdText.split('\n').length - 1)} lines):`);
console.log(`  ours (parse + observe + discover, ${oursResult.hostPolicies.length} policies)  ${fmt(oursBest.wall * 1000, 0).padStart(7)} ms wall ${fmt(oursBest.cpu * 1000, 0).padStart(7)} ms CPU`);
console.log(`  audit2allow -p ${policy} (${rules} allow rules)  ${fmt(refBest.wall * 1000, 0).padStart(7)} ms wall ${fmt(refBest.cpu * 1000, 0).padStart(7)} ms CPU`);
console.log(`  ours is ${fmt(refBest.wall / oursBest.wall, 1)}x faster (wall), ${fmt(refBest.cpu / oursBest.cpu, 1)}x (CPU) — goal >= 10x`);
