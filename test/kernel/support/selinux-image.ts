/**
 * The initramfs for the SELinux run: busybox for /init, Debian's node for the guest driver,
 * policycoreutils (`load_policy`, `setfiles`/`restorecon`), coreutils `runcon`, Debian's refpolicy
 * tree from /etc/selinux, the scenario programs, and one kernel policy per scenario: the module
 * libs/selinux rendered, linked into refpolicy by libs/selinux's own installer in dry-run against
 * private copies of the store (`semodule -p ROOT -s default -n -i`). Linked policies are cached by
 * module checksum and refpolicy version, so only changed modules are linked again.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { createPrivateStore, installSelinuxModule, type PrivateStore } from '@kvmservice/selinux';
import { requireTool } from '../../support/tools.js';
import type { GuestStep } from '../guest/plan.js';
import { resolveProgram } from './apparmor-image.js';
import { kernelCacheDir } from './debian-kernel.js';
import { bundleGuestDriver } from './guest-bundle.js';
import { InitramfsTree } from './initramfs.js';
import { LOGIN_CONTEXT, type RenderedModule, type SelinuxPlan } from './selinux-plan.js';

const INIT = `#!/usr/bin/busybox sh
bb=/usr/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t selinuxfs selinuxfs /sys/fs/selinux
# Without auditd the kernel prints audit records through printk, whose rate limit would drop them.
echo 0 > /proc/sys/kernel/printk_ratelimit
echo "KVMKERNEL init at $($bb cut -d' ' -f1 /proc/uptime)"
# Refpolicy as Debian ships it, still permissive.
/usr/sbin/load_policy || echo "KVMKERNEL load_policy failed"
# The initramfs (rootfs) is a file system only root_t may live on; a host's root file system is
# labelled fs_t, which every file type may use. Copy the image into a tmpfs labelled so and move
# into it.
$bb mkdir /newroot
$bb mount -t tmpfs -o fscontext=system_u:object_r:fs_t:s0,mode=0755 tmpfs /newroot
for d in bin etc kvm lib lib64 root sbin tmp usr var; do $bb cp -a /$d /newroot/; done
$bb mkdir /newroot/proc /newroot/sys /newroot/dev /newroot/run
$bb umount /sys/fs/selinux
$bb umount /sys
$bb umount /proc
exec $bb switch_root /newroot /kvm/init2
`;

const INIT2 = `#!/usr/bin/busybox sh
bb=/usr/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
$bb mount -t tmpfs tmpfs /run
$bb mount -t securityfs securityfs /sys/kernel/security
$bb mount -t selinuxfs selinuxfs /sys/fs/selinux
# Label the files as a Debian host has them (still permissive), then start the driver as an
# unconfined login would run; the driver turns enforcing on. Node runs without its JIT because
# refpolicy's allow_execmem is off by default.
/usr/sbin/setfiles -F -e /proc -e /sys /etc/selinux/default/contexts/files/file_contexts / || echo "KVMKERNEL setfiles failed"
echo "KVMKERNEL labelled at $($bb cut -d' ' -f1 /proc/uptime): $(/usr/bin/ls -Z /dev/null /usr/bin/bash /etc/hostname | $bb tr '\\n' ' ')"
/usr/bin/runcon ${LOGIN_CONTEXT} /usr/bin/node --jitless /kvm/driver.mjs /kvm/plan.json /dev/ttyS1
echo "KVMKERNEL driver exited $? at $($bb cut -d' ' -f1 /proc/uptime)"
$bb poweroff -f
`;

const SCENARIO_FILES: Record<string, string> = {
  '/etc/passwd': 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n',
  '/etc/group': 'root:x:0:\ndaemon:x:1:\n',
  '/etc/hostname': 'kubearmor-dev\n',
  '/etc/hosts': '127.0.0.1\tlocalhost\n127.0.1.1\tkubearmor-dev\n',
  '/etc/default/useradd': '# Default values for useradd(8)\nSHELL=/bin/sh\n',
};

function packageVersion(name: string): string {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', name], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

export interface BuiltPolicies {
  /** Step id → cache directory holding policy.33 and file_contexts. */
  byStep: Map<string, string>;
  /** How many were linked in this run (the rest came from the cache). */
  linked: number;
  ms: number;
}

