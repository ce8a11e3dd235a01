/**
 * Entry point of the LSM worker process: one JSON request on stdin, one JSON response on stdout.
 * Started by `lsm-runner.ts` for every detection and reconcile, and gone afterwards.
 */
import { runLsmOperation, type LsmRequest } from './lsm-operations.js';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
try {
  const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LsmRequest;
  const response = await runLsmOperation(request);
  process.stdout.write(JSON.stringify(response));
} catch (e) {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
}
