/**
 * KubeArmor's own log records (`karmor logs --json`, the relay's Log/Alert messages, the
 * discovery engine's test inputs) as HostEvents, so discovery also learns from KubeArmor
 * hosts. Keys are matched case-insensitively (some upstream fixtures lower-case them). Total:
 * anything that is not a usable record gives a reason instead.
 */
import type { FileDetail, HostEvent, HostOperation, NetworkDetail } from '@kvmservice/auditlog';

const OPERATIONS: Record<string, HostOperation> = {
  process: 'Process',
  file: 'File',
  network: 'Network',
  capabilities: 'Capabilities',
  syscall: 'Syscall',
};

function lowerKeys(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k.toLowerCase()] = x;
  return out;
}

const firstToken = (s: string) => s.trim().split(/\s+/)[0] ?? '';

/** `flags=O_RDONLY|O_CLOEXEC` in KubeArmor's data → access words. */
function accessFromData(data: string): string[] {
  const flags = /flags=([A-Z_|]+)/i.exec(data)?.[1]?.toUpperCase().split('|') ?? [];
  const out: string[] = [];
  if (flags.includes('O_WRONLY')) out.push('write');
  else if (flags.includes('O_RDWR')) out.push('read', 'write');
  else if (flags.length > 0) out.push('read');
  if (flags.includes('O_CREAT')) out.push('create');
  if (flags.includes('O_APPEND')) out.push('append');
  if (flags.includes('O_TRUNC') && !out.includes('write')) out.push('write');
  return out;
}

/** KubeArmor's network resource text: `domain=AF_INET type=SOCK_STREAM protocol=6` or `sa_family=AF_INET sin_port=53 sin_addr=…`. */
function networkFromResource(resource: string, data: string): NetworkDetail {
  const f: Record<string, string> = {};
  for (const m of `${resource} ${data}`.matchAll(/([a-z_0-9]+)=(\S+)/gi)) f[m[1]!.toLowerCase()] ??= m[2]!;
  const n: NetworkDetail = {};
  const family = (f.domain ?? f.sa_family)?.replace(/^AF_/i, '').toLowerCase();
  if (family) n.family = family;
  const type = f.type?.replace(/^SOCK_/i, '').toLowerCase();
  if (type) n.sockType = type;
  if (f.protocol && f.protocol !== '0') n.protocol = f.protocol.toLowerCase();
  const port = Number(f.sin_port ?? f.sin6_port);
  const addr = f.sin_addr ?? f.sin6_addr;
  const syscall = /SYS_([A-Z0-9]+)/i.exec(data)?.[1]?.toLowerCase();
  if (syscall === 'connect') n.direction = 'connect';
  else if (syscall === 'bind') n.direction = 'bind';
  else if (syscall === 'accept' || syscall === 'accept4') n.direction = 'accept';
  else if (syscall === 'socket') n.direction = 'socket';
  if (n.direction === 'bind' && Number.isFinite(port)) n.localPort = port;
  else if (Number.isFinite(port) && port > 0) n.peerPort = port;
  if (addr && n.direction !== 'bind') n.peerAddr = addr;
  return n;
}

/** One KubeArmor log record as a HostEvent, or why it is not one. */
export function kubeArmorLogToHostEvent(record: unknown): HostEvent | string {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return 'not a JSON object';
  const r = lowerKeys(record as Record<string, unknown>);
  const operation = OPERATIONS[String(r.operation ?? '').toLowerCase()];
  if (!operation) return `unknown operation ${JSON.stringify(r.operation)}`;
  const source = firstToken(String(r.source ?? r.processname ?? ''));
  const resourceText = String(r.resource ?? '');
  const data = String(r.data ?? '');
  const result = String(r.result ?? 'Passed');
  const action = String(r.action ?? '').toLowerCase();
  const event: HostEvent = {
    operation,
    action: action === 'block' || /permission denied/i.test(result) ? 'Block' : action === 'audit' ? 'Audit' : 'Allow',
    result,
    enforcer: 'Linux-audit',
    type: 'HostLog',
    resource: resourceText,
    data,
  };
  if (source !== '') event.source = source;
  const host = r.hostname;
  if (typeof host === 'string') event.hostName = host;
  const ts = r.timestamp;
  if (typeof ts === 'number' && Number.isFinite(ts)) event.timestampMs = ts > 1e12 ? ts : ts * 1000;
  if (typeof r.updatedtime === 'string' && event.timestampMs === undefined && Number.isFinite(Date.parse(r.updatedtime))) event.timestampMs = Date.parse(r.updatedtime);
  switch (operation) {
    case 'Process': {
      const path = firstToken(resourceText);
      if (path !== '') event.file = { path, access: ['exec'] };
      // KubeArmor's source of an exec is the program that called exec
      if (source !== '') event.parentProcessName = source;
      break;
    }
    case 'File': {
      const path = firstToken(resourceText);
      if (path !== '') {
        const file: FileDetail = { path, access: accessFromData(data) };
        event.file = file;
      }
      if (source !== '') event.process = { exe: source };
      break;
    }
    case 'Network':
      event.network = networkFromResource(resourceText, data);
      if (source !== '') event.process = { exe: source };
      break;
    case 'Capabilities': {
      const cap = /CAP_([A-Z_]+)/i.exec(resourceText)?.[1] ?? /capability=([a-z_]+)/i.exec(data)?.[1];
      if (cap) event.capability = cap.toLowerCase();
      if (source !== '') event.process = { exe: source };
      break;
    }
    default:
      break;
  }
  return event;
}
