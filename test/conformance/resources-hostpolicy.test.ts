/**
 * Every upstream KubeArmorHostPolicy loads and round-trips; the files upstream gets wrong are
 * listed here with the field we name when we reject them.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkDocuments, parseDocuments, problemLines, toJson, toYaml } from '@kvmservice/resources';
import { conformanceDir, readConformanceFile } from '../support/conformance.js';
import { hostPolicyCrdValidator } from '../support/crd-schemas.js';

/** Upstream files that do not satisfy the CRD, and the field our rejection names. */
const UPSTREAM_MISTAKES: Record<string, string> = {
  // `dir: /usr/bin` without the trailing '/' (the non-k8s path never validated it).
  'test-nonk8s-hsp__hsp-block-process-dir-bin.yaml': "spec.process.matchDirectories[0].dir: must be an absolute directory path ending with '/'",
  // matchProtocols requires fromSource in host policies (CRD `required: [fromSource, protocol]`).
  'test-nonk8s-hsp__hsp-audit-network-protocol.yaml': 'spec.network.matchProtocols[0].fromSource: is required',
};

function hostPolicyFiles(): { dir: string; file: string }[] {
  const kubearmor = conformanceDir('kubearmor');
  const kvm = conformanceDir('kvm-service', 'examples');
  const files = [
    ...readdirSync(kubearmor).map((file) => ({ dir: kubearmor, file })),
    ...readdirSync(kvm).map((file) => ({ dir: kvm, file })),
  ];
  return files.filter(({ dir, file }) => {
    if (!file.endsWith('.yaml')) return false;
    return parseDocuments(readConformanceFile(dir, file), file).some(
      (d) => (d.object as { kind?: unknown } | undefined)?.kind === 'KubeArmorHostPolicy',
    );
  });
}

describe('upstream KubeArmorHostPolicy examples', () => {
  const files = hostPolicyFiles();

  it('finds the upstream examples', () => {
    // 10 examples, 10 SELinux examples, 6 docs, 12 non-k8s tests, 18 scenarios, 4 kvm-service examples.
    expect(files.length).toBeGreaterThanOrEqual(55);
    for (const name of Object.keys(UPSTREAM_MISTAKES)) expect(files.map((f) => f.file)).toContain(name);
  });

  it.each(hostPolicyFiles())('$file loads, or is a listed upstream mistake', ({ dir, file }) => {
    const text = readConformanceFile(dir, file);
    const problems = problemLines(checkDocuments(text, file));
    const expected = UPSTREAM_MISTAKES[file];
    if (expected === undefined) {
      expect(problems).toEqual([]);
    } else {
      expect(problems.length).toBeGreaterThan(0);
      expect(problems[0]).toContain(`KubeArmorHostPolicy/`);
      expect(problems[0]).toContain(expected);
    }
  });

  it.each(hostPolicyFiles().filter(({ file }) => !(file in UPSTREAM_MISTAKES)))('$file round-trips through YAML and JSON', ({ dir, file }) => {
    const objects = parseDocuments(readConformanceFile(dir, file), file).map((d) => d.object);
    const viaYaml = parseDocuments(toYaml(objects), 'yaml').map((d) => d.object);
    expect(viaYaml).toEqual(objects);
    const viaJson = objects.map((o) => parseDocuments(toJson([o]), 'json')[0]!.object);
    expect(viaJson).toEqual(objects);
  });

  it.each(hostPolicyFiles().filter(({ file }) => !(file in UPSTREAM_MISTAKES)))('$file satisfies the CRD schema (ajv)', ({ dir, file }) => {
    const validate = hostPolicyCrdValidator({ unknownFields: 'reject' });
    for (const doc of parseDocuments(readConformanceFile(dir, file), file)) {
      expect(validate(doc.object), JSON.stringify(validate.errors)).toBe(true);
    }
  });
});
