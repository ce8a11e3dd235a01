/**
 * The desired state as the agent keeps it: from the wire, checked, on disk (`desired.json`, the
 * last one received, re-applied at boot when the control plane is unreachable), and the result of
 * applying it (`applied.json`).
 */
import { createHash } from 'node:crypto';
import type { DesiredState__Output } from '@kvmservice/api';
import { isRecord, readJsonFile, writeJsonAtomic, type JsonRead } from './state-dir.js';

export interface DesiredArtifact {
  name: string;
  /** apparmor | selinux | cilium */
  lsm: string;
  fileName: string;
  content: string;
  sha256: string;
  policies: string[];
  relabelPaths: string[];
}

export interface Desired {
  revision: number;
  hostname: string;
  policies: { kind: string; name: string; resourceVersion: string }[];
  artifacts: DesiredArtifact[];
  visibility: string[];
  learningBinaries: string[];
  learningUntil: number;
  problems: { policy: string; field: string; reason: string }[];
}

export type ArtifactOutcome = 'APPLIED' | 'FAILED' | 'COMPILED';

/** One row of a Status: what happened to an artifact (or to the host's audit rules). */
export interface ArtifactResult {
  name: string;
  lsm: string;
  sha256: string;
  state: ArtifactOutcome;
  message: string;
  policies: string[];
}

export interface Applied {
  revision: number;
  at: string;
  artifacts: ArtifactResult[];
}

export function desiredFromWire(w: DesiredState__Output): Desired {
  return {
    revision: Number(w.revision),
    hostname: w.hostname,
    policies: w.policies.map((p) => ({ kind: p.kind, name: p.name, resourceVersion: p.resourceVersion })),
    artifacts: w.artifacts.map((a) => ({
      name: a.name,
      lsm: a.lsm,
      fileName: a.fileName,
      content: a.content,
      sha256: a.sha256,
      policies: [...a.policies],
      relabelPaths: [...a.relabelPaths],
    })),
    visibility: [...(w.settings?.visibility ?? [])],
    learningBinaries: [...(w.settings?.learningBinaries ?? [])],
    learningUntil: Number(w.settings?.learningUntil ?? 0),
    problems: w.problems.map((p) => ({ policy: p.policy, field: p.field, reason: p.reason })),
  };
}

const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Why a value is not a desired state this agent can apply, or undefined. */
export function desiredProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'not a JSON object';
  if (!Number.isSafeInteger(value.revision) || (value.revision as number) < 0) return 'revision: must be a non-negative integer';
  if (typeof value.hostname !== 'string') return 'hostname: must be a string';
  if (!Array.isArray(value.policies) || !value.policies.every((p) => isRecord(p) && typeof p.name === 'string' && typeof p.kind === 'string')) return 'policies: must be a list of {kind, name}';
  if (!Array.isArray(value.artifacts)) return 'artifacts: must be a list';
  for (const [i, a] of value.artifacts.entries()) {
    if (!isRecord(a)) return `artifacts[${i}]: must be an object`;
    for (const f of ['name', 'lsm', 'fileName', 'content', 'sha256'] as const) if (typeof a[f] !== 'string') return `artifacts[${i}].${f}: must be a string`;
    if (!strings(a.policies) || !strings(a.relabelPaths)) return `artifacts[${i}]: policies and relabelPaths must be lists of strings`;
    if (createHash('sha256').update(a.content as string, 'utf8').digest('hex') !== a.sha256) return `artifacts[${i}] (${a.name as string}): content does not match its sha256`;
  }
  if (!strings(value.visibility) || !strings(value.learningBinaries)) return 'visibility and learningBinaries must be lists of strings';
  if (typeof value.learningUntil !== 'number') return 'learningUntil: must be a number';
  if (!Array.isArray(value.problems)) return 'problems: must be a list';
  return undefined;
}

export function saveDesired(file: string, desired: Desired): void {
  writeJsonAtomic(file, desired);
}

export function loadDesired(file: string): JsonRead<Desired> {
  return readJsonFile<Desired>(file, desiredProblem);
}

function appliedProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'not a JSON object';
  if (!Number.isSafeInteger(value.revision)) return 'revision: must be an integer';
  if (!Array.isArray(value.artifacts)) return 'artifacts: must be a list';
  return undefined;
}

export function saveApplied(file: string, applied: Applied): void {
  writeJsonAtomic(file, applied);
}

export function loadApplied(file: string): JsonRead<Applied> {
  return readJsonFile<Applied>(file, appliedProblem);
}
