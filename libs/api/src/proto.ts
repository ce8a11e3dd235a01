import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

/** Options shared by servers, clients and the type generator (scripts/generate-api.mjs). */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

export const PROTO_FILES = ['kvmservice/v1/agent.proto', 'kvmservice/v1/control.proto', 'kvmservice/v1/event.proto'] as const;

/** The repository's `proto/` directory (beside `libs/`), or `KVMSERVICE_PROTO_DIR`. */
export function protoDir(): string {
  const fromEnv = process.env.KVMSERVICE_PROTO_DIR;
  if (fromEnv) return fromEnv;
  // src/ and dist/ are both two levels below the repository root's libs/api.
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'proto');
  if (!existsSync(join(dir, PROTO_FILES[0]))) throw new Error(`proto files not found in ${dir} (set KVMSERVICE_PROTO_DIR)`);
  return dir;
}

/** The kvmservice.v1 package definition for @grpc/grpc-js. */
export function loadKvmServiceProto(): protoLoader.PackageDefinition {
  return protoLoader.loadSync([...PROTO_FILES], { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
}