/** Links every module of the plan (two private stores in parallel), or takes it from the cache. */
export async function buildSelinuxPolicies(plan: SelinuxPlan, workDir: string): Promise<BuiltPolicies> {
  const started = Date.now();
  const versions = ['selinux-policy-default', 'semodule-utils', 'libsemanage2', 'secilc'].map(packageVersion).join(' ');
  const cacheRoot = join(kernelCacheDir(), 'selinux-policies');
  const byStep = new Map<string, string>();
  const todo: { id: string; rendered: RenderedModule; dir: string }[] = [];
  for (const step of plan.steps) {
    if (step.kind !== 'build-and-load') continue;
    const key = createHash('sha256').update(`${versions}\0${step.rendered.moduleName}\0${step.rendered.sha256}`).digest('hex').slice(0, 32);
    const dir = join(cacheRoot, key);
    byStep.set(step.id, dir);
    if (!existsSync(join(dir, 'policy.33')) || !existsSync(join(dir, 'file_contexts'))) todo.push({ id: step.id, rendered: step.rendered, dir });
  }
  const unique = [...new Map(todo.map((t) => [t.dir, t])).values()];
  const stores: PrivateStore[] = [];
  try {
    const worker = async (): Promise<void> => {
      const store = createPrivateStore({ parent: workDir });
      stores.push(store);
      for (let next = unique.shift(); next; next = unique.shift()) {
        const r = await installSelinuxModule(next.rendered, { dryRun: true, root: store.root, timeoutMs: 300_000 });
        if (!r.ok) throw new Error(`${next.id}: linking ${next.rendered.moduleName} into refpolicy failed: ${r.error}`);
        const built = join(store.root, 'etc/selinux', store.policyType);
        mkdirSync(next.dir, { recursive: true });
        copyFileSync(join(built, 'contexts/files/file_contexts'), join(next.dir, 'file_contexts'));
        copyFileSync(join(built, 'policy/policy.33'), join(next.dir, 'policy.33.tmp'));
        copyFileSync(join(next.dir, 'policy.33.tmp'), join(next.dir, 'policy.33'));
        rmSync(join(next.dir, 'policy.33.tmp'));
      }
    };
    const count = unique.length;
    await Promise.all(Array.from({ length: Math.min(2, count) }, worker));
    // Policies of modules this plan no longer renders are not needed again.
    const used = new Set(byStep.values());
    if (existsSync(cacheRoot)) for (const entry of readdirSync(cacheRoot)) if (!used.has(join(cacheRoot, entry))) rmSync(join(cacheRoot, entry), { recursive: true, force: true });
    return { byStep, linked: count, ms: Date.now() - started };
  } finally {
    for (const s of stores) s.dispose();
  }
}

export async function buildSelinuxInitramfs(workDir: string, plan: SelinuxPlan, policies: BuiltPolicies): Promise<string> {
  requireTool('cpio', 'cpio');
  const busybox = requireTool('busybox', 'busybox-static');
  const tree = new InitramfsTree(join(workDir, 'root'));
  for (const d of ['/proc', '/sys', '/dev', '/run', '/root', '/var/lib', '/kvm']) tree.dir(d);
  tree.dir('/tmp', 0o1777);
  for (const link of ['/bin', '/sbin', '/lib', '/lib64']) tree.hostPath(link);
  tree.copyAs(busybox, '/usr/bin/busybox', 0o755);
  tree.text('/init', INIT, 0o755);
  tree.text('/kvm/init2', INIT2, 0o755);
  tree.program('/usr/bin/node');
  tree.program(requireTool('load_policy', 'policycoreutils'));
  tree.program(requireTool('setfiles', 'policycoreutils'));
  tree.hostPath(requireTool('restorecon', 'policycoreutils'));
  tree.program(requireTool('runcon', 'coreutils'));
  tree.hostPath('/etc/selinux', true);
  // The compiled lookup tables are rebuilt per policy in the VM from the text (libselinux reads
  // the text when no newer .bin is there); leaving them out keeps the image small.
  for (const dir of ['/etc/selinux/default/contexts/files']) {
    for (const f of readdirSync(join(tree.stage, dir))) if (f.endsWith('.bin')) rmSync(join(tree.stage, dir, f));
  }
  for (const name of ['bash', 'cat', 'head', 'date', 'ls', 'diff']) tree.program(resolveProgram(name));
  for (const [path, content] of Object.entries(SCENARIO_FILES)) tree.text(path, content);

  const steps: GuestStep[] = [{ kind: 'write', id: '000-enforce', path: '/sys/fs/selinux/enforce', content: '1' }];
  for (const step of plan.steps) {
    if (step.kind !== 'build-and-load') {
      steps.push(step);
      continue;
    }
    const dir = policies.byStep.get(step.id)!;
    const vmDir = `/kvm/selinux/${step.id}`;
    tree.copyAs(join(dir, 'policy.33'), `${vmDir}/policy.33`, 0o644);
    tree.copyAs(join(dir, 'file_contexts'), `${vmDir}/file_contexts`, 0o644);
    steps.push({ kind: 'selinux-load', id: step.id, policy: `${vmDir}/policy.33`, fileContexts: `${vmDir}/file_contexts`, relabel: step.relabel });
  }
  await bundleGuestDriver(join(tree.stage, 'kvm', 'driver.mjs'));
  tree.text('/kvm/plan.json', JSON.stringify({ steps }));
  const out = join(workDir, 'initrd.cpio');
  tree.build(out);
  writeFileSync(join(workDir, 'plan.json'), JSON.stringify(steps, null, 1));
  return out;
}
