/**
 * The per-policy result of a host: which policies select it, and for each whether the host's agent
 * applied it, failed (with the loader's message), only compiled it (dry run / no LSM), or has not
 * applied it yet; rules its LSM cannot express are listed with their field.
 */
import { list, obj, str, type Json } from '../output/fields.js';

export interface PolicyId {
  kind: string;
  name: string;
  resourceVersion: string;
}

export interface PolicyResult extends PolicyId {
  /** Applied | Failed | Compiled | Pending | NotRendered, plus `,Unenforceable` when some rules are not enforced. */
  result: string;
  message: string;
}

const key = (p: { kind: string; name: string }) => `${p.kind}/${p.name}`;

export function policyResults(status: Json, selectedNow: readonly PolicyId[]): PolicyResult[] {
  const desired = status.desired === undefined ? undefined : obj(status.desired);
  const applied = status.applied === undefined ? undefined : obj(status.applied);
  const desiredPolicies: PolicyId[] = list(desired?.policies).map(obj).map((p) => ({ kind: str(p.kind), name: str(p.name), resourceVersion: str(p.resourceVersion) }));
  const problems = list(desired?.problems).map(obj);
  const artifacts = list(applied?.artifacts).map(obj);
  const inSync = desired !== undefined && applied !== undefined && str(applied.hash) !== '' && str(applied.hash) === str(desired.hash);

  const all = new Map<string, PolicyId>();
  for (const p of [...selectedNow, ...desiredPolicies]) if (!all.has(key(p))) all.set(key(p), p);
  const selectedKeys = new Set(selectedNow.map(key));
  const desiredKeys = new Set(desiredPolicies.map(key));

  return [...all.values()]
    .sort((a, b) => (key(a) < key(b) ? -1 : 1))
    .map((p): PolicyResult => {
      const messages: string[] = [];
      let result: string;
      if (!desiredKeys.has(key(p))) {
        result = 'Pending';
        messages.push(status.connected === true ? 'not in the desired state sent to the host yet' : 'the agent is not connected; the policy is sent when it connects');
      } else if (!inSync) {
        result = 'Pending';
        messages.push(`revision ${str(desired?.revision)} not applied yet${applied ? ` (applied: ${str(applied.revision)})` : ''}`);
      } else {
        const mine = artifacts.filter((a) => list(a.policies).map(str).includes(p.name));
        const failed = mine.filter((a) => str(a.state) === 'FAILED');
        const compiled = mine.filter((a) => str(a.state) === 'COMPILED');
        if (mine.length === 0) {
          result = 'NotRendered';
          messages.push("no rule of this policy renders for the host's LSM");
        } else if (failed.length > 0) {
          result = 'Failed';
          messages.push(...failed.map((a) => `${str(a.name)}: ${str(a.message) || 'failed'}`));
        } else if (compiled.length > 0) {
          result = 'Compiled';
          messages.push(`compiled, not loaded${str(compiled[0]!.message) ? `: ${str(compiled[0]!.message)}` : ''}`);
        } else {
          result = 'Applied';
        }
      }
      const unenforceable = problems.filter((x) => str(x.policy) === p.name);
      if (unenforceable.length > 0) {
        result += ',Unenforceable';
        messages.push(...unenforceable.map((x) => `not enforced: ${str(x.field)}: ${str(x.reason)}`));
      }
      if (desiredKeys.has(key(p)) && !selectedKeys.has(key(p))) messages.unshift('no longer selects the host (removal pending)');
      return { ...p, result, message: messages.join('; ') };
    });
}
