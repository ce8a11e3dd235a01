#!/usr/bin/env node
// Builds the agent bundle that kvmservice serves at GET /agent/kvmagent.tgz and the installer
// (deploy/install/kvmagent.sh) unpacks: the agent and its LSM worker, each one self-contained
// ES module (esbuild), with the data files they read at run time. Plain `node` runs it; nothing
// else is needed on the host. The archive is reproducible (sorted, fixed owner and times), so
// rebuilding the same source gives the same sha256.
//
//   node scripts/bundle-agent.mjs [--out DIR]      (default dist/agent)
//
// kvmagent/package.json        version and "type": "module"
// kvmagent/lib/main.js         the agent (bin: node lib/main.js)
// kvmagent/lib/lsm-worker.js   worker thread that runs the loaders
// kvmagent/features/…          pinned AppArmor feature ABI (dry-run compiles)
// kvmagent/proto/…             the gRPC contract, read at start
// kvmagent/systemd/…           kvmagent.service, installed by the installer
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const outDir = resolve(values.out ?? join(root, 'dist', 'agent'));
const agentDir = join(root, 'apps', 'kvmagent');
const agentPackage = JSON.parse(readFileSync(join(agentDir, 'package.json'), 'utf8'));

function fail(message) {
  console.error(`bundle-agent: ${message}`);
  process.exit(1);
}

const entries = { main: join(agentDir, 'src', 'main.ts'), 'lsm-worker': join(agentDir, 'src', 'loaders', 'lsm-worker.ts') };
for (const [name, file] of Object.entries(entries)) if (!existsSync(file)) fail(`${name}: ${file} not found`);

const stage = mkdtempSync(join(tmpdir(), 'kvmagent-bundle-'));
const release = join(stage, 'kvmagent');
try {
  await build({
    entryPoints: entries,
    outdir: join(release, 'lib'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Workspace libraries from their TypeScript sources (the "development" export condition).
    conditions: ['development'],
    // CommonJS dependencies (grpc-js, protobufjs) call require(); ES modules have none. The proto
    // directory is the bundle's own (libs/api reads KVMSERVICE_PROTO_DIR).
    banner: {
      js: [
        "import { createRequire as __kvmCreateRequire } from 'node:module';",
        "import { fileURLToPath as __kvmFileURLToPath } from 'node:url';",
        'const require = __kvmCreateRequire(import.meta.url);',
        "process.env.KVMSERVICE_PROTO_DIR ??= __kvmFileURLToPath(new URL('../proto', import.meta.url));",
      ].join('\n'),
    },
    legalComments: 'linked',
    sourcemap: false,
    logLevel: 'warning',
  });
  writeFileSync(
    join(release, 'package.json'),
    `${JSON.stringify({ name: agentPackage.name, version: agentPackage.version, private: true, type: 'module', bin: { kvmagent: 'lib/main.js' }, engines: { node: '>=20' } }, null, 2)}\n`,
  );
  cpSync(join(root, 'libs', 'apparmor', 'features'), join(release, 'features'), { recursive: true });
  mkdirSync(join(release, 'systemd'), { recursive: true });
  cpSync(join(root, 'deploy', 'systemd', 'kvmagent.service'), join(release, 'systemd', 'kvmagent.service'));
  mkdirSync(join(release, 'proto'), { recursive: true });
  cpSync(join(root, 'proto', 'kvmservice'), join(release, 'proto', 'kvmservice'), { recursive: true });

  mkdirSync(outDir, { recursive: true });
  const tgz = join(outDir, 'kvmagent.tgz');
  const tar = spawnSync(
    'sh',
    ['-c', 'tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=u+rwX,go+rX,go-w -C "$1" -cf - kvmagent | gzip -n -9 > "$2"', 'tar', stage, tgz],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (tar.status !== 0) fail('tar | gzip failed');
  const sha256 = createHash('sha256').update(readFileSync(tgz)).digest('hex');
  writeFileSync(join(outDir, 'kvmagent.tgz.sha256'), `${sha256}  kvmagent.tgz\n`);
  console.log(`bundle-agent: ${tgz} (${readFileSync(tgz).length} bytes, sha256 ${sha256}, agent ${agentPackage.version})`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
