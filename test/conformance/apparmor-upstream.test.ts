/**
 * Every upstream KubeArmorHostPolicy that validates renders to AppArmor profiles that compile with
 * the real apparmor_parser (`-Q -K -M <pinned features>`), alone and all together on one host.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileAppArmorFiles, renderAppArmorProfiles, type AppArmorArtifact } from '@kvmservice/apparmor';
import { checkDocuments, normalizeHostPolicy, type KubeArmorHostPolicy, type NormalizedHostPolicy } from '@kvmservice/resources';
import { conformanceDir, readConformanceFile } from '../support/conformance.js';

interface Loaded {
  file: string;
  policies: NormalizedHostPolicy[];
  invalid: string[];
}

function upstreamHostPolicies(): Loaded[] {
  const sources = [conformanceDir('kubearmor'), conformanceDir('kvm-service', 'examples')];
  const out: Loaded[] = [];
  for (const dir of sources) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
      const checked = checkDocuments(readConformanceFile(dir, file), file).filter((d) => {
        const kind = d.result.valid ? d.result.kind.kind : d.result.kind;
        return kind === 'KubeArmorHostPolicy';
      });
      if (checked.length === 0) continue;
      out.push({
        file,
        policies: checked.flatMap((d) => (d.result.valid ? [normalizeHostPolicy(d.result.resource as unknown as KubeArmorHostPolicy)] : [])),
        invalid: checked.flatMap((d) => (d.result.valid ? [] : [d.location])),
      });
    }
  }
  return out;
}

describe('upstream host policies render to AppArmor profiles that compile', () => {
  const loaded = upstreamHostPolicies();
  const valid = loaded.filter((l) => l.policies.length > 0);
  const work = mkdtempSync(join(tmpdir(), 'apparmor-upstream-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  function write(dir: string, artifacts: AppArmorArtifact[]): string[] {
    return artifacts.map((a) => {
      const path = join(dir, a.fileName);
      writeFileSync(path, a.content);
      return path;
    });
  }

  it('finds the upstream policies (the two upstream mistakes do not validate)', () => {
    expect(valid.length).toBeGreaterThanOrEqual(55);
    expect(loaded.filter((l) => l.invalid.length > 0).map((l) => l.file)).toEqual([
      'test-nonk8s-hsp__hsp-audit-network-protocol.yaml',
      'test-nonk8s-hsp__hsp-block-process-dir-bin.yaml',
    ]);
  });

  it('renders and compiles each policy alone, and every posture', async () => {
    const files: string[] = [];
    let rendered = 0;
    for (const { file, policies } of valid) {
      for (const file_ of ['audit', 'block'] as const) {
        const render = renderAppArmorProfiles(policies, { name: 'kubearmor-dev' }, { postures: { file: file_, network: file_, capabilities: file_ } });
        const syscallOrDeviceOnly = policies.every((p) => p.rules.every((r) => r.class === 'syscall' || r.class === 'device' || r.class === 'dns'));
        if (syscallOrDeviceOnly) {
          expect(render.artifacts, file).toEqual([]);
          expect(render.unenforceable.length, file).toBeGreaterThan(0);
          continue;
        }
        expect(render.artifacts.length, file).toBeGreaterThan(0);
        rendered++;
        const dir = mkdtempSync(join(work, `${file.replace(/\.yaml$/, '')}-${file_}-`));
        files.push(...write(dir, render.artifacts));
      }
    }
    expect(rendered).toBeGreaterThanOrEqual(100);
    const results = await compileAppArmorFiles(files);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    console.log(`apparmor conformance: ${valid.length} upstream files valid, ${rendered} renders, ${files.length} profiles compiled`);
  });

  it('renders and compiles all of them together as one host (as kvmctl render without --hostname)', async () => {
    const all = valid.flatMap((l) => l.policies);
    const render = renderAppArmorProfiles(all, { name: 'kubearmor-dev' });
    const dir = mkdtempSync(join(work, 'all-'));
    const results = await compileAppArmorFiles(write(dir, render.artifacts));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const sources = new Set(all.flatMap((p) => p.rules.flatMap((r) => (r.class === 'process' || r.class === 'file' || r.class === 'network' || r.class === 'capability' ? r.fromSource : []))));
    expect(sources.size).toBeGreaterThanOrEqual(5);
    // The dispatcher plus one profile per fromSource binary.
    expect(render.artifacts.map((a) => a.name).sort()).toEqual(['kubearmor.host', ...[...sources].map((s) => `kubearmor_${s.replace(/[^A-Za-z0-9]/g, '')}`)].sort());
    // Syscall, USB device and DNS rules are reported, never silently dropped.
    const reported = new Set(render.unenforceable.map((u) => `${u.policy} ${u.field}`));
    for (const p of all) {
      for (const r of p.rules) if (r.class === 'syscall' || r.class === 'device' || r.class === 'dns') expect(reported).toContain(`${p.name} ${r.field}`);
    }
  });
});
