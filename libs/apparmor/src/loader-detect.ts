/**
 * Is AppArmor usable on this machine? Reads the module parameter and securityfs (no tool is run);
 * `root` lets tests point at a prepared tree.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface AppArmorStatus {
  /** The kernel has AppArmor enabled (`/sys/module/apparmor/parameters/enabled` is `Y`). */
  enabled: boolean;
  /** securityfs is mounted with an `apparmor` directory, so profiles can be loaded. */
  securityfs: boolean;
  /** Profiles can be loaded: enabled and securityfs present. */
  usable: boolean;
  /** The AppArmor directory in securityfs, e.g. `/sys/kernel/security/apparmor`. */
  apparmorfs: string;
  /** Top-level kernel feature names (`file`, `network_v8`, …), sorted; empty when unknown. */
  features: string[];
  /** Why AppArmor is not usable; undefined when it is. */
  reason?: string;
}

export interface DetectOptions {
  /** Root of the file system to inspect (default `/`). */
  root?: string;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Where securityfs is mounted, from the mount table (`/proc/mounts`). */
function securityfsMount(mounts: string | undefined): string | undefined {
  for (const line of (mounts ?? '').split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'securityfs' && mountPoint) return mountPoint.replace(/\\040/g, ' ');
  }
  return undefined;
}

export async function detectAppArmor(options: DetectOptions = {}): Promise<AppArmorStatus> {
  const root = options.root ?? '/';
  const enabledText = await readText(join(root, 'sys/module/apparmor/parameters/enabled'));
  const enabled = enabledText?.trim() === 'Y';
  const mountPoint = securityfsMount(await readText(join(root, 'proc/mounts'))) ?? '/sys/kernel/security';
  const apparmorfs = join(mountPoint, 'apparmor');
  let features: string[] = [];
  let securityfs = false;
  try {
    features = (await readdir(join(root, apparmorfs, 'features'))).sort();
    securityfs = true;
  } catch {
    securityfs = false;
  }
  let reason: string | undefined;
  if (enabledText === undefined) reason = 'the kernel has no AppArmor module (/sys/module/apparmor/parameters/enabled is missing)';
  else if (!enabled) reason = `AppArmor is disabled in the kernel (parameters/enabled is ${JSON.stringify(enabledText.trim())})`;
  else if (!securityfs) reason = `securityfs is not mounted with AppArmor at ${apparmorfs}`;
  return { enabled, securityfs, usable: enabled && securityfs, apparmorfs, features, ...(reason ? { reason } : {}) };
}
