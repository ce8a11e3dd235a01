// Command sources: the real dmesg (replay skipped past a saved position), a command that exits
// (restarted from its last position), journald's arguments and cursor, and the automatic choice.
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { requireTool } from '../../../../test/support/tools.js';
import { CommandFollower, dmesgSpec, journaldSpec, type CommandSpec, type DmesgPosition } from './command-follower.js';
import { chooseSources } from './source-selection.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

function follow(spec: CommandSpec, start?: unknown) {
  const lines: string[] = [];
  const positions: unknown[] = [];
  const f = new CommandFollower(spec, start);
  f.start((line, position) => {
    lines.push(line);
    positions.push(position);
  });
  stops.push(() => f.stop());
  return { f, lines, positions };
}

async function until(what: string, predicate: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('dmesg source', () => {
  const dmesg = requireTool('dmesg', 'util-linux');
  const readable = spawnSync(dmesg, ['--nopager'], { encoding: 'utf8' });

  it('replays the ring buffer only past the saved position', async () => {
    expect(readable.status).toBe(0);
    const ring = readable.stdout.split('\n').filter((l) => /^\[\s*\d+\.\d+\]/.test(l));
    expect(ring.length).toBeGreaterThan(2);
    const spec = dmesgSpec();
    // From the start of this boot: everything in the ring buffer, with the timestamps as positions.
    const all = follow(spec, { bootId: (spec.positionOf(ring[0]!, undefined) as DmesgPosition).bootId, ts: -1 });
    await until('the ring buffer', () => all.lines.length >= ring.length);
    expect(all.lines.slice(0, ring.length)).toEqual(ring);
    const last = all.positions[ring.length - 1] as DmesgPosition;
    expect(last.ts).toBe(Number(/^\[\s*(\d+\.\d+)\]/.exec(ring.at(-1)!)![1]));
    // From the last position: the replay is skipped.
    const again = follow(spec, last);
    await new Promise((r) => setTimeout(r, 700));
    expect(again.lines.filter((l) => ring.includes(l))).toEqual([]);
  });

  it('asks only for new messages without a position of this boot', () => {
    expect(dmesgSpec('boot-a').args(undefined)).toEqual(['--follow-new', '--nopager']);
    expect(dmesgSpec('boot-a').args({ bootId: 'boot-b', ts: 5 })).toEqual(['--follow-new', '--nopager']);
    expect(dmesgSpec('boot-a').args({ bootId: 'boot-a', ts: 5 })).toEqual(['--follow', '--nopager']);
  });
});

describe('command source', () => {
  it('restarts a command that exits, from its last position', async () => {
    const calls: unknown[] = [];
    const spec: CommandSpec = {
      key: 'test',
      command: 'sh',
      args: (position) => {
        calls.push(position);
        const from = typeof position === 'number' ? position + 1 : 1;
        return ['-c', `for i in $(seq ${from} $((${from} + 2))); do echo "line $i"; done`];
      },
      positionOf: (line) => Number(line.split(' ')[1]),
    };
    const { lines } = follow(spec);
    await until('two runs', () => lines.length >= 6);
    expect(lines.slice(0, 6)).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'line 6']);
    expect(calls.slice(0, 2)).toEqual([undefined, 3]);
  });
});

describe('journald source', () => {
  it('resumes after its cursor, or starts at now, for the audit and kernel transports', () => {
    const spec = journaldSpec();
    expect(spec.args(undefined)).toEqual(['--follow', '--no-pager', '--output=json', '--lines=0', '_TRANSPORT=audit', '+', '_TRANSPORT=kernel']);
    expect(spec.args('s=abc;i=1f')).toContain('--after-cursor=s=abc;i=1f');
    expect(spec.positionOf('{"__CURSOR" : "s=abc;i=20", "MESSAGE":"x"}', undefined)).toBe('s=abc;i=20');
    expect(spec.positionOf('not json', 's=abc;i=1f')).toBeUndefined();
  });
});

describe('source selection', () => {
  const probe = (files: string[], commands: string[]) => ({ exists: (p: string) => files.includes(p), hasCommand: (c: string) => commands.includes(c) });
  it('prefers audit.log, then the journal, then kernel log files, then dmesg', () => {
    expect(chooseSources([], probe(['/var/log/audit/audit.log', '/run/systemd/journal/socket'], ['journalctl'])).sources).toEqual([{ type: 'file', path: '/var/log/audit/audit.log' }]);
    expect(chooseSources([], probe(['/run/systemd/journal/socket', '/var/log/kern.log'], ['journalctl'])).sources).toEqual([{ type: 'journald' }]);
    expect(chooseSources([], probe(['/var/log/syslog'], ['dmesg'])).sources).toEqual([{ type: 'file', path: '/var/log/syslog' }]);
    expect(chooseSources([], probe([], ['dmesg'])).sources).toEqual([{ type: 'dmesg' }]);
    expect(chooseSources([], probe([], []))).toMatchObject({ sources: [], reason: expect.stringContaining('no audit source') });
  });
  it('takes what --log-source says', () => {
    expect(chooseSources(['/x/audit.log', 'journald', 'dmesg'], probe([], [])).sources).toEqual([{ type: 'file', path: '/x/audit.log' }, { type: 'journald' }, { type: 'dmesg' }]);
    expect(chooseSources(['none'], probe(['/var/log/audit/audit.log'], [])).sources).toEqual([]);
  });
});
