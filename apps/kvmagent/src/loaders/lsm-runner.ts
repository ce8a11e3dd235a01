/**
 * Runs LSM operations in a child process (the built `lsm-worker.js`): the LSM libraries and their
 * dependencies take ~15 MB that the resident agent never needs between reconciles. Where the worker
 * is not built (tests run the TypeScript sources), the operation runs in this process instead.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LsmRequest, LsmResponse } from './lsm-operations.js';

export interface LsmRunner {
  run<R extends LsmRequest>(request: R): Promise<LsmResponse<R>>;
}

const WORKER = fileURLToPath(new URL('./lsm-worker.js', import.meta.url));

export function createLsmRunner(options: { timeoutMs?: number; inProcess?: boolean } = {}): LsmRunner {
  const timeoutMs = options.timeoutMs ?? 15 * 60_000;
  if (options.inProcess ?? !existsSync(WORKER)) {
    return {
      async run(request) {
        const { runLsmOperation } = await import('./lsm-operations.js');
        return (await runLsmOperation(request)) as LsmResponse<typeof request>;
      },
    };
  }
  return { run: (request) => runWorker(request, timeoutMs) };
}

function runWorker<R extends LsmRequest>(request: R, timeoutMs: number): Promise<LsmResponse<R>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let errBytes = 0;
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => {
      if (errBytes < 64 * 1024) err.push(c);
      errBytes += c.length;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`LSM worker could not start: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8').trim().split('\n').slice(0, 8).join(' | ');
      if (code !== 0) return reject(new Error(`LSM worker ${signal ? `killed by ${signal}${signal === 'SIGKILL' ? ` (timeout ${timeoutMs} ms?)` : ''}` : `exit code ${code}`}${stderr ? `: ${stderr}` : ''}`));
      try {
        resolve(JSON.parse(Buffer.concat(out).toString('utf8')) as LsmResponse<R>);
      } catch (e) {
        reject(new Error(`LSM worker gave no valid answer: ${(e as Error).message}`));
      }
    });
    child.stdin.end(JSON.stringify(request));
  });
}
