// Linux audit record type numbers (include/uapi/linux/audit.h, libaudit) and their names as
// auditd writes them. The kernel's own printk lines carry only the number.
const TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [1100, 'USER_AUTH'],
  [1101, 'USER_ACCT'],
  [1102, 'USER_MGMT'],
  [1103, 'CRED_ACQ'],
  [1104, 'CRED_DISP'],
  [1105, 'USER_START'],
  [1106, 'USER_END'],
  [1107, 'USER_AVC'],
  [1108, 'USER_CHAUTHTOK'],
  [1109, 'USER_ERR'],
  [1110, 'CRED_REFR'],
  [1111, 'USYS_CONFIG'],
  [1112, 'USER_LOGIN'],
  [1113, 'USER_LOGOUT'],
  [1114, 'ADD_USER'],
  [1115, 'DEL_USER'],
  [1116, 'ADD_GROUP'],
  [1117, 'DEL_GROUP'],
  [1118, 'DAC_CHECK'],
  [1119, 'CHGRP_ID'],
  [1120, 'TEST'],
  [1121, 'TRUSTED_APP'],
  [1122, 'USER_SELINUX_ERR'],
  [1123, 'USER_CMD'],
  [1124, 'USER_TTY'],
  [1125, 'CHUSER_ID'],
  [1126, 'GRP_AUTH'],
  [1127, 'SYSTEM_BOOT'],
  [1128, 'SYSTEM_SHUTDOWN'],
  [1129, 'SYSTEM_RUNLEVEL'],
  [1130, 'SERVICE_START'],
  [1131, 'SERVICE_STOP'],
  [1132, 'GRP_MGMT'],
  [1133, 'GRP_CHAUTHTOK'],
  [1134, 'USER_DEVICE'],
  [1135, 'SOFTWARE_UPDATE'],
  [1200, 'DAEMON_START'],
  [1201, 'DAEMON_END'],
  [1202, 'DAEMON_ABORT'],
  [1203, 'DAEMON_CONFIG'],
  [1204, 'DAEMON_RECONFIG'],
  [1205, 'DAEMON_ROTATE'],
  [1206, 'DAEMON_RESUME'],
  [1207, 'DAEMON_ACCEPT'],
  [1208, 'DAEMON_CLOSE'],
  [1209, 'DAEMON_ERR'],
  [1300, 'SYSCALL'],
  [1302, 'PATH'],
  [1303, 'IPC'],
  [1304, 'SOCKETCALL'],
  [1305, 'CONFIG_CHANGE'],
  [1306, 'SOCKADDR'],
  [1307, 'CWD'],
  [1309, 'EXECVE'],
  [1311, 'IPC_SET_PERM'],
  [1312, 'MQ_OPEN'],
  [1313, 'MQ_SENDRECV'],
  [1314, 'MQ_NOTIFY'],
  [1315, 'MQ_GETSETATTR'],
  [1316, 'KERNEL_OTHER'],
  [1317, 'FD_PAIR'],
  [1318, 'OBJ_PID'],
  [1319, 'TTY'],
  [1320, 'EOE'],
  [1321, 'BPRM_FCAPS'],
  [1322, 'CAPSET'],
  [1323, 'MMAP'],
  [1324, 'NETFILTER_PKT'],
  [1325, 'NETFILTER_CFG'],
  [1326, 'SECCOMP'],
  [1327, 'PROCTITLE'],
  [1328, 'FEATURE_CHANGE'],
  [1329, 'REPLACE'],
  [1330, 'KERN_MODULE'],
  [1331, 'FANOTIFY'],
  [1332, 'TIME_INJOFFSET'],
  [1333, 'TIME_ADJNTPVAL'],
  [1334, 'BPF'],
  [1335, 'EVENT_LISTENER'],
  [1336, 'URINGOP'],
  [1337, 'OPENAT2'],
  [1338, 'DM_CTRL'],
  [1339, 'DM_EVENT'],
  [1400, 'AVC'],
  [1401, 'SELINUX_ERR'],
  [1402, 'AVC_PATH'],
  [1403, 'MAC_POLICY_LOAD'],
  [1404, 'MAC_STATUS'],
  [1405, 'MAC_CONFIG_CHANGE'],
  [1420, 'MAC_TASK_CONTEXTS'],
  [1421, 'MAC_OBJ_CONTEXTS'],
  [1500, 'AA'],
  [1501, 'APPARMOR_AUDIT'],
  [1502, 'APPARMOR_ALLOWED'],
  [1503, 'APPARMOR_DENIED'],
  [1504, 'APPARMOR_HINT'],
  [1505, 'APPARMOR_STATUS'],
  [1506, 'APPARMOR_ERROR'],
  [1700, 'ANOM_PROMISCUOUS'],
  [1701, 'ANOM_ABEND'],
  [1702, 'ANOM_LINK'],
  [1703, 'ANOM_CREAT'],
]);

const TYPE_NUMBERS: ReadonlyMap<string, number> = new Map([...TYPE_NAMES].map(([n, name]) => [name, n]));

/** 1300 -> "SYSCALL"; unknown numbers -> "UNKNOWN[n]" as auditd writes them. */
export function auditTypeName(n: number): string {
  return TYPE_NAMES.get(n) ?? `UNKNOWN[${n}]`;
}

/** "SYSCALL" -> 1300, "UNKNOWN[1234]" -> 1234, "1400" -> 1400; undefined when unknown. */
export function auditTypeNumber(name: string): number | undefined {
  const known = TYPE_NUMBERS.get(name);
  if (known !== undefined) return known;
  const m = /^(?:UNKNOWN\[)?([0-9]{1,6})\]?$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Types that are complete events on their own: user-space messages (1100-1199, 2100-2999)
 * and daemon messages (1200-1299) never get further records or an EOE.
 */
export function isStandaloneType(n: number | undefined): boolean {
  if (n === undefined) return false;
  return (n >= 1100 && n <= 1299) || (n >= 2100 && n <= 2999);
}
