/** The installed bins run from the built output (`npm ci` builds it through `prepare`). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { conformanceDir, repoRoot } from '../support/conformance.js';

const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);

describe('bins', () => {
  it('kvmctl runs and validates a file', () => {
    const version = spawnSync(bin('kvmctl'), ['--version'], { encoding: 'utf8' });
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const file = join(conformanceDir('kubearmor'), 'test-nonk8s-hsp__hsp-block-process-dir-bin.yaml');
    const bad = spawnSync(bin('kvmctl'), ['validate', '-f', file], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('KubeArmorHostPolicy/hsp-block-process-dir: spec.process.matchDirectories[0].dir:');
  });
});
