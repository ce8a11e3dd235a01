/**
 * Questions to a built policy, answered by setools' `sesearch` and libselinux's `matchpathcon`:
 * which rules allow (or audit) an access, which domain an exec enters, which context a path gets.
 * Used to explain decisions and by the tests that check the mapping on the linked refpolicy.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
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

// ---- a loaded policy, asked many questions -----------------------------------------------------

/**
 * setools (the library behind sesearch) in one Debian Python process that loads the policy and
 * its rules once, then answers questions line by line: sesearch takes seconds per question on the
 * whole refpolicy, this takes seconds once. Rules are matched like sesearch's indirect mode:
 * through every attribute of the source and the target.
 */
const ORACLE = String.raw`
import json, sys, setools
from collections import defaultdict
policy = setools.SELinuxPolicy(sys.argv[1])
attrs = {}
permissive = set()
for t in policy.types():
    attrs[str(t)] = {str(t)} | {str(a) for a in t.attributes()}
    if t.ispermissive:
        permissive.add(str(t))
index = defaultdict(list)
for r in policy.terules():
    rt = str(r.ruletype)
    if rt in ("allow", "auditallow", "dontaudit"):
        index[(str(r.source), str(r.target), str(r.tclass))].append((rt, [str(p) for p in r.perms]))
    elif rt == "type_transition" and str(r.tclass) == "process":
        index[(str(r.source), str(r.target), "process")].append((rt, [str(r.default)]))
def names(t):
    return attrs.get(t, {t})
def rules(s, t, c):
    out = []
    for sn in names(s):
        for tn in names(t):
            out += index.get((sn, tn, c), [])
        if s == t:
            out += index.get((sn, "self", c), [])
    return out
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    q = json.loads(line)
    try:
        if q["op"] == "perms":
            res = sorted({p for rt, ps in rules(q["source"], q["target"], q["cls"]) if rt == q["kind"] for p in ps})
        elif q["op"] == "transition":
            res = sorted({ps[0] for rt, ps in rules(q["source"], q["target"], "process") if rt == "type_transition"})
        elif q["op"] == "attributes":
            res = sorted(attrs.get(q["type"], []))
        elif q["op"] == "permissive":
            res = sorted(permissive)
        else:
            raise ValueError("unknown op")
        print(json.dumps({"id": q["id"], "result": res}), flush=True)
    except Exception as e:
        print(json.dumps({"id": q["id"], "error": str(e)}), flush=True)
`;

export interface PolicyOracle {
  /** Permissions granted by allow (or audited by auditallow) rules of `source` on `target:cls`. */
  perms(source: string, target: string, cls: string, kind?: 'allow' | 'auditallow' | 'dontaudit'): Promise<Set<string>>;
  /** Domains a process of `source` enters by executing a file of type `exec` (type_transition rules). */
  transitions(source: string, exec: string): Promise<string[]>;
  /** The type and its attributes (empty when the type does not exist). */
  attributes(type: string): Promise<string[]>;
  /** Every permissive type of the policy (`typepermissive`), sorted. */
  permissiveTypes(): Promise<string[]>;
  close(): void;
}

/** Loads `policy` into a setools process (Debian's /usr/bin/python3 with python3-setools). Rejects when it cannot start. */
export function openPolicyOracle(policy: string, options: { timeoutMs?: number; python?: string } = {}): Promise<PolicyOracle> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const child = spawn(options.python ?? '/usr/bin/python3', ['-c', ORACLE, policy], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const pending = new Map<number, { resolve: (v: string[]) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  let closed = false;
  const failAll = (why: string) => {
    closed = true;
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(why));
    }
    pending.clear();
  };
  return new Promise((resolveOracle, rejectOracle) => {
    const startTimer = setTimeout(() => {
      child.kill('SIGKILL');
      rejectOracle(new Error(`policy oracle did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(startTimer);
      failAll(e.message);
      rejectOracle(e);
    });
    child.on('exit', (code) => {
      clearTimeout(startTimer);
      const why = `policy oracle exited (${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
      failAll(why);
      rejectOracle(new Error(why));
    });
    const ask = (q: Record<string, unknown>): Promise<string[]> =>
      new Promise((resolve, reject) => {
        if (closed) return reject(new Error('policy oracle is closed'));
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`policy query timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        child.stdin.write(`${JSON.stringify({ ...q, id })}\n`);
      });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let msg: { ready?: boolean; id?: number; result?: string[]; error?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      if (msg.ready) {
        clearTimeout(startTimer);
        resolveOracle({
          perms: async (source, target, cls, kind = 'allow') => new Set(await ask({ op: 'perms', source, target, cls, kind })),
          transitions: (source, exec) => ask({ op: 'transition', source, target: exec }),
          attributes: (type) => ask({ op: 'attributes', type }),
          permissiveTypes: () => ask({ op: 'permissive' }),
          close: () => {
            closed = true;
            child.stdin.end();
            child.kill('SIGTERM');
          },
        });
        return;
      }
      const p = msg.id !== undefined ? pending.get(msg.id) : undefined;
      if (!p) return;
      pending.delete(msg.id!);
      clearTimeout(p.timer);
      if (msg.error !== undefined) p.reject(new Error(msg.error));
      else p.resolve(msg.result ?? []);
    });
  });
}
