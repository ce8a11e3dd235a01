import { spawnSync } from 'node:child_process';

/**
 * Returns the absolute path of a required external tool, or throws naming the Debian package.
 * Tests call this instead of skipping: a missing tool is a failure (scripts/ensure-debian-packages.sh
 * installs them).
 */
export function requireTool(command: string, debianPackage: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') {
    throw new Error(`${command} not found: install the Debian package ${debianPackage} (scripts/ensure-debian-packages.sh)`);
  }
  return path;
}

/** Debian's interpreter, which sees python3-libapparmor, python3-sepolgen and python3-grpcio. */
export const debianPython = '/usr/bin/python3';
