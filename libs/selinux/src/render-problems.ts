/**
 * What a KubeArmorHostPolicy can say that an SELinux policy module cannot. Each such rule is
 * reported with the field that says it; a non-empty list means the host must not get the module
 * (a partial policy would look enforced while part of it is not). The list is documented in
 * docs/selinux.md.
 */
import { globPatternReason, unsafeTextReason, type HostPolicyRule, type NormalizedHostPolicy } from '@kvmservice/resources';
import type { Posture } from './render-options.js';

export interface RenderProblem {
  /** Name of the policy. */
  policy: string;
  /** Where in the policy, e.g. `spec.file.matchPaths[0].ownerOnly`. */
  field: string;
  reason: string;
}

/** Text from the policy that ends up in the module must be expressible in a CIL string. */
function unsafeText(rule: HostPolicyRule, field: string, text: string): RenderProblem[] {
  const reason = unsafeTextReason(text);
  return reason ? [{ policy: rule.policy, field: `${rule.field}.${field}`, reason }] : [];
}

function textProblems(rule: HostPolicyRule): RenderProblem[] {
  const out: RenderProblem[] = [];
  if (rule.class === 'process' || rule.class === 'file') {
    // Validation refuses all of this already; the renderer does not rely on its caller having validated.
    const t = rule.target;
    const absolute = (field: string, text: string) =>
      text.startsWith('/') ? [] : [{ policy: rule.policy, field: `${rule.field}.${field}`, reason: 'must be an absolute path' }];
    if (t.kind === 'path') out.push(...unsafeText(rule, 'path', t.path), ...absolute('path', t.path));
    if (t.kind === 'dir') out.push(...unsafeText(rule, 'dir', t.dir), ...absolute('dir', t.dir));
    if (t.kind === 'execname') out.push(...unsafeText(rule, 'execname', t.name));
    if (t.kind === 'pattern') {
      out.push(...unsafeText(rule, 'pattern', t.pattern), ...absolute('pattern', t.pattern));
      const glob = globPatternReason(t.pattern);
      if (glob) out.push({ policy: rule.policy, field: `${rule.field}.pattern`, reason: glob });
    }
  }
  if (rule.class === 'process' || rule.class === 'file' || rule.class === 'network' || rule.class === 'capability') {
    rule.fromSource.forEach((s, i) => {
      out.push(...unsafeText(rule, `fromSource[${i}].path`, s));
      if (!s.startsWith('/') || s.endsWith('/')) {
        out.push({ policy: rule.policy, field: `${rule.field}.fromSource[${i}].path`, reason: 'must be an absolute path of a binary' });
      } else if (s.split('/').some((c) => c === '.' || c === '..')) {
        out.push({ policy: rule.policy, field: `${rule.field}.fromSource[${i}].path`, reason: 'must not contain "." or ".." components (SELinux labels canonical paths)' });
      }
    });
  }
  return out;
}

/** Problems of one rule that do not depend on the other rules. */
export function ruleProblems(rule: HostPolicyRule, filePosture: Posture): RenderProblem[] {
  const at = (field: string, reason: string): RenderProblem => ({ policy: rule.policy, field: field ? `${rule.field}.${field}` : rule.field, reason });
  const out = textProblems(rule);
  switch (rule.class) {
    case 'process':
    case 'file':
      if (rule.ownerOnly) out.push(at('ownerOnly', 'is not expressible in SELinux: types do not depend on the file owner or the process user'));
      if (rule.pts) out.push(at('pts', 'is not expressible in SELinux: access cannot depend on the process having a terminal'));
      if (rule.class === 'process' && rule.allowedArgs.length > 0) {
        out.push(at('allowedArgs', 'is not expressible in SELinux: it decides on the executable, not on its arguments'));
      }
      if (rule.action === 'Allow' && rule.fromSource.length === 0 && filePosture === 'block') {
        out.push(at('action', 'Allow without fromSource under the file posture "block" would make an allow-list for every process on the host, which SELinux cannot express (add fromSource)'));
      }
      break;
    case 'network':
    case 'capability':
      if (rule.fromSource.length === 0) {
        out.push(at('fromSource', `is required on an SELinux host: ${rule.class} rules apply to the domain of a source binary`));
      }
      if (rule.class === 'capability' && rule.capability === 'mac_override' && rule.action === 'Allow') {
        out.push(at('capability', 'mac_override cannot be granted: the reference policy forbids it for every domain (neverallow)'));
      }
      break;
    case 'dns':
      out.push(at('domain', 'DNS rules are not expressible in SELinux (it does not see DNS queries); use a CiliumClusterwideNetworkPolicy'));
      break;
    case 'syscall':
      out.push(at('', 'syscall rules are not expressible in SELinux (it mediates objects, not system calls); use an AppArmor host or Linux audit visibility'));
      break;
    case 'device':
      out.push(at('class', 'USB device rules are not expressible in SELinux'));
      break;
  }
  return out;
}

/** Problems of a policy as a whole (fields outside its rules). */
export function policyProblems(policy: NormalizedHostPolicy): RenderProblem[] {
  return policy.apparmor !== undefined && policy.apparmor.trim() !== ''
    ? [{ policy: policy.name, field: 'spec.apparmor', reason: 'holds native AppArmor rules, which an SELinux host cannot apply' }]
    : [];
}
