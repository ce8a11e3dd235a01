/**
 * Events (KubeArmor Alert/Log shaped) as `logs` prints them: one readable line each, or KubeArmor's
 * own JSON (`karmor logs --json` field names), one object per line.
 */
import type { Event__Output } from '@kvmservice/api';

/** RFC 3339 time of an event: UpdatedTime, else the nanosecond timestamp. */
export function eventTime(e: Event__Output): string {
  if (e.updatedTime) return e.updatedTime;
  const ms = Math.floor(Number(e.timestamp) / 1e6);
  return ms > 0 ? new Date(ms).toISOString() : '-';
}

/** Alert when a policy decided (MatchedHostPolicy), Log for visibility records. */
export function eventKind(e: Event__Output): string {
  return e.type === 'MatchedHostPolicy' ? 'Alert' : e.type === 'SystemEvent' ? 'System' : 'Log';
}

function quoted(value: string): string {
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * `TIME HOST Alert|Log OPERATION ACTION "RESULT" source=… resource=… policy=… …`: fixed fields
 * first, then key=value pairs for what is set (values with spaces or quotes JSON-quoted).
 */
export function formatEventLine(e: Event__Output): string {
  const head = [eventTime(e), e.hostName || '-', eventKind(e), e.operation || '-', e.action || '-', quoted(e.result || '-')];
  const fields: [string, string][] = [
    ['source', e.source],
    ['resource', e.resource],
    ['policy', e.policyName],
    ['severity', e.severity],
    ['data', e.data],
    ['pid', e.hostPid ? String(e.hostPid) : ''],
    ['uid', e.hostPid ? String(e.uid) : ''],
    ['process', e.processName && e.processName !== e.source ? e.processName : ''],
    ['parent', e.parentProcessName],
    ['enforcer', e.enforcer],
    ['message', e.message],
    ['tags', e.tags],
  ];
  const tail = fields.filter(([, v]) => v !== '' && v !== undefined).map(([k, v]) => `${k}=${quoted(v)}`);
  return `${[...head, ...tail].join(' ')}\n`;
}

/** The event under KubeArmor's JSON field names (Timestamp in seconds, as KubeArmor writes it). */
export function kubeArmorJson(e: Event__Output): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Timestamp: Math.floor(Number(e.timestamp) / 1e9),
    UpdatedTime: eventTime(e),
    ClusterName: e.clusterName,
    HostName: e.hostName,
    HostPPID: e.hostPpid,
    HostPID: e.hostPid,
    PPID: e.ppid,
    PID: e.pid,
    UID: e.uid,
    ParentProcessName: e.parentProcessName,
    ProcessName: e.processName,
    PolicyName: e.policyName,
    Severity: e.severity,
    Tags: e.tags,
    ATags: e.atags,
    Message: e.message,
    Type: e.type,
    Source: e.source,
    Operation: e.operation,
    Resource: e.resource,
    Data: e.data,
    Enforcer: e.enforcer,
    Action: e.action,
    Result: e.result,
    Cwd: e.cwd,
    ExtraData: e.eventData,
    Seq: e.seq,
  };
  // KubeArmor omits empty fields (Go omitempty); keep the numbers a reader expects even when zero.
  for (const [k, v] of Object.entries(out)) {
    const empty = v === '' || v === undefined || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
    if (empty) delete out[k];
  }
  return out;
}
