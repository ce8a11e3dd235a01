import type { AaLogRecord } from './apparmor-record.js';

type Line = readonly [label: string, value: (r: AaLogRecord) => string | number | undefined, numeric?: 'nonzero'];

// Label and order of libapparmor's testsuite printer (test_multi.c print_results). Strings
// print when set; numbers print when non-zero, except fsuid/ouid which print when set.
const LINES: readonly Line[] = [
  ['Audit ID', (r) => r.audit_id],
  ['Operation', (r) => r.operation],
  ['Mask', (r) => r.requested_mask],
  ['Denied Mask', (r) => r.denied_mask],
  ['fsuid', (r) => r.fsuid],
  ['ouid', (r) => r.ouid],
  ['Profile', (r) => r.profile],
  ['Peer', (r) => r.peer],
  ['Peer profile', (r) => r.peer_profile],
  ['Name', (r) => r.name],
  ['Command', (r) => r.comm],
  ['Name2', (r) => r.name2],
  ['Namespace', (r) => r.namespace],
  ['Attribute', (r) => r.attribute],
  ['Task', (r) => r.task, 'nonzero'],
  ['Parent', (r) => r.parent, 'nonzero'],
  ['Token', (r) => r.magic_token, 'nonzero'],
  ['Info', (r) => r.info],
  ['Peer info', (r) => r.peer_info],
  ['ErrorCode', (r) => r.error_code, 'nonzero'],
  ['PID', (r) => r.pid, 'nonzero'],
  ['Peer PID', (r) => r.peer_pid, 'nonzero'],
  ['Active hat', (r) => r.active_hat],
  ['Net Addr', (r) => r.net_addr],
  ['Peer Addr', (r) => r.peer_addr],
  ['Network family', (r) => r.net_family],
  ['Socket type', (r) => r.net_sock_type],
  ['Protocol', (r) => r.net_protocol],
  ['Local addr', (r) => r.net_local_addr],
  ['Foreign addr', (r) => r.net_foreign_addr],
  ['Local port', (r) => r.net_local_port, 'nonzero'],
  ['Foreign port', (r) => r.net_foreign_port, 'nonzero'],
  ['DBus bus', (r) => r.dbus_bus],
  ['DBus path', (r) => r.dbus_path],
  ['DBus interface', (r) => r.dbus_interface],
  ['DBus member', (r) => r.dbus_member],
  ['Signal', (r) => r.signal],
  ['FS Type', (r) => r.fs_type],
  ['Flags', (r) => r.flags],
  ['Src name', (r) => r.src_name],
  ['Execpath', (r) => r.execpath],
  ['Class', (r) => r.class],
  ['Epoch', (r) => r.epoch, 'nonzero'],
  ['Audit subid', (r) => r.audit_sub_id, 'nonzero'],
];

/**
 * Renders a record the way libapparmor's test_multi program prints it (the `.out` files of its
 * testsuite): `START`, `File: NAME`, `Event type: AA_RECORD_…`, then one `Label: value` line per
 * set field. Used by the conformance tests and by anyone comparing against libapparmor.
 */
export function formatTestMultiOut(record: AaLogRecord, fileName: string): string {
  const out = ['START', `File: ${fileName}`, `Event type: AA_RECORD_${record.event}`];
  for (const [label, get, numeric] of LINES) {
    const v = get(record);
    if (v === undefined) continue;
    if (numeric === 'nonzero' && v === 0) continue;
    out.push(`${label}: ${v}`);
  }
  return out.join('\n') + '\n';
}
