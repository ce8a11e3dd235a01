/**
 * Debian's own kernel for the VM, never installed on the host: the package `linux-image-amd64`
 * depends on today (resolved with apt-cache, so no version is hard-coded), fetched with
 * `apt-get download` (apt checks it against the signed archive) and unpacked with `dpkg -x` into a
 * cache outside git. Only `boot/` is kept (the modules are not needed: the VM runs from an
 * initramfs and the serial console is built in).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../support/conformance.js';
import { requireTool } from '../../support/tools.js';

export interface DebianKernel {
  /** e.g. `linux-image-6.1.0-56-amd64` */
  readonly packageName: string;
  /** e.g. `6.1.192-2` */
  readonly version: string;
  readonly vmlinuz: string;
  /** The kernel's build configuration (`boot/config-…`). */
  readonly config: ReadonlyMap<string, string>;
  /** How long fetching and unpacking took (0 when it came from the cache). */
  readonly fetchMs: number;
  readonly cacheDir: string;
}

/** `KVMSERVICE_KERNEL_CACHE`, else `$XDG_CACHE_HOME/kvmservice-kernel`, else `<repo>/tmp/kernel-cache` (git-ignored). */
export function kernelCacheDir(): string {
  if (process.env.KVMSERVICE_KERNEL_CACHE) return process.env.KVMSERVICE_KERNEL_CACHE;
  if (process.env.XDG_CACHE_HOME) return join(process.env.XDG_CACHE_HOME, 'kvmservice-kernel');
  return join(repoRoot, 'tmp', 'kernel-cache');
}

function run(command: string, args: string[], cwd?: string): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } });
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** The versioned image package the meta-package depends on, and its candidate version. */
function resolvePackage(meta: string): { packageName: string; version: string } | { error: string } {
  const deps = run('apt-cache', ['depends', meta]);
  const name = /Depends:\s*(linux-image-\S+-amd64)\b/.exec(deps.stdout)?.[1];
  if (!deps.ok || !name) return { error: `apt-cache depends ${meta} names no linux-image package: ${deps.stderr.trim() || deps.stdout.trim()}` };
  const show = run('apt-cache', ['show', '--no-all-versions', name]);
  const version = /^Version:\s*(\S+)/m.exec(show.stdout)?.[1];
  if (!show.ok || !version) return { error: `apt-cache show ${name} gives no version: ${show.stderr.trim()}` };
  return { packageName: name, version };
}

function readConfig(file: string): Map<string, string> {
  const config = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (m) config.set(m[1]!, m[2]!.replace(/^"|"$/g, ''));
  }
  return config;
}

function fromCache(dir: string, packageName: string, version: string, fetchMs: number): DebianKernel | undefined {
  const boot = join(dir, 'boot');
  if (!existsSync(boot)) return undefined;
  const files = readdirSync(boot);
  const vmlinuz = files.find((f) => f.startsWith('vmlinuz-'));
  const config = files.find((f) => f.startsWith('config-'));
  if (!vmlinuz || !config) return undefined;
  return { packageName, version, vmlinuz: join(boot, vmlinuz), config: readConfig(join(boot, config)), fetchMs, cacheDir: dir };
}

/**
 * Returns the cached kernel of the package `linux-image-amd64` currently depends on, fetching it
 * first if needed. When the archive no longer has that version (stale package lists), runs
 * `apt-get update` once and resolves again. Throws with the failing command's message.
 */
export function ensureDebianKernel(meta = 'linux-image-amd64'): DebianKernel {
  requireTool('apt-get', 'apt');
  requireTool('dpkg', 'dpkg');
  const started = Date.now();
  let resolved = resolvePackage(meta);
  for (let attempt = 0; ; attempt++) {
    if ('error' in resolved) throw new Error(resolved.error);
    const dir = join(kernelCacheDir(), `${resolved.packageName}_${resolved.version}`);
    const cached = fromCache(dir, resolved.packageName, resolved.version, 0);
    if (cached) return cached;

    mkdirSync(kernelCacheDir(), { recursive: true });
    const work = mkdtempSync(join(kernelCacheDir(), '.fetch-'));
    try {
      const download = run('apt-get', ['download', '-q', `${resolved.packageName}=${resolved.version}`], work);
      if (!download.ok) {
        if (attempt === 0 && process.getuid?.() === 0) {
          const update = run('apt-get', ['update', '-qq']);
          if (!update.ok) throw new Error(`apt-get download ${resolved.packageName} failed (${download.stderr.trim()}) and apt-get update failed: ${update.stderr.trim()}`);
          resolved = resolvePackage(meta);
          continue;
        }
        throw new Error(`apt-get download ${resolved.packageName}=${resolved.version} failed: ${download.stderr.trim()} (run apt-get update as root)`);
      }
      const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
      if (!deb) throw new Error(`apt-get download ${resolved.packageName} left no .deb in ${work}`);
      const unpacked = join(work, 'root');
      const x = run('dpkg', ['-x', join(work, deb), unpacked]);
      if (!x.ok) throw new Error(`dpkg -x ${deb} failed: ${x.stderr.trim()}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      renameSync(join(unpacked, 'boot'), join(dir, 'boot'));
      // Kernels the meta-package no longer points at are not needed again.
      for (const old of readdirSync(kernelCacheDir())) {
        if (old.startsWith('linux-image-') && join(kernelCacheDir(), old) !== dir) rmSync(join(kernelCacheDir(), old), { recursive: true, force: true });
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    const fetched = fromCache(dir, resolved.packageName, resolved.version, Date.now() - started);
    if (!fetched) throw new Error(`${resolved.packageName} has no boot/vmlinuz-* and boot/config-*`);
    return fetched;
  }
}
