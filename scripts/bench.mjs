#!/usr/bin/env node
// `npm run bench`: builds, then runs every benchmark under test/perf (or the ones named on the
// command line). Benchmarks print ratios against a reference measured in the same run.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const perfDir = join(root, 'test/perf');
const wanted = process.argv.slice(2);
const benches = readdirSync(perfDir)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();
let failed = 0;
for (const bench of benches) {
  console.log(`\n== ${bench}`);
  const run = spawnSync(process.execPath, [join(perfDir, bench)], { stdio: 'inherit', cwd: root });
  if (run.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
