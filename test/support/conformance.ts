import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the repository. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Upstream test vectors live beside the repository (`../shared/conformance`), never inside it.
 * `KVMSERVICE_CONFORMANCE_DIR` overrides the location. A missing directory is a failure, not a skip.
 */
export function conformanceDir(...parts: string[]): string {
  const base = process.env.KVMSERVICE_CONFORMANCE_DIR ?? join(repoRoot, '..', 'shared', 'conformance');
  const dir = join(base, ...parts);
  if (!existsSync(dir)) {
    throw new Error(`conformance data not found at ${dir} (set KVMSERVICE_CONFORMANCE_DIR)`);
  }
  return dir;
}

/**
 * Reads a conformance file. Some upstream files were git symlinks and are stored as their target
 * path (`../../../examples/host-security-policies/hsp-kubearmor-dev-X.yaml`); upstream has since
 * renamed those examples to `hsp-k8s-kubearmor-dev-X.yaml`, copied here as `example-hsp__…`.
 */
export function readConformanceFile(dir: string, file: string): string {
  const text = readFileSync(join(dir, file), 'utf8');
  const link = /^(\.\.\/)+examples\/host-security-policies\/([^/\s]+\.yaml)\s*$/.exec(text);
  if (!link) return text;
  const target = link[2]!;
  const candidates = [`example-hsp__${target}`, `example-hsp__${target.replace(/^hsp-/, 'hsp-k8s-')}`];
  const found = candidates.find((c) => existsSync(join(dir, c)));
  if (!found) throw new Error(`${file} links to ${target}, which is not in ${dir}`);
  return readFileSync(join(dir, found), 'utf8');
}
