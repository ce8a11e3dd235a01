/**
 * Cilium host policies: written into `<state-dir>/cilium/` as received, never claimed as enforced
 * (there is no Cilium agent on the host to load them).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactResult, DesiredArtifact } from '../desired.js';
import type { StateDir } from '../state-dir.js';
import { writeIfChanged } from '../state-dir.js';

const SAFE_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export function reconcileCilium(artifacts: DesiredArtifact[], stateDir: StateDir): ArtifactResult[] {
  const dir = stateDir.path('cilium');
  const wanted = new Set<string>();
  const rows: ArtifactResult[] = [];
  for (const a of artifacts) {
    const row = (state: ArtifactResult['state'], message: string): ArtifactResult => ({ name: a.name, lsm: a.lsm, sha256: a.sha256, state, message, policies: a.policies });
    if (!SAFE_FILE.test(a.fileName)) {
      rows.push(row('FAILED', `file name ${JSON.stringify(a.fileName)} is not a plain file name`));
      continue;
    }
    if (createHash('sha256').update(a.content, 'utf8').digest('hex') !== a.sha256) {
      rows.push(row('FAILED', 'content does not match its sha256; refusing a corrupted artifact'));
      continue;
    }
    mkdirSync(dir, { recursive: true });
    writeIfChanged(join(dir, a.fileName), a.content);
    wanted.add(a.fileName);
    rows.push(row('COMPILED', `written to ${join(dir, a.fileName)}; no Cilium agent on this host, so not enforced`));
  }
  try {
    for (const f of readdirSync(dir)) if (!wanted.has(f) && !f.startsWith('.')) rmSync(join(dir, f), { force: true });
  } catch {
    // no directory: nothing to remove
  }
  return rows;
}
