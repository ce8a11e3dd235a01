import { runKvmctl } from './cli.js';
import { readLinesSync } from './line-reader.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// `kvmctl get … | head` closes the pipe early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const stop = new AbortController();
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // Streaming commands (get --watch, logs -f) end cleanly on the abort, with exit 0; anything
    // else still running a moment later, or a second Ctrl-C, ends the process as interrupted.
    if (interrupted) process.exit(130);
    interrupted = true;
    stop.abort();
    setTimeout(() => process.exit(130), 2000).unref();
  });
}

const code = await runKvmctl(process.argv.slice(2), {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  readStdin,
  stdinLines: (beforeRead) => readLinesSync(0, beforeRead),
  drain: () => (process.stdout.writableNeedDrain ? new Promise((resolve) => process.stdout.once('drain', resolve)) : Promise.resolve()),
  env: process.env,
  cwd: process.cwd(),
  signal: stop.signal,
  stderrIsTTY: process.stderr.isTTY === true,
});
process.exitCode = code;
// Open gRPC channels or stdin must not keep a finished command alive.
// Both streams are flushed first: on a pipe, process.exit drops what is still queued.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
