/** `kvmctl describe kvm NAME`: everything known about one host, as kubectl describe lays it out. */
import type { Event__Output } from '@kvmservice/api';
import type { Resource } from '@kvmservice/resources';
import { age } from '../output/age.js';
import { eventKind, eventTime } from '../output/events.js';
import { list, obj, pairs, str } from '../output/fields.js';
import { DescribeWriter } from './describe-writer.js';
import { policyResults, type PolicyId } from './host-policy-results.js';

function when(time: unknown, now: Date): string {
  const t = str(time);
  return t === '' ? '' : `${t} (${age(t, now)} ago)`;
}

export interface HostDescription {
  host: Resource;
  /** Policies that select the host now (computed from the current objects). */
  selected: PolicyId[];
  /** Recent alerts, or why they could not be read. */
  alerts: Event__Output[] | { error: string };
  alertLimit: number;
  now: Date;
}

export function describeHost({ host, selected, alerts, alertLimit, now }: HostDescription): string {
  const w = new DescribeWriter();
  const status = obj(host.status);
  const facts = obj(status.facts);
  const agent = obj(status.agent);
  const spec = obj(host.spec);
  const md = host.metadata;

  w.field(0, 'Name', md.name);
  w.field(0, 'Kind', `${host.kind} (${host.apiVersion})`);
  w.field(0, 'Labels', pairs(md.labels).split(',').filter((s) => s !== ''));
  w.field(0, 'Annotations', pairs(md.annotations).split(',').filter((s) => s !== ''));
  w.field(0, 'CreationTimestamp', when(md.creationTimestamp, now));
  w.field(0, 'ResourceVersion', str(md.resourceVersion));

  w.section(0, 'Spec');
  const posture = obj(spec.defaultPosture);
  w.field(1, 'Default posture', ['file', 'network', 'capabilities'].map((k) => `${k}=${str(posture[k]) || 'audit'}`).join(' '));
  w.field(1, 'Visibility', list(spec.visibility).map(str).join(','));

  w.section(0, 'Connection');
  const connected = status.connected === true;
  w.field(1, 'Connected', connected ? `True${str(status.servedBy) ? ` (served by replica ${str(status.servedBy)})` : ''}` : status.agent === undefined && status.facts === undefined ? 'False (the agent has never joined)' : 'False');
  w.field(1, 'Agent version', str(agent.version));
  w.field(1, 'Connected at', when(agent.connectedAt, now));
  w.field(1, 'Last heartbeat', when(agent.lastHeartbeat, now));
  w.field(1, 'Events dropped', str(agent.eventsDropped ?? 0));
  w.field(1, 'Events spooled', str(agent.eventsSpooled ?? 0));
  w.field(1, 'Lines unparsed', str(agent.linesUnparsed ?? 0));

  w.section(0, 'Facts');
  const os = str(facts.osPrettyName) || [str(facts.osId), str(facts.osVersion)].filter((s) => s !== '').join(' ');
  w.field(1, 'OS', os);
  w.field(1, 'Kernel', str(facts.kernel));
  w.field(1, 'Architecture', str(facts.architecture));
  w.field(1, 'LSMs', list(facts.lsms).map(str).join(','));
  const enforcer = str(facts.enforcer);
  w.field(1, 'Enforcer', enforcer === '' ? '' : facts.dryRun === true ? `${enforcer} (dry run: profiles are compiled, not loaded)` : enforcer);
  if (str(facts.apparmorFeaturesSha256)) w.field(1, 'AppArmor ABI', `sha256:${str(facts.apparmorFeaturesSha256)}`);
  if (str(facts.selinuxPolicyType) || str(facts.selinuxMode)) {
    w.field(1, 'SELinux', [str(facts.selinuxPolicyType), str(facts.selinuxPolicyVersion), str(facts.selinuxMode)].filter((s) => s !== '').join(' '));
  }
  w.field(1, 'Addresses', list(facts.ipAddresses).map(str).join(', '));

  w.section(0, 'Conditions');
  w.table(
    1,
    ['TYPE', 'STATUS', 'REASON', 'LAST TRANSITION', 'MESSAGE'],
    list(status.conditions).map(obj).map((c) => [str(c.type), str(c.status), str(c.reason), str(c.lastTransitionTime), str(c.message)]),
  );

  const desired = obj(status.desired);
  const applied = obj(status.applied);
  w.field(0, 'Desired revision', str(desired.revision) === '' ? '' : `${str(desired.revision)}${str(desired.at) ? ` (sent ${age(str(desired.at), now)} ago)` : ''}`);
  w.field(0, 'Applied revision', str(applied.revision) === '' ? '' : `${str(applied.revision)}${str(applied.at) ? ` (reported ${age(str(applied.at), now)} ago)` : ''}`);

  w.section(0, 'Policies');
  w.table(
    1,
    ['KIND', 'NAME', 'VERSION', 'RESULT', 'MESSAGE'],
    policyResults(status, selected).map((p) => [p.kind, p.name, p.resourceVersion, p.result, p.message]),
  );

  w.section(0, 'Artifacts');
  w.table(
    1,
    ['NAME', 'LSM', 'STATE', 'POLICIES', 'MESSAGE'],
    list(applied.artifacts).map(obj).map((a) => [str(a.name), str(a.lsm), str(a.state), list(a.policies).map(str).join(','), str(a.message)]),
  );

  w.section(0, `Recent alerts (last ${alertLimit})`);
  if ('error' in alerts) w.text(1, `<unavailable: ${alerts.error}>`);
  else {
    w.table(
      1,
      ['TIME', 'TYPE', 'OPERATION', 'ACTION', 'RESULT', 'SOURCE', 'RESOURCE', 'POLICY'],
      alerts.map((e) => [eventTime(e), eventKind(e), e.operation, e.action, e.result, e.source, e.resource, e.policyName]),
    );
  }
  return w.toString();
}
