/**
 * Renders the Helm chart without helm: test/support/helm/render.go (Go's text/template + sprig +
 * Helm's own functions, from Debian's Go packages, GOPATH mode, offline) is built once per process.
 * Values are checked against the chart's values.schema.json with ajv first, as helm does.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { repoRoot } from './conformance.js';
import { requireTool } from './tools.js';

export const chartDir = join(repoRoot, 'deploy', 'helm', 'kvmservice');

export interface RenderedObject {
  template: string;
  object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: unknown };
}

export type RenderResult =
  | { ok: true; values: Record<string, unknown>; manifests: RenderedObject[]; notes: string }
  | { ok: false; error: string };

let binary: string | undefined;

function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOFLAGS: '', GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'kvmservice-go-cache') };
}

export function helmRenderer(): string {
  if (binary) return binary;
  const go = requireTool('go', 'golang-go');
  const out = join(mkdtempSync(join(tmpdir(), 'helm-render-')), 'render');
  const build = spawnSync(go, ['build', '-o', out, join(repoRoot, 'test', 'support', 'helm', 'render.go')], { env: goEnv(), encoding: 'utf8', timeout: 300_000 });
  if (build.status !== 0) {
    throw new Error(`building the Helm renderer failed (needs golang-github-masterminds-sprig-dev and golang-k8s-sigs-yaml-dev): ${build.stderr}`);
  }
  binary = out;
  return out;
}

let schemaValidator: ReturnType<Ajv['compile']> | undefined;

/** Problems of the merged values against values.schema.json, as helm reports them. */
export function valuesSchemaProblems(values: unknown): string[] {
  if (!schemaValidator) {
    const ajv = new Ajv({ allErrors: true, strict: true });
    schemaValidator = ajv.compile(JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as object);
  }
  if (schemaValidator(values)) return [];
  return (schemaValidator.errors ?? []).map((e) => `${e.instancePath || '(root)'}: ${e.message ?? e.keyword}${e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})` : ''}`);
}

/** `helm template RELEASE chart -n NAMESPACE -f values` with schema validation. */
export function renderChart(values: Record<string, unknown> = {}, options: { release?: string; namespace?: string } = {}): RenderResult {
  const dir = mkdtempSync(join(tmpdir(), 'helm-values-'));
  const file = join(dir, 'values.json');
  writeFileSync(file, JSON.stringify(values));
  const args = ['-chart', chartDir, '-values', file, '-release', options.release ?? 'kvm', '-namespace', options.namespace ?? 'security'];
  const run = (extra: string[]) => spawnSync(helmRenderer(), [...args, ...extra], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  // As helm: merged values are checked against the schema before any template runs.
  const merged = run(['-values-only']);
  if (merged.status !== 0) return { ok: false, error: merged.stderr.trim() };
  const problems = valuesSchemaProblems((JSON.parse(merged.stdout) as { values: unknown }).values);
  if (problems.length > 0) return { ok: false, error: `values don't meet the specifications of the schema(s): ${problems.join('; ')}` };
  const rendered = run([]);
  if (rendered.status !== 0) return { ok: false, error: rendered.stderr.trim() };
  return { ok: true, ...(JSON.parse(rendered.stdout) as { values: Record<string, unknown>; manifests: RenderedObject[]; notes: string }) };
}
