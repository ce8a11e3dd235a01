/**
 * The agent bundle kvmservice serves (built by scripts/bundle-agent.mjs): where it is, its sha256
 * (computed once per file version), and the installer template. Paths: KVMSERVICE_AGENT_BUNDLE and
 * KVMSERVICE_INSTALLER_TEMPLATE, else the repository's dist/agent/kvmagent.tgz and
 * deploy/install/kvmagent.sh (src/ and dist/ are both four levels below the repository root).
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../api-error.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

export function agentBundlePath(env: Record<string, string | undefined> = process.env): string {
  return resolve(env.KVMSERVICE_AGENT_BUNDLE ?? join(repoRoot, 'dist', 'agent', 'kvmagent.tgz'));
}

export function installerTemplatePath(env: Record<string, string | undefined> = process.env): string {
  return resolve(env.KVMSERVICE_INSTALLER_TEMPLATE ?? join(repoRoot, 'deploy', 'install', 'kvmagent.sh'));
}

export interface AgentBundle {
  path: string;
  sha256: string;
  size: number;
}

/** Finds the bundle and its digest; the digest is recomputed only when the file changes. */
export class AgentBundleFile {
  private cached: { key: string; bundle: AgentBundle } | undefined;

  constructor(readonly path: string) {}

  async current(): Promise<AgentBundle> {
    let stat;
    try {
      stat = statSync(this.path);
    } catch {
      throw new ApiError('FailedPrecondition', `the agent bundle is not built (${this.path}): run node scripts/bundle-agent.mjs, or set KVMSERVICE_AGENT_BUNDLE`);
    }
    const key = `${stat.size}:${stat.mtimeMs}:${stat.ino}`;
    if (this.cached?.key === key) return this.cached.bundle;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(this.path)) hash.update(chunk as Buffer);
    const bundle = { path: this.path, sha256: hash.digest('hex'), size: stat.size };
    this.cached = { key, bundle };
    return bundle;
  }
}

export function readInstallerTemplate(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ApiError('FailedPrecondition', `the installer template ${path} cannot be read: ${(e as Error).message}`);
  }
}
