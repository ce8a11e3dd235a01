#!/usr/bin/env node
// Builds every workspace project (TypeScript project references) so that the `kvmctl`,
// `kvmservice` and `kvmagent` bins run right after `npm ci`. Runs as the root `prepare` script.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  // `npm ci --omit=dev` installs no compiler; a production install ships built output instead.
  console.error('kvmservice build: TypeScript is not installed; skipping the build');
  process.exit(0);
}
const generated = spawnSync(process.execPath, [join(root, 'scripts/generate-api.mjs')], { stdio: 'inherit', cwd: root });
if (generated.status !== 0) {
  console.error('kvmservice build: generating the API types from proto/ failed');
  process.exit(generated.status ?? 1);
}
const result = spawnSync(process.execPath, [tsc, '-b', join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
if (result.status !== 0) {
  console.error('kvmservice build: tsc -b failed');
  process.exit(result.status ?? 1);
}
// The single-file agent bundle kvmservice serves to its installer (GET /agent/kvmagent.tgz).
const bundle = spawnSync(process.execPath, [join(root, 'scripts/bundle-agent.mjs')], { stdio: ['ignore', 'ignore', 'inherit'], cwd: root });
if (bundle.status !== 0) {
  console.error('kvmservice build: bundling the agent failed');
  process.exit(bundle.status ?? 1);
}
