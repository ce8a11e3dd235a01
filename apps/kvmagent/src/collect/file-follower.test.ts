// FileFollower on real files: start at the end, files that appear later, rotation by rename,
// copytruncate, resuming from a saved position (also across a rotation), partial and long lines.
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileFollower, type FilePosition } from './file-follower.js';
import { MAX_LINE_BYTES } from './log-source.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'kvmagent-follow-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, path: join(dir, 'audit.log') };
}

function follow(path: string, start?: FilePosition) {
  const lines: string[] = [];
  const positions: FilePosition[] = [];
  const f = new FileFollower(path, start, { pollMs: 40 });
  f.start((line, position) => {
    lines.push(line);
    positions.push(position as FilePosition);
  });
  cleanups.push(() => f.stop());
  return { f, lines, positions };
}

async function until(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const settle = () => new Promise((r) => setTimeout(r, 200));

describe('FileFollower', () => {
  it('starts at the end of an existing file and delivers new lines with the offset after each', async () => {
    const { path } = setup();
    writeFileSync(path, 'old 1\nold 2\n');
    const { f, lines, positions } = follow(path);
    await settle();
    appendFileSync(path, 'new 1\nnew 2\n');
    await until('two lines', () => lines.length === 2);
    expect(lines).toEqual(['new 1', 'new 2']);
    expect(positions.map((p) => p.offset)).toEqual([18, 24]);
    expect(f.position.offset).toBe(24);
  });

  it('reads a file that appears later from its start', async () => {
    const { path } = setup();
    const { lines } = follow(path);
    await settle();
    writeFileSync(path, 'first\nsecond\n');
    await until('both lines', () => lines.length === 2);
    expect(lines).toEqual(['first', 'second']);
  });

  it('holds back a partial line until its newline', async () => {
    const { path } = setup();
    writeFileSync(path, '');
    const { f, lines } = follow(path);
    await settle();
    appendFileSync(path, 'hal');
    await settle();
    expect(lines).toEqual([]);
    expect(f.position.offset).toBe(0);
    appendFileSync(path, 'f a line\n');
    await until('the line', () => lines.length === 1);
    expect(lines).toEqual(['half a line']);
  });

  it('follows a rename rotation: the rest of the old file, then the new one from its start', async () => {
    const { path } = setup();
    writeFileSync(path, '');
    const { lines } = follow(path);
    await settle();
    appendFileSync(path, 'a1\n');
    await until('a1', () => lines.length === 1);
    renameSync(path, `${path}.1`);
    appendFileSync(`${path}.1`, 'a2 written after the rename\n');
    writeFileSync(path, 'b1\nb2\n');
    await until('every line', () => lines.length === 4);
    expect(lines).toEqual(['a1', 'a2 written after the rename', 'b1', 'b2']);
  });

  it('starts again from the top after copytruncate', async () => {
    const { path } = setup();
    writeFileSync(path, '');
    const { lines } = follow(path);
    await settle();
    appendFileSync(path, 'one\ntwo\n');
    await until('two lines', () => lines.length === 2);
    truncateSync(path, 0);
    await settle();
    appendFileSync(path, 'three\n');
    await until('three', () => lines.length === 3);
    expect(lines).toEqual(['one', 'two', 'three']);
  });

  it('resumes from a saved position, also when the file was rotated meanwhile', async () => {
    const { path } = setup();
    writeFileSync(path, '');
    const first = follow(path);
    await settle();
    appendFileSync(path, 'l1\nl2\n');
    await until('l1, l2', () => first.lines.length === 2);
    await first.f.stop();
    const saved = first.positions[1]!;
    // While the agent is down: more lines, then a rotation and a new file.
    appendFileSync(path, 'l3\n');
    renameSync(path, `${path}.1`);
    writeFileSync(path, 'n1\n');
    const second = follow(path, saved);
    await until('l3 and n1', () => second.lines.length === 2);
    expect(second.lines).toEqual(['l3', 'n1']);
    // Same inode: only what came after the position.
    await second.f.stop();
    appendFileSync(path, 'n2\n');
    const third = follow(path, second.positions[1]);
    await until('n2', () => third.lines.length === 1);
    expect(third.lines).toEqual(['n2']);
  });

  it('cuts a line longer than the bound and counts it', async () => {
    const { path } = setup();
    writeFileSync(path, '');
    const { f, lines } = follow(path);
    await settle();
    appendFileSync(path, `${'x'.repeat(MAX_LINE_BYTES + 100_000)}\nafter\n`);
    await until('both', () => lines.length === 2);
    expect(lines[0]!.length).toBe(MAX_LINE_BYTES);
    expect(lines[1]).toBe('after');
    expect(f.linesTruncated).toBe(1);
  });

  it('reads what was written before stop, and nothing after', async () => {
    const { path } = setup();
    writeFileSync(path, '');
    const { f, lines } = follow(path);
    await settle();
    appendFileSync(path, 'last words\n');
    await f.stop();
    appendFileSync(path, 'too late\n');
    await settle();
    expect(lines).toEqual(['last words']);
  });
});
