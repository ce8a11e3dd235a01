import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringifyClientConfig } from '@kvmservice/api';
import { kvmctl } from '../testing/run.js';

const complete = async (words: string[], env: Record<string, string> = {}) => {
  const r = await kvmctl(['__complete', ...words], { env });
  expect(r.code).toBe(0);
  return r.stdout.split('\n').filter((l) => l !== '');
};

describe('kvmctl __complete (what the bash and zsh scripts ask)', () => {
  it('commands, subcommands and flags from the command tree', async () => {
    expect(await complete([''])).toEqual(
      ['apply', 'completion', 'config', 'delete', 'describe', 'discover', 'get', 'label', 'logs', 'parse-log', 'render', 'snapshot', 'token', 'validate', 'vm'].sort(),
    );
    expect(await complete(['de'])).toEqual(['delete', 'describe']);
    expect(await complete(['vm', ''])).toEqual(['add', 'delete', 'getscript', 'list', 'revoke']);
    const flags = await complete(['get', '--']);
    expect(flags).toContain('--selector');
    expect(flags).toContain('--watch');
    expect(flags).toContain('--context'); // global flags too
    expect(await complete(['logs', '--op'])).toEqual(['--operation']);
  });

  it('types, flag values and files', async () => {
    expect(await complete(['get', ''])).toEqual(expect.arrayContaining(['kvm', 'hsp', 'ccnp', 'dsp', 'tokens', 'kubearmorhostpolicies']));
    expect(await complete(['describe', 'h'])).toEqual(['host', 'hsp']);
    expect(await complete(['get', 'hsp', '-o', ''])).toEqual(['json', 'name', 'table', 'wide', 'yaml']);
    expect(await complete(['logs', '-o', ''])).toEqual(['json', 'text']);
    expect(await complete(['logs', '--operation', 'F'])).toEqual(['File']);
    expect(await complete(['render', '--lsm', ''])).toEqual(['apparmor', 'selinux']);
    expect(await complete(['apply', '--dry-run', ''])).toEqual(['client', 'server']);
    expect(await complete(['apply', '-f', ''])).toEqual([':file']);
    expect(await complete(['render', '-f', 'x', '--out', 'b'])).toEqual([':file']);
    expect(await complete(['completion', ''])).toEqual(['bash', 'zsh']);
  });

  it('context names from the config file; nothing (and no error) when the server cannot be reached', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvmctl-complete-'));
    mkdirSync(join(dir, 'c'));
    const path = join(dir, 'c', 'config');
    writeFileSync(path, stringifyClientConfig({ currentContext: 'lab', contexts: [{ name: 'lab', server: '127.0.0.1:1', insecure: true }, { name: 'prod', server: '127.0.0.1:1', insecure: true }] }));
    expect(await complete(['config', 'use-context', ''], { KVMCTL_CONFIG: path })).toEqual(['lab', 'prod']);
    expect(await complete(['get', '--context', 'p'], { KVMCTL_CONFIG: path })).toEqual(['prod']);
    const r = await kvmctl(['__complete', 'get', 'hsp', ''], { env: { KVMCTL_CONFIG: path } });
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('prints the scripts', async () => {
    const bash = await kvmctl(['completion', 'bash']);
    expect(bash.stdout).toContain('complete -o default -F _kvmctl kvmctl');
    expect(bash.stdout).toContain('__complete');
    const zsh = await kvmctl(['completion', 'zsh']);
    expect(zsh.stdout).toMatch(/^#compdef kvmctl\n/);
    expect((await kvmctl(['completion', 'fish'])).code).toBe(2);
  });
});
