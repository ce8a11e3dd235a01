// Visibility rules with the real auditctl, under a key prefix of this test's own (the host's other
// rules are never touched): installed, unchanged, replaced when visibility changes, removed when it
// is turned off, and all or nothing when one rule fails.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireTool } from '../../../../test/support/tools.js';
import type { VisibilityKind } from '../config.js';
import { applyAuditRules, auditRulesFor } from './audit-rules.js';

const auditctl = requireTool('auditctl', 'auditd');
const prefix = `kvmtest${process.pid}-`;
const dir = mkdtempSync(join(tmpdir(), 'kvmagent-audit-'));
const stateFile = join(dir, 'audit-rules.txt');
const options = { stateFile, dryRun: false, dryRunReason: '', auditctl, keyPrefix: prefix };

const ours = () =>
  execFileSync(auditctl, ['-l'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`key=${prefix}`));

afterAll(() => {
  for (const kind of ['process', 'file', 'network', 'capabilities']) {
    try {
      execFileSync(auditctl, ['-D', '-k', `${prefix}${kind}`], { stdio: 'ignore' });
    } catch {
      // none left
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const rules = (...kinds: VisibilityKind[]) => auditRulesFor(new Set(kinds), process.arch, prefix);

describe('audit rules with auditctl', () => {
  it('installs, keeps, replaces and removes exactly its own rules', async () => {
    const enabled = /^enabled (\d)/m.exec(execFileSync(auditctl, ['-s'], { encoding: 'utf8' }))?.[1];
    const first = await applyAuditRules(rules('process', 'network'), options);
    expect(first).toMatchObject({ name: 'linux-audit-rules', lsm: 'linux-audit', state: 'APPLIED' });
    expect(first!.message).toMatch(new RegExp(`^${rules('process', 'network').length} audit rules for process, network installed`));
    if (enabled === '0') expect(first!.message).toContain('kernel auditing is disabled (auditctl -s: enabled 0)');
    expect(ours()).toHaveLength(rules('process', 'network').length);
    expect(ours().some((l) => l.includes('-S execve,execveat'))).toBe(true);

    const again = await applyAuditRules(rules('process', 'network'), options);
    expect(again!.message).toContain('(unchanged)');

    const file = await applyAuditRules(rules('file'), options);
    expect(file!.state).toBe('APPLIED');
    expect(ours()).toHaveLength(rules('file').length);
    expect(ours().every((l) => l.includes(`key=${prefix}file`))).toBe(true);

    expect(await applyAuditRules([], options)).toBeUndefined();
    expect(ours()).toEqual([]);
    expect(existsSync(stateFile)).toBe(false);
  });

  it('leaves no rule behind when one of them is refused', async () => {
    const bad = [...rules('process'), { kind: 'network' as const, args: ['-a', 'always,exit', '-F', 'arch=b64', '-S', 'no_such_syscall', '-k', `${prefix}network`] }];
    const row = await applyAuditRules(bad, options);
    expect(row).toMatchObject({ state: 'FAILED', message: expect.stringMatching(/-S no_such_syscall .* failed: .*no_such_syscall; no visibility rules installed$/) });
    expect(ours()).toEqual([]);
  });
});
