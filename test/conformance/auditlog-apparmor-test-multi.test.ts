// libapparmor's own parser testsuite (libraries/libapparmor/testsuite/test_multi): every NAME.in
// parsed with parseAppArmorRecord and printed like test_multi.c must equal NAME.out, field by
// field and byte for byte. The stream entry point (parseLine) must give the same record.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTestMultiOut, parseAppArmorRecord, parseLine } from '@kvmservice/auditlog';
import { conformanceDir } from '../support/conformance.js';

const dir = conformanceDir('apparmor', 'test_multi');
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.in'))
  .map((f) => f.slice(0, -'.in'.length))
  .sort();

/** "Label: value" lines after START/File, as label -> value (labels are unique per case). */
function fieldsOf(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n').slice(2)) {
    if (line === '') continue;
    const k = line.indexOf(': ');
    m.set(k < 0 ? line : line.slice(0, k), k < 0 ? '' : line.slice(k + 2));
  }
  return m;
}

describe('libapparmor test_multi', () => {
  it('has the 179 upstream cases', () => {
    expect(cases.length).toBe(179);
  });

  it('reproduces every field of every NAME.out and invents none', () => {
    const mismatches: string[] = [];
    for (const name of cases) {
      // test_multi.c hands the whole file to parse_record (testcase_dbus_09 is two lines)
      const input = readFileSync(join(dir, `${name}.in`), 'utf8');
      const expected = readFileSync(join(dir, `${name}.out`), 'utf8');
      const got = formatTestMultiOut(parseAppArmorRecord(input), `${name}.in`);
      const want = fieldsOf(expected);
      const have = fieldsOf(got);
      for (const [label, value] of want) {
        if (!have.has(label)) mismatches.push(`${name}: missing ${label}: ${JSON.stringify(value)}`);
        else if (have.get(label) !== value) mismatches.push(`${name}: ${label}: expected ${JSON.stringify(value)}, got ${JSON.stringify(have.get(label))}`);
      }
      for (const [label, value] of have) {
        if (!want.has(label)) mismatches.push(`${name}: extra ${label}: ${JSON.stringify(value)}`);
      }
      if (mismatches.length === 0 && got !== expected) mismatches.push(`${name}: same fields, different text/order`);
    }
    expect(mismatches, `${mismatches.length} mismatches:\n${mismatches.join('\n')}`).toEqual([]);
  });

  it('gives the same record through parseLine for every line libapparmor reads', () => {
    const differences: string[] = [];
    let apparmor = 0;
    for (const name of cases) {
      const input = readFileSync(join(dir, `${name}.in`), 'utf8');
      if (input.trimEnd().includes('\n')) continue; // parseLine takes one line
      const direct = parseAppArmorRecord(input);
      const viaLine = parseLine(input);
      if (viaLine.format !== 'apparmor') {
        // only lines libapparmor itself cannot read may be classified otherwise
        if (direct.event !== 'INVALID' || direct.profile !== undefined) differences.push(`${name}: classified ${viaLine.format}`);
        continue;
      }
      apparmor++;
      if (JSON.stringify(viaLine.record) !== JSON.stringify(direct)) differences.push(`${name}: ${JSON.stringify(viaLine.record)} != ${JSON.stringify(direct)}`);
      if (direct.event === 'DENIED' || direct.event === 'ALLOWED' || direct.event === 'AUDIT') {
        if (!viaLine.event) differences.push(`${name}: no event for a ${direct.event} record`);
        else if (viaLine.event.enforcer !== 'AppArmor') differences.push(`${name}: enforcer ${viaLine.event.enforcer}`);
        else if (direct.profile !== undefined && viaLine.event.lsm?.profile !== direct.profile) differences.push(`${name}: profile not kept`);
      }
    }
    expect(differences, differences.join('\n')).toEqual([]);
    expect(apparmor).toBeGreaterThan(150);
  });
});
