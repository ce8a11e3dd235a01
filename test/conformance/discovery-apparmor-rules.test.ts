/**
 * Rule derivation conformance: for each of libapparmor's test_multi cases with a `.profile`
 * (the profile aa-logprof's library writes from that one event, checked upstream by
 * utils/test/test-libapparmor-test_multi.py), the rule discovery derives from the event parsed by
 * libs/auditlog must print to the same profile — or the case is listed below with our rule and
 * why it differs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditStream, splitLines, type HostEvent } from '@kvmservice/auditlog';
import { deriveAppArmorRule, formatAppArmorProfiles } from '@kvmservice/discovery';
import { describe, expect, it } from 'vitest';
import { conformanceDir } from '../support/conformance.js';

/** Cases where our profile differs, with the profile we write and the reason. */
const DIFFERENCES: Record<string, { ours: string; why: string }> = {
  testcase36: {
    ours: '/usr/sbin/mosquitto {\n  owner /etc/mosquitto/pwfile r,\n\n}\n',
    why:
      'The AUDIT record carries fsuid=122 ouid=122: the file\'s owner read it, which is what `owner` says. aa-logprof adds ' +
      '`owner` from fsuid == ouid for DENIED/ALLOWED records but not for this AUDIT record (which has no denied_mask); we apply ' +
      'one rule to every record, so a learned profile does not depend on which mode the program ran in.',
  },
};

function eventsOf(inFile: string): HostEvent[] {
  const stream = new AuditStream();
  const out: HostEvent[] = [];
  let n = 0;
  for (const line of splitLines(readFileSync(inFile, 'utf8'))) for (const r of stream.feed(line, ++n)) if (r.event) out.push(r.event);
  for (const r of stream.flush()) if (r.event) out.push(r.event);
  return out;
}

describe('aa-logprof rule derivation (libapparmor test_multi .profile)', () => {
  const dir = conformanceDir('apparmor', 'test_multi');
  const cases = readdirSync(dir)
    .filter((f) => f.endsWith('.profile'))
    .map((f) => f.slice(0, -'.profile'.length))
    .sort();

  it('covers the 142 upstream cases', () => {
    expect(cases).toHaveLength(142);
  });

  it.each(cases)('%s', (name) => {
    const rules = eventsOf(join(dir, `${name}.in`)).map(deriveAppArmorRule);
    const ours = formatAppArmorProfiles(rules);
    const upstream = readFileSync(join(dir, `${name}.profile`), 'utf8');
    const difference = DIFFERENCES[name];
    if (difference) {
      expect(ours).toBe(difference.ours);
      expect(ours).not.toBe(upstream);
    } else {
      expect(ours).toBe(upstream);
    }
  });

  it('lists only cases that exist', () => {
    for (const name of Object.keys(DIFFERENCES)) expect(cases).toContain(name);
  });
});
