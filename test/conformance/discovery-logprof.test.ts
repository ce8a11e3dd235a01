/**
 * aa-logprof parity on apparmor's utils/test logprof fixture (ping): `aa-logprof --allow-all` adds
 * `owner /proc/*\/cmdline r,` (logprof__ping.allowlog) from one DENIED open of /proc/21622/cmdline.
 * The discovered policy must cover that rule: every owner read of any /proc/<x>/cmdline by the
 * program is allowed under a block posture. Like aa-logprof it keeps the `owner` restriction.
 * Difference: aa-logprof files the rule under the confining profile (`ping`); discovery files it
 * under the program that acted (the event's exe, /usr/bin/cat, which ran inside ping's profile),
 * because KubeArmor's fromSource names binaries, not profiles.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLogLines, splitLines, type HostEvent } from '@kvmservice/auditlog';
import { createHostModel, deriveAppArmorRule, discoverHostPolicies, globMatches, HostPolicyEvaluator, observeEvents } from '@kvmservice/discovery';
import { normalizeHostPolicy, validateResource } from '@kvmservice/resources';
import { describe, expect, it } from 'vitest';
import { conformanceDir } from '../support/conformance.js';

const dir = conformanceDir('apparmor', 'logprof');

function logEvents(): HostEvent[] {
  return [...parseLogLines(splitLines(readFileSync(join(dir, 'logprof__ping.auditlog'), 'utf8')))].flatMap((r) => (r.event ? [r.event] : []));
}

/** The rule `aa-logprof --allow-all` reports adding, e.g. `owner /proc/*\/cmdline r`. */
function upstreamRule(): { owner: boolean; glob: string; mode: string; profile: string } {
  const m = /^Adding (owner )?(\S+) (\S+), to profile (\S+)\.$/m.exec(readFileSync(join(dir, 'logprof__ping.allowlog'), 'utf8'));
  if (!m) throw new Error('logprof__ping.allowlog: no "Adding … to profile …" line');
  return { owner: m[1] !== undefined, glob: m[2]!, mode: m[3]!, profile: m[4]! };
}

describe('aa-logprof parity (ping)', () => {
  it('the upstream fixture adds owner /proc/*/cmdline r to ping', () => {
    expect(upstreamRule()).toEqual({ owner: true, glob: '/proc/*/cmdline', mode: 'r', profile: 'ping' });
  });

  it('derives the event\'s own rule as aa-logprof offers it (its second, un-globbed option)', () => {
    const denied = logEvents().find((e) => e.action === 'Block')!;
    const options = readFileSync(join(dir, 'logprof__ping.jsonlog'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('o '))
      .map((l) => JSON.parse(l.slice(2)) as { dialog: string; headers?: { Profile?: string; 'New Mode'?: string }; options?: string[] })
      .find((d) => d.dialog === 'promptuser' && d.headers?.['New Mode'] === 'owner r')!;
    const derived = deriveAppArmorRule(denied);
    expect(derived.profile).toBe(options.headers!.Profile);
    expect(options.options).toContain(derived.rule);
  });

  it('the discovered policy covers the upstream rule, owner restriction included', () => {
    const model = createHostModel('pinghost');
    observeEvents(model, logEvents(), 0);
    const { policies } = discoverHostPolicies(model);
    expect(policies).toHaveLength(1);
    for (const p of policies) expect(validateResource(p)).toMatchObject({ valid: true });
    const fileRules = policies[0]!.spec.file!;
    expect(fileRules.matchDirectories).toEqual([{ dir: '/proc/', recursive: true, readOnly: true, ownerOnly: true, fromSource: [{ path: '/usr/bin/cat' }] }]);

    const up = upstreamRule();
    const evaluator = new HostPolicyEvaluator(policies.map(normalizeHostPolicy), { postures: { file: 'block', network: 'block', capabilities: 'block' } });
    const read = (path: string, owner: boolean): HostEvent => ({
      operation: 'File',
      action: 'Allow',
      result: 'Passed',
      enforcer: 'AppArmor',
      type: 'MatchedHostPolicy',
      process: { exe: '/usr/bin/cat' },
      file: { path, access: ['read'], fsuid: 1000, ouid: owner ? 1000 : 0 },
    });
    const samples = ['/proc/1/cmdline', '/proc/21622/cmdline', '/proc/4194304/cmdline', '/proc/self/cmdline', '/proc/thread-self/cmdline'];
    for (const path of samples) {
      expect(globMatches(up.glob, path)).toBe(true);
      expect(evaluator.evaluate(read(path, true)).decision).toBe('Allow');
      // upstream's `owner`: another user's process is not readable
      expect(evaluator.evaluate(read(path, false)).decision).toBe('Block');
    }
  });
});
