/**
 * The initramfs for the AppArmor run: a small Debian 12 host. Busybox (static) for /init, Debian's
 * node running the guest driver, apparmor_parser with Debian's parser.conf (which pins the
 * Debian 12 feature ABI, as on a real host), the abstractions and tunables the profiles include,
 * the programs the scenarios name, and perl for the socket probes.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyAppArmorProfiles, DISPATCHER_PROFILE } from '@kvmservice/apparmor';
import { requireTool } from '../../support/tools.js';
import type { GuestStep, ReplayLoad } from '../guest/plan.js';
import { PROBE_PERL, PROBE_SCRIPT, type AppArmorPlan } from './apparmor-plan.js';
import { bundleGuestDriver } from './guest-bundle.js';
import { InitramfsTree } from './initramfs.js';

/** `command -v` on this host: where a scenario's program name resolves. */
export function resolveProgram(name: string): string {
  const r = spawnSync('sh', ['-c', `command -v -- "$0"`, name], { encoding: 'utf8', env: { PATH: '/usr/bin:/usr/sbin:/bin:/sbin' } });
  const path = r.stdout.trim();
  if (r.status !== 0 || !path.startsWith('/')) throw new Error(`program ${name} (named by a scenario) is not installed on this host`);
  return path;
}

const INIT = `#!/usr/bin/busybox sh
bb=/usr/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t securityfs securityfs /sys/kernel/security
$bb mount -t devtmpfs devtmpfs /dev
$bb mount -t tmpfs tmpfs /run
# Without auditd the kernel prints audit records through printk, whose rate limit (10 per 5 s)
# would drop most of them: lift it.
echo 0 > /proc/sys/kernel/printk_ratelimit
# Let root open ping sockets, so an EACCES on one can only come from AppArmor.
echo "0 2147483647" > /proc/sys/net/ipv4/ping_group_range
$bb ip link set lo up
echo "KVMKERNEL init at $($bb cut -d' ' -f1 /proc/uptime)"
/usr/bin/node /kvm/driver.mjs /kvm/plan.json /dev/ttyS1
echo "KVMKERNEL driver exited $? at $($bb cut -d' ' -f1 /proc/uptime)"
$bb poweroff -f
`;

/**
 * Turns each `compile-and-replay` set into the guest's `replay` step: the agent's loader applies
 * the sets in order on this host in dry-run (`apparmor_parser -Q -K -M <pinned ABI>`, state kept
 * from set to set as on a host), and the guest loads what it compiled, in the loader's order.
 */
async function compileOnHost(plan: AppArmorPlan, workDir: string, tree: InitramfsTree): Promise<GuestStep[]> {
  const dir = join(workDir, 'host-loader', 'profiles');
  const stateDir = join(workDir, 'host-loader', 'state');
  const steps: GuestStep[] = [];
  for (const step of plan.steps) {
    if (step.kind !== 'compile-and-replay') {
      steps.push(step);
      continue;
    }
    const report = await applyAppArmorProfiles(step.artifacts, { dryRun: true, dir, stateDir });
    if (!report.ok) throw new Error(`${step.id}: the loader (dry-run) refused the set: ${JSON.stringify(report)}`);
    const changed = step.artifacts
      .filter((a) => report.results.find((r) => r.fileName === a.fileName)?.status === 'applied')
      .sort((a, b) => Number(a.name === DISPATCHER_PROFILE) - Number(b.name === DISPATCHER_PROFILE) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const loads: ReplayLoad[] = changed.map((a) => {
      const binary = `/kvm/compiled/${step.id}/${a.fileName}`;
      tree.copyAs(join(stateDir, 'compiled', a.fileName), binary, 0o644);
      return { name: a.name, fileName: a.fileName, content: a.content, binary };
    });
    const removes = report.removed.map((r) => r.fileName);
    steps.push({ kind: 'replay', id: step.id, loads, removes });
  }
  return steps;
}

export async function buildAppArmorInitramfs(workDir: string, plan: AppArmorPlan): Promise<string> {
  requireTool('cpio', 'cpio');
  requireTool('ldd', 'libc-bin');
  const busybox = requireTool('busybox', 'busybox-static');
  const tree = new InitramfsTree(join(workDir, 'root'));
  for (const d of ['/proc', '/sys', '/dev', '/run', '/tmp', '/root', '/var/lib', '/var/cache/apparmor', '/kvm']) tree.dir(d);
  tree.dir('/tmp', 0o1777);
  // Debian 12's merged /usr.
  for (const link of ['/bin', '/sbin', '/lib', '/lib64']) tree.hostPath(link);
  tree.copyAs(busybox, '/usr/bin/busybox', 0o755);
  tree.text('/init', INIT, 0o755);

  tree.program('/usr/bin/node');
  tree.program(requireTool('apparmor_parser', 'apparmor'));
  tree.program(requireTool('aa-features-abi', 'apparmor'));
  for (const dir of ['/etc/apparmor', '/usr/share/apparmor-features', '/etc/apparmor.d/abstractions', '/etc/apparmor.d/tunables', '/etc/apparmor.d/abi']) tree.hostPath(dir, true);

  for (const name of plan.programs) tree.program(resolveProgram(name));
  for (const [path, content] of Object.entries(plan.files)) tree.text(path, content);

  const perl = tree.program(requireTool('perl', 'perl-base'));
  tree.hostPath('/usr/lib/x86_64-linux-gnu/perl-base', true);
  for (const subject of plan.probeSubjects) tree.hardLink(perl, subject);
  tree.text(PROBE_SCRIPT, PROBE_PERL);

  const steps = await compileOnHost(plan, workDir, tree);
  await bundleGuestDriver(join(tree.stage, 'kvm', 'driver.mjs'));
  tree.text('/kvm/plan.json', JSON.stringify({ steps }));
  const out = join(workDir, 'initrd.cpio');
  tree.build(out);
  writeFileSync(join(workDir, 'plan.json'), JSON.stringify(steps, null, 1));
  return out;
}
