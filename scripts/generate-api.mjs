#!/usr/bin/env node
// Generates the TypeScript types of proto/kvmservice/v1 into libs/api/src/generated (not committed:
// build output). Loader options here must match LOADER_OPTIONS in libs/api/src/proto.ts.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'libs/api/src/generated');
// The generator must match the @grpc/proto-loader that libs/api imports.
const require = createRequire(join(root, 'libs/api/package.json'));
const generator = join(dirname(require.resolve('@grpc/proto-loader/package.json')), 'build/bin/proto-loader-gen-types.js');
rmSync(out, { recursive: true, force: true });
const result = spawnSync(
  process.execPath,
  [
    generator,
    '--longs=Number', '--enums=String', '--defaults', '--oneofs', '--includeComments',
    '--grpcLib=@grpc/grpc-js', '--importFileExtension=.js',
    '-I', join(root, 'proto'), '-O', out,
    'kvmservice/v1/agent.proto', 'kvmservice/v1/control.proto', 'kvmservice/v1/event.proto',
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
