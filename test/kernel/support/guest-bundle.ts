/**
 * The guest driver as one ES module (esbuild, as scripts/bundle-agent.mjs bundles the agent):
 * the workspace libraries come from their TypeScript sources, so the VM runs the loader code of
 * this checkout.
 */
import { build } from 'esbuild';
import { join } from 'node:path';
import { repoRoot } from '../../support/conformance.js';

export async function bundleGuestDriver(outFile: string): Promise<void> {
  await build({
    entryPoints: [join(repoRoot, 'test', 'kernel', 'guest', 'driver.ts')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    conditions: ['development'],
    logLevel: 'error',
    banner: { js: "import { createRequire as __kvmCreateRequire } from 'node:module';\nconst require = __kvmCreateRequire(import.meta.url);" },
  });
}
