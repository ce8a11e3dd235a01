/**
 * `kvmctl snapshot save` in-process, against a ControlService on loopback gRPC whose Snapshot
 * stream the test scripts (complete, truncated, failing, stalled, without its info), so every way a
 * transfer can go wrong is shown to leave FILE as it was. The command against a real kvmservice,
 * with the snapshot restored and read back, is test/e2e/snapshot.test.ts.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadKvmServiceProto, type SnapshotResponse } from '@kvmservice/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvmctl } from '../testing/run.js';
import { formatBytes } from './snapshot.js';

type Script = (call: grpc.ServerWritableStream<unknown, SnapshotResponse>) => void;

const CONTENT = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));

/** Sends `content` in 64 KiB chunks, the first with the info; `totalBytes` may lie. */
function sendFile(call: grpc.ServerWritableStream<unknown, SnapshotResponse>, content: Buffer, totalBytes = content.length): void {
  for (let at = 0; at < content.length; at += 65_536) {
    const chunk = content.subarray(at, at + 65_536);
    call.write(at === 0 ? { info: { backend: 'sqlite', revision: 42, totalBytes }, chunk } : { chunk });
  }
}

describe('kvmctl snapshot save', () => {
  let server: grpc.Server;
  let address = '';
  let script: Script = () => undefined;
  let dir = '';
  const run = (argv: string[], options: { stderrIsTTY?: boolean; signal?: AbortSignal } = {}) =>
    kvmctl(['snapshot', 'save', ...argv, '--server', address, '--insecure'], { ...options, cwd: dir });

  beforeAll(async () => {
    const proto = grpc.loadPackageDefinition(loadKvmServiceProto()) as unknown as {
      kvmservice: { v1: { ControlService: { service: grpc.ServiceDefinition } } };
    };
    server = new grpc.Server();
    server.addService(proto.kvmservice.v1.ControlService.service, {
      snapshot: (call: grpc.ServerWritableStream<unknown, SnapshotResponse>) => script(call),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    address = `127.0.0.1:${port}`;
    dir = mkdtempSync(join(tmpdir(), 'kvmctl-snapshot-'));
  });
  afterAll(() => server?.forceShutdown());

  it('writes the whole stream to FILE (0600, relative to the working directory) and says what it saved', async () => {
    script = (call) => {
      sendFile(call, CONTENT);
      call.end();
    };
    const r = await run(['saved.snap']);
    expect(r).toEqual({ code: 0, stdout: `snapshot saved to ${join(dir, 'saved.snap')}: backend sqlite, revision 42, 300000 bytes (293.0 KiB)\n`, stderr: '' });
    expect(readFileSync(join(dir, 'saved.snap')).equals(CONTENT)).toBe(true);
    expect(statSync(join(dir, 'saved.snap')).mode & 0o777).toBe(0o600);
    const json = await run(['saved.snap', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toEqual({ file: join(dir, 'saved.snap'), backend: 'sqlite', revision: 42, bytes: 300000 });
    expect(readdirSync(dir)).toEqual(['saved.snap']);
  });

  it('shows progress on a terminal only, and erases it', async () => {
    script = (call) => {
      sendFile(call, CONTENT);
      call.end();
    };
    const tty = await run(['tty.snap'], { stderrIsTTY: true });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toContain('\r\x1b[Ktaking the snapshot on the server…');
    expect(tty.stderr).toContain('\r\x1b[Kreceiving the sqlite snapshot: 293.0 KiB of 293.0 KiB (100%)');
    expect(tty.stderr.endsWith('\r\x1b[K')).toBe(true);
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });

  it.each<[string, Script, string]>([
    [
      'a stream shorter than announced',
      (call) => {
        sendFile(call, CONTENT.subarray(0, 100_000), CONTENT.length);
        call.end();
      },
      'the snapshot stream ended after 100000 of 300000 bytes; FILE not written',
    ],
    [
      'a server error in the middle',
      (call) => {
        sendFile(call, CONTENT.subarray(0, 100_000), CONTENT.length);
        call.emit('error', { code: grpc.status.INTERNAL, details: 'internal error (see the kvmservice log)' });
      },
      'internal error (see the kvmservice log)',
    ],
    [
      'data before the info',
      (call) => {
        call.write({ chunk: CONTENT.subarray(0, 10) });
        call.end();
      },
      'the server sent snapshot data before saying what it is (backend, revision, size)',
    ],
    ['a stream that ends without anything', (call) => call.end(), 'the server ended the snapshot without sending it; FILE not written'],
    [
      'a server that goes quiet (--request-timeout)',
      (call) => call.write({ info: { backend: 'etcd', revision: 7, totalBytes: 10 }, chunk: Buffer.alloc(0) }),
      `kvmservice at ADDRESS sent nothing for 1s (--request-timeout); FILE not written`,
    ],
  ])('leaves an existing FILE as it was after %s', async (_case, scripted, message) => {
    const file = join(dir, 'keep.snap');
    writeFileSync(file, 'the previous backup');
    script = scripted;
    const r = await kvmctl(['snapshot', 'save', 'keep.snap', '--server', address, '--insecure', '--request-timeout', '1s'], { cwd: dir });
    expect(r).toEqual({ code: 1, stdout: '', stderr: `error: ${message.replace('FILE', file).replace('ADDRESS', address)}\n` });
    expect(readFileSync(file, 'utf8')).toBe('the previous backup');
    expect(readdirSync(dir).sort()).toEqual(['keep.snap', 'saved.snap', 'tty.snap']);
  });

  it('stops on Ctrl-C without writing FILE', async () => {
    script = (call) => call.write({ info: { backend: 'etcd', revision: 7, totalBytes: 10 }, chunk: Buffer.from('12345') });
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    const r = await run(['interrupted.snap'], { signal: stop.signal });
    expect(r).toEqual({ code: 1, stdout: '', stderr: `error: interrupted: ${join(dir, 'interrupted.snap')} not written\n` });
    expect(readdirSync(dir)).not.toContain('interrupted.snap');
    expect(readdirSync(dir).filter((name) => name.endsWith('.part'))).toEqual([]);
  });

  it('refuses bad arguments before connecting', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['x.snap', '-o', 'yaml'])).code).toBe(2);
    const missing = await kvmctl(['snapshot', 'save', 'no/such/dir/x.snap', '--server', '127.0.0.1:1', '--insecure'], { cwd: dir });
    expect(missing).toEqual({ code: 1, stdout: '', stderr: `error: no/such/dir/x.snap: directory ${join(dir, 'no/such/dir')} does not exist\n` });
    const directory = await kvmctl(['snapshot', 'save', '.', '--server', '127.0.0.1:1', '--insecure'], { cwd: dir });
    expect(directory).toEqual({ code: 1, stdout: '', stderr: 'error: .: is a directory\n' });
    const unreachable = await kvmctl(['snapshot', 'save', 'x.snap', '--server', '127.0.0.1:1', '--insecure'], { cwd: dir });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^error: cannot reach kvmservice at 127\.0\.0\.1:1 \(--server 127\.0\.0\.1:1\): /);
    expect(readdirSync(dir)).not.toContain('x.snap');
  });
});
