// libapparmor turns a numeric `protocol=` into the lower-cased IPPROTO_* name it was built
// with (glibc <netinet/in.h>); anything else prints as `unknown(N)`. The lookup uses the
// value truncated to 32 bits, the printed number is the full one (as libapparmor does).
const IPPROTO_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'ip'],
  [1, 'icmp'],
  [2, 'igmp'],
  [4, 'ipip'],
  [6, 'tcp'],
  [8, 'egp'],
  [12, 'pup'],
  [17, 'udp'],
  [22, 'idp'],
  [29, 'tp'],
  [33, 'dccp'],
  [41, 'ipv6'],
  [43, 'routing'],
  [44, 'fragment'],
  [46, 'rsvp'],
  [47, 'gre'],
  [50, 'esp'],
  [51, 'ah'],
  [58, 'icmpv6'],
  [59, 'none'],
  [60, 'dstopts'],
  [92, 'mtp'],
  [94, 'beetph'],
  [98, 'encap'],
  [103, 'pim'],
  [108, 'comp'],
  [132, 'sctp'],
  [135, 'mh'],
  [136, 'udplite'],
  [137, 'mpls'],
  [143, 'ethernet'],
  [255, 'raw'],
  [262, 'mptcp'],
]);

/** libapparmor's `ipproto_to_string`: 6 -> "tcp", 768 -> "unknown(768)". */
export function ipprotoName(n: number): string {
  const key = n >= 0 && n < 2 ** 32 ? n : Number(BigInt.asUintN(32, BigInt(Math.trunc(n))));
  return IPPROTO_NAMES.get(key) ?? `unknown(${n})`;
}
