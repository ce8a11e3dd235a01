import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from './cli.js';
import { kvmctl } from './testing/run.js';

function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return command.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

describe('kvmctl command tree', () => {
  const io = { stdout: () => undefined, stderr: () => undefined, readStdin: async () => '', env: {}, cwd: '/' };
  const paths = commandPaths(buildProgram(io));

  it('has the commands of the issue', () => {
    const names = paths.map((p) => p.join(' '));
    for (const c of ['get', 'describe', 'apply', 'delete', 'label', 'vm add', 'vm getscript', 'token create', 'token list', 'token revoke', 'logs', 'config view', 'config use-context', 'config set-context', 'validate', 'render', 'parse-log', 'completion']) {
      expect(names).toContain(c);
    }
  });

  it.each(paths.map((p) => [p.join(' '), p]))('%s --help prints usage and examples (exit 0)', async (_name, path) => {
    const r = await kvmctl([...(path as string[]), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: kvmctl /);
    // Groups (vm, token, config) list their commands; every leaf shows examples.
    expect(r.stdout).toContain('Examples:');
  });

  it('exit codes: 0 help and version, 2 usage', async () => {
    expect((await kvmctl([])).code).toBe(0);
    expect((await kvmctl(['--help'])).stdout).toContain('Exit codes: 0 ok, 1 error, 2 usage');
    expect((await kvmctl(['--version'])).stdout).toBe('0.1.0\n');
    expect((await kvmctl(['nonsense'])).code).toBe(2);
    expect((await kvmctl(['get', '--bogus'])).code).toBe(2);
    expect((await kvmctl(['vm'])).code).toBe(2);
    expect((await kvmctl(['label', 'kvm'])).code).toBe(2);
    expect((await kvmctl(['logs', '--type', 'everything'])).code).toBe(2);
    expect((await kvmctl(['logs', '--since', 'yesterday'])).code).toBe(2);
  });
});
