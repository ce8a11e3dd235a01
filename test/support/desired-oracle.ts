/**
 * What each host should enforce, computed here from the stored objects (read back through the
 * ControlService) with the libraries the control plane renders with — selection by
 * `hostSelectorMatches` (intersection, upstream special forms), `normalizeHostPolicy`,
 * `renderAppArmorProfiles` — and what an agent really applied, read from its state directory
 * (`applied.json`, the profiles the loader wrote). Comparing the two by artifact sha256 says
 * whether a host converged, without trusting what the control plane or the agent claims.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unary, type ControlServiceClient } from '@kvmservice/api';
import { renderAppArmorProfiles, type Posture } from '@kvmservice/apparmor';
import { hostLabels, hostSelectorMatches, normalizeHostPolicy, type KubeArmorHostPolicy } from '@kvmservice/resources';

export interface HostObject {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { defaultPosture?: { file?: Posture; network?: Posture; capabilities?: Posture } };
  status?: {
    connected?: boolean;
    desired?: { revision: number; hash: string };
    applied?: { revision: number; hash: string; artifacts: { name: string; lsm: string; sha256: string; state: string }[] };
    agent?: { eventsDropped?: number; eventsSpooled?: number; linesUnparsed?: number };
  };
}

/** Profile name → sha256 of its content. */
export type ArtifactSet = Map<string, string>;

async function listAll<T>(control: ControlServiceClient, kind: string): Promise<T[]> {
  const out: T[] = [];
  let continueToken = '';
  do {
    const page = await unary(control.list.bind(control), { kind, labelSelector: '', limit: 500, continueToken }, 30_000);
    out.push(...page.items.map((i) => JSON.parse(i) as T));
    continueToken = page.continueToken;
  } while (continueToken);
  return out;
}

export async function listPolicies(control: ControlServiceClient): Promise<KubeArmorHostPolicy[]> {
  return listAll<KubeArmorHostPolicy>(control, 'hsp');
}

export async function listHosts(control: ControlServiceClient): Promise<HostObject[]> {
  return listAll<HostObject>(control, 'kvm');
}

/** The AppArmor profiles the control plane should send `host` now. */
export function expectedArtifacts(policies: readonly KubeArmorHostPolicy[], host: HostObject): ArtifactSet {
  const labels = hostLabels(host.metadata.name, host.metadata.labels ?? {});
  const selected = policies.filter((p) => hostSelectorMatches(p.spec.nodeSelector?.matchLabels ?? {}, labels)).map((p) => normalizeHostPolicy(p));
  const render = renderAppArmorProfiles(selected, { name: host.metadata.name }, { postures: host.spec?.defaultPosture ?? {} });
  return new Map(render.artifacts.map((a) => [a.name, a.sha256]));
}

export interface AgentAppliedState {
  revision: number;
  /** Profile name → sha256 as recorded in applied.json (AppArmor rows only). */
  applied: ArtifactSet;
  /** States of those rows (COMPILED, APPLIED, FAILED). */
  states: string[];
  /** File name → sha256 of the profiles on disk. */
  files: Map<string, string>;
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/** What the agent with this state directory last applied; undefined before its first reconcile. */
export function agentApplied(stateDir: string): AgentAppliedState | undefined {
  const file = join(stateDir, 'applied.json');
  if (!existsSync(file)) return undefined;
  let parsed: { revision: number; artifacts: { name: string; lsm: string; sha256: string; state: string }[] };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
  } catch {
    return undefined; // being replaced right now (written atomically, but read between rename steps on some filesystems)
  }
  const rows = parsed.artifacts.filter((a) => a.lsm === 'apparmor');
  const profiles = join(stateDir, 'apparmor', 'profiles');
  const files = new Map<string, string>();
  if (existsSync(profiles)) for (const f of readdirSync(profiles).filter((n) => !n.startsWith('.'))) files.set(f, sha256(readFileSync(join(profiles, f))));
  return { revision: parsed.revision, applied: new Map(rows.map((a) => [a.name, a.sha256])), states: rows.map((a) => a.state), files };
}

export function sameArtifacts(a: ArtifactSet, b: ArtifactSet): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/** Whether the agent applied exactly `expected`, without failures, and its profile files hold it. */
export function agentConverged(state: AgentAppliedState | undefined, expected: ArtifactSet): boolean {
  if (!state) return false;
  if (!sameArtifacts(state.applied, expected)) return false;
  if (state.states.some((s) => s === 'FAILED')) return false;
  const fileHashes = [...state.files.values()].sort();
  return fileHashes.length === expected.size && JSON.stringify(fileHashes) === JSON.stringify([...expected.values()].sort());
}

/** Whether the control plane's status of the host says it applied exactly `expected`. */
export function statusConverged(host: HostObject, expected: ArtifactSet): boolean {
  const s = host.status;
  if (!s?.connected || !s.desired || !s.applied || s.applied.hash !== s.desired.hash) return false;
  const reported = new Map(s.applied.artifacts.filter((a) => a.lsm === 'apparmor').map((a) => [a.name, a.sha256]));
  return sameArtifacts(reported, expected) && s.applied.artifacts.every((a) => a.state !== 'FAILED');
}
