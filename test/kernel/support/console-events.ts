/**
 * The VM's console as the agent would read a kernel log: every line through libs/auditlog's
 * AuditStream; AppArmor/SELinux events come back with the line they came from.
 */
import { AuditStream, type AuditStreamCounters, type HostEvent } from '@kvmservice/auditlog';

export interface ConsoleEvent {
  event: HostEvent;
  line: string;
}

export interface ConsoleEvents {
  events: ConsoleEvent[];
  /** Events by the pid of the process that caused them. */
  byPid: Map<number, ConsoleEvent[]>;
  /** Console lines that carry an LSM audit record (`audit: type=1400 …`: AppArmor, SELinux AVC). */
  auditLines: string[];
  /** Of those, the ones the parser gave no event for. */
  auditLinesWithoutEvent: string[];
  counters: AuditStreamCounters;
}

export function readConsole(lines: readonly string[], hostName: string): ConsoleEvents {
  const stream = new AuditStream({ hostName });
  const events: ConsoleEvent[] = [];
  const withEvent = new Set<number>();
  const take = (results: ReturnType<AuditStream['feed']>): void => {
    for (const r of results) {
      if (!r.event) continue;
      if (r.line !== undefined) withEvent.add(r.line);
      events.push({ event: r.event, line: r.line !== undefined ? (lines[r.line - 1] ?? '') : '' });
    }
  };
  for (const line of lines) take(stream.feed(line, 0));
  take(stream.flush());
  const byPid = new Map<number, ConsoleEvent[]>();
  for (const e of events) {
    if (e.event.hostPID === undefined) continue;
    byPid.set(e.event.hostPID, [...(byPid.get(e.event.hostPID) ?? []), e]);
  }
  const auditLines: string[] = [];
  const auditLinesWithoutEvent: string[] = [];
  lines.forEach((line, i) => {
    if (!/\baudit: type=1400 audit\(/.test(line)) return;
    auditLines.push(line);
    if (!withEvent.has(i + 1)) auditLinesWithoutEvent.push(line);
  });
  return { events, byPid, auditLines, auditLinesWithoutEvent, counters: stream.counters };
}
