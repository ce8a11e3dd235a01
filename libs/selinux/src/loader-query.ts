/**
 * Questions to a built policy, answered by setools' `sesearch` and libselinux's `matchpathcon`:
 * which rules allow (or audit) an access, which domain an exec enters, which context a path gets.
 * Used to explain decisions and by the tests that check the mapping on the linked refpolicy.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_TIMEOUT_MS, readPolicyType, runTool, toolFailure } from './loader.js';

export interface AvRule {
  kind: 'allow' | 'auditallow' | 'dontaudit';
  source: string;
  target: string;
  cls: string;
  perms: string[];
  /** The line as sesearch printed it. */
  text: string;
}

export interface TypeTransition {
  source: string;
  target: string;
  cls: string;
  result: string;
  text: string;
}

/** The kernel policy file of a store root (highest version). */
export function policyFile(root = '/'): string | undefined {
  const dir = join(root, 'etc/selinux', readPolicyType(join(root, 'etc/selinux/config')) ?? 'default', 'policy');
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir).filter((f) => /^policy\.\d+$/.test(f)).sort((a, b) => Number(b.slice(7)) - Number(a.slice(7)));
  return files[0] ? join(dir, files[0]) : undefined;
}

/** The file_contexts file of a store root. */
export function fileContextsFile(root = '/'): string {
  return join(root, 'etc/selinux', readPolicyType(join(root, 'etc/selinux/config')) ?? 'default', 'contexts/files/file_contexts');
}

const AV_LINE = /^(allow|auditallow|dontaudit) (\S+) (\S+):(\S+) (?:\{ ([^}]*) \}|(\S+));/;

export function parseAvRules(text: string): AvRule[] {
  return text.split('\n').flatMap((line) => {
    const m = AV_LINE.exec(line.trim());
    if (!m) return [];
    const perms = (m[5] ?? m[6] ?? '').trim().split(/\s+/).filter((p) => p !== '');
    return [{ kind: m[1] as AvRule['kind'], source: m[2]!, target: m[3]!, cls: m[4]!, perms, text: line.trim() }];
  });
}

export interface AvQuery {
  source?: string;
  target?: string;
  cls?: string;
  perms?: string[];
  kinds?: AvRule['kind'][];
}

/**
 * AV rules that match (attributes expanded as the kernel sees them): with `perms`, rules granting
 * any of them. Answers `{ error }` when sesearch fails.
 */
export async function searchAvRules(policy: string, query: AvQuery, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<AvRule[] | { error: string }> {
  const kinds = query.kinds ?? ['allow'];
  const args = [...kinds.map((k) => `--${k}`)];
  if (query.source) args.push('-s', query.source);
  if (query.target) args.push('-t', query.target);
  if (query.cls) args.push('-c', query.cls);
  if (query.perms?.length) args.push('-p', query.perms.join(','));
  const run = await runTool('sesearch', [...args, policy], { timeoutMs });
  if (run.code !== 0) return { error: toolFailure(run) };
  return parseAvRules(run.stdout);
}

/** Permissions `source` has on `target:cls`, over all matching allow rules. */
export async function allowedPerms(policy: string, source: string, target: string, cls: string): Promise<Set<string> | { error: string }> {
  const rules = await searchAvRules(policy, { source, target, cls });
  if ('error' in rules) return rules;
  return new Set(rules.flatMap((r) => r.perms));
}

/** Permissions of `source` on `target:cls` that are audited when granted. */
export async function auditedPerms(policy: string, source: string, target: string, cls: string): Promise<Set<string> | { error: string }> {
  const rules = await searchAvRules(policy, { source, target, cls, kinds: ['auditallow'] });
  if ('error' in rules) return rules;
  return new Set(rules.flatMap((r) => r.perms));
}

/** The domain a process of `source` enters when it executes a file of type `exec`, if any rule says. */
export async function processTransition(policy: string, source: string, exec: string): Promise<TypeTransition | undefined | { error: string }> {
  const run = await runTool('sesearch', ['-T', '-s', source, '-t', exec, '-c', 'process', policy], { timeoutMs: DEFAULT_TIMEOUT_MS });
  if (run.code !== 0) return { error: toolFailure(run) };
  const m = /^type_transition (\S+) (\S+):(\S+) (\S+);/m.exec(run.stdout);
  return m ? { source: m[1]!, target: m[2]!, cls: m[3]!, result: m[4]!, text: m[0] } : undefined;
}

/** The context libselinux gives `paths` in a store (`matchpathcon -f`), path → context or `<<none>>`. */
export async function matchPathContexts(root: string, paths: readonly string[]): Promise<Map<string, string> | { error: string }> {
  if (paths.length === 0) return new Map();
  const run = await runTool('matchpathcon', ['-f', fileContextsFile(root), '--', ...paths], { timeoutMs: DEFAULT_TIMEOUT_MS });
  const out = new Map<string, string>();
  for (const line of run.stdout.split('\n')) {
    const tab = line.lastIndexOf('\t');
    if (tab > 0) out.set(line.slice(0, tab), line.slice(tab + 1).trim());
  }
  if (out.size === 0 && run.code !== 0) return { error: toolFailure(run) };
  return out;
}
