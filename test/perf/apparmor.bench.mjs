// Benchmark: renderAppArmorProfiles (built @kvmservice/apparmor) for 1 000 host policies selecting
// one host — the goal is < 1 s. Reference in the same run: validateResource + normalizeHostPolicy
// of the same 1 000 objects (the work any caller does before rendering), so the ratio says how the
// renderer compares to reading its input. Best of several runs, CPU time of this process.
// Not a test: no assertions; prints the numbers.
import { normalizeHostPolicy, validateResource } from '@kvmservice/resources';
import { renderAppArmorProfiles } from '@kvmservice/apparmor';

const POLICIES = Number(process.env.APPARMOR_BENCH_POLICIES ?? 1000);
const RUNS = 5;

/** Deterministic policies: process, file, network and capability rules, 40 fromSource binaries. */
function makePolicies(n) {
  const out = [];
  const actions = ['Allow', 'Audit', 'Block'];
  for (let i = 0; i < n; i++) {
    const source = `/usr/bin/tool${i % 40}`;
    const action = actions[i % 3];
    out.push({
      apiVersion: 'security.kubearmor.com/v1',
      kind: 'KubeArmorHostPolicy',
      metadata: { name: `policy-${String(i).padStart(4, '0')}`, resourceVersion: String(1000 + i) },
      spec: {
        nodeSelector: { matchLabels: { 'kubearmor.io/hostname': '*' } },
        action,
        process: {
          matchPaths: [{ path: `/usr/sbin/daemon${i % 97}` }, { path: `/usr/bin/child${i % 13}`, fromSource: [{ path: source }] }],
          matchDirectories: i % 5 === 0 ? [{ dir: `/opt/app${i % 11}/bin/`, recursive: true }] : undefined,
        },
        file: {
          matchPaths: [
            { path: `/etc/app${i}/secret.conf`, readOnly: i % 2 === 0 },
            { path: `/var/lib/app${i % 50}/data.db`, ownerOnly: i % 3 === 0, fromSource: [{ path: source }] },
          ],
          matchDirectories: [{ dir: `/srv/data${i % 70}/`, recursive: i % 2 === 1, fromSource: [{ path: source }] }],
          matchPatterns: i % 4 === 0 ? [{ pattern: `/tmp/app${i % 9}-*.log` }] : undefined,
        },
        network: { matchProtocols: [{ protocol: ['tcp', 'udp', 'icmp', 'raw'][i % 4], fromSource: [{ path: source }] }] },
        capabilities: { matchCapabilities: [{ capability: ['net_raw', 'chown', 'setuid', 'sys_admin'][i % 4], fromSource: [{ path: source }] }] },
      },
    });
  }
  return JSON.parse(JSON.stringify(out));
}

function cpuMs(fn) {
  const start = process.cpuUsage();
  const result = fn();
  const used = process.cpuUsage(start);
  return { ms: (used.user + used.system) / 1000, result };
}

function best(fn) {
  let min = Infinity;
  let result;
  for (let r = 0; r < RUNS; r++) {
    const run = cpuMs(fn);
    if (run.ms < min) min = run.ms;
    result = run.result;
  }
  return { ms: min, result };
}

const objects = makePolicies(POLICIES);
const reference = best(() =>
  objects.map((o) => {
    const checked = validateResource(o);
    if (!checked.valid) throw new Error(`bench policy invalid: ${JSON.stringify(checked.errors)}`);
    return normalizeHostPolicy(checked.resource);
  }),
);
const policies = reference.result;
const render = best(() => renderAppArmorProfiles(policies, { name: 'bench-host' }, { postures: { file: 'block', network: 'audit', capabilities: 'block' } }));
const artifacts = render.result.artifacts;
const bytes = artifacts.reduce((n, a) => n + Buffer.byteLength(a.content), 0);
const rules = policies.reduce((n, p) => n + p.rules.length, 0);

console.log(`policies: ${POLICIES} (${rules} rules), profiles: ${artifacts.length}, output: ${(bytes / 1024).toFixed(0)} KiB`);
console.log(`render:    ${render.ms.toFixed(1)} ms CPU (best of ${RUNS}) = ${((render.ms * 1000) / POLICIES).toFixed(1)} µs/policy`);
console.log(`reference: ${reference.ms.toFixed(1)} ms CPU for validateResource + normalizeHostPolicy of the same objects`);
console.log(`ratio render / reference: ${(render.ms / reference.ms).toFixed(2)}x`);
console.log(`goal < 1000 ms for 1 000 policies: ${render.ms < 1000 ? 'met' : 'NOT met'} (${render.ms.toFixed(0)} ms)`);
