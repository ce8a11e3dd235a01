/**
 * Bad-input corpus for policies (issue 11, point 2): ≥ 500 malformed or hostile documents
 * (`hostile-policies.ts`: wrong types, missing fields, AppArmor and CIL injection, huge documents,
 * deep nesting, YAML bombs, unknown fields, wrong kinds, duplicates, multi-document files) through
 * the three ways a policy enters the system:
 * (a) the built `kvmctl validate` binary over the whole corpus directory (its problem lines name
 *     the file, so one run checks every file), again over the accepted files, and alone on a
 *     sample per family (exit codes);
 * (b) ControlService Apply on a real kvmservice process (SQLite, TLS): each document in one apply
 *     with a new valid object and an update of an existing one; a refusal must leave the store
 *     byte for byte as it was (List revision and canonical content of every kind), name the
 *     object and the field, and never be INTERNAL or a hang;
 * (c) the AppArmor and SELinux renderers on what was accepted: no line or quoted string the
 *     policy did not ask for (the checks of apparmor-property and selinux-corpus), compiled with
 *     the real apparmor_parser.
 * Product bugs found here are not worked around: each check collects its violations and the test
 * fails listing them.
 */
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlClient, unary, type ControlServiceClient } from '@kvmservice/api';
import { compileAppArmorFiles, renderAppArmorProfiles, type AppArmorRender, type Postures } from '@kvmservice/apparmor';
import { checkDocuments, normalizeHostPolicy, validateResource, type KubeArmorHostPolicy, type NormalizedHostPolicy } from '@kvmservice/resources';
import { createPrivateStore, leaves, linkSelinuxModules, parseCil, renderSelinuxModule, type CilNode, type RenderedSelinuxModule } from '@kvmservice/selinux';
import { KVMCTL_BIN, killAllProcesses, mapLimit, requireBuilt, ServiceProcess, tempDir } from '../support/fleet-processes.js';
import { requireTool } from '../support/tools.js';
import { FAMILIES, MARKER, hostPolicy, hostileCorpus, type HostileDocument } from './hostile-policies.js';
import { appArmorRenderProblems } from '../support/apparmor-render-checks.js';

const { documents, counts } = hostileCorpus(Number(process.env.KVM_HOSTILE_SEED ?? 20250611));
const fileOf = (d: HostileDocument) => `${d.id}.${d.format === 'json' ? 'json' : 'yaml'}`;
/** A problem line this long is no longer "one clear line". */
const MAX_LINE = 4096;

// --- Shared state between the three paths ---------------------------------------------------------

interface Outcome {
  validateAccepted?: boolean;
  applyAccepted?: boolean;
  applyCode?: string;
}
const outcomes = new Map<string, Outcome>(documents.map((d) => [d.id, {}]));
const figures = {
  validateRuns: 0,
  validateRejected: 0,
  validateAccepted: 0,
  applyRejected: 0,
  applyAccepted: 0,
  partial: -1,
  renders: 0,
  profiles: 0,
  compiled: 0,
  cilModules: 0,
  linked: 0,
  ms: { validate: 0, apply: 0, render: 0, compile: 0, link: 0 },
};

// --- Helpers ---------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** What the user owns of an object: no status, no server-set metadata, no empty label maps. */
function userPart(object: Json): Json {
  const { status: _status, metadata, ...rest } = object;
  const meta = { ...(metadata as Json) };
  for (const k of ['uid', 'resourceVersion', 'generation', 'creationTimestamp']) delete meta[k];
  for (const k of ['labels', 'annotations']) if (meta[k] !== undefined && Object.keys(meta[k] as Json).length === 0) delete meta[k];
  return { ...rest, metadata: meta };
}

/** `field` or a field below it, as a problem names it: `…: field: reason`, `…: field.x…`, `…: field[0]…`. */
function namesField(line: string, field: string): boolean {
  if (field === '') return true;
  for (const after of [': ', '.', '[']) if (line.includes(`: ${field}${after}`) || line.startsWith(`${field}${after}`)) return true;
  return false;
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Runs the kvmctl bin. Its output goes to files, as with `kvmctl … > out 2> problems`: on a pipe
 * kvmctl loses problem lines (see the pipe test below), which would hide what this test checks.
 */
function run(args: string[], cwd: string, options: { pipe?: boolean; timeoutMs?: number } = {}): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const n = figures.validateRuns++;
  const outFile = join(cwd, `kvmctl-${n}.out`);
  const errFile = join(cwd, `kvmctl-${n}.err`);
  const fds = options.pipe ? undefined : [openSync(outFile, 'w'), openSync(errFile, 'w')];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KVMCTL_BIN, ...args], { cwd, env: { ...process.env, KVMCTL_NO_PROGRESS: '1' }, stdio: ['ignore', fds?.[0] ?? 'pipe', fds?.[1] ?? 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    // A reader slower than kvmctl writes, as `| less` or a CI log collector may be.
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      child.stderr!.pause();
      setTimeout(() => child.stderr!.resume(), 5);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (fds) {
        for (const fd of fds) closeSync(fd);
        stdout = readFileSync(outFile, 'utf8');
        stderr = readFileSync(errFile, 'utf8');
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Signs of a crash in any output: stack frames, V8 limits, internal errors. */
function crashSign(text: string): string | undefined {
  const m = /(\n\s+at \S+ \(|Maximum call stack|internal error|TypeError|ReferenceError|RangeError|heap out of memory)/.exec(text);
  return m?.[1];
}

// --- The tests -------------------------------------------------------------------------------------

describe('hostile policies: kvmctl validate, ControlService Apply, renderers', () => {
  const work = tempDir('kvm-hostile-');
  const corpusDir = join(work, 'corpus');

  beforeAll(() => {
    requireBuilt();
    mkdirSync(corpusDir);
    for (const d of documents) writeFileSync(join(corpusDir, fileOf(d)), d.text);
  });

  afterAll(() => {
    killAllProcesses();
    const families = FAMILIES.map((f) => `${f} ${counts[f]}`).join(', ');
    const cil = `${figures.cilModules} CIL modules, ${figures.linked} linked by semodule`;
    console.log(
      `hostile policies: ${documents.length} documents (families: ${families}), ` +
        `validate: ${figures.validateRejected} rejected / ${figures.validateAccepted} accepted in ${figures.validateRuns} kvmctl runs (${figures.ms.validate} ms), ` +
        `apply: ${figures.applyRejected} rejected, ${figures.partial < 0 ? '?' : figures.partial} partial, ${figures.applyAccepted} accepted (${figures.ms.apply} ms), ` +
        `renders: ${figures.renders} (${figures.profiles} AppArmor profiles, ${figures.compiled} compiled by apparmor_parser in ${figures.ms.compile} ms; ${cil} in ${figures.ms.link} ms) (${figures.ms.render} ms)`,
    );
  });

  it('is a corpus of at least 500 documents covering every family', () => {
    expect(documents.length).toBeGreaterThanOrEqual(500);
    for (const f of FAMILIES) expect(counts[f], f).toBeGreaterThanOrEqual(10);
    expect(new Set(documents.map((d) => d.id)).size).toBe(documents.length);
    // The objects the families mutate are valid to begin with, so each document's problem is its own.
    expect(validateResource(hostPolicy('base')).valid).toBe(true);
  });

  it('has render checks that catch an injected rule or statement', () => {
    const policy = normalizeHostPolicy(hostPolicy('self-check', { file: { matchPaths: [{ path: '/srv/x' }] } }) as unknown as KubeArmorHostPolicy);
    const render = renderAppArmorProfiles([policy], { name: 'hostile-host' });
    const clean: string[] = [];
    checkAppArmor(render, [policy], [], 'self-check', clean);
    expect(clean).toEqual([]);
    for (const injected of [`  ${MARKER} rw,`, '  "/etc/shadow" rw,', '  change_profile -> unconfined,']) {
      const out: string[] = [];
      const artifact = { ...render.artifacts[0]!, content: render.artifacts[0]!.content.replace('\n}', `\n${injected}\n}`) };
      checkAppArmor({ ...render, artifacts: [artifact] }, [policy], [], 'self-check', out);
      expect(out.length, injected).toBeGreaterThan(0);
    }
    const module = renderSelinuxModule([policy], { name: 'hostile-host' });
    const cleanCil: string[] = [];
    checkCil(module, [policy], 'self-check', cleanCil);
    expect(cleanCil).toEqual([]);
    for (const injected of ['(blockinherit x)', '(allow a b (file (read)) "x")', '(type kvm-injected-marker)', '(type x)\r', ')']) {
      const out: string[] = [];
      checkCil({ ...module, module: `${module.module}\n${injected}\n` }, [policy], 'self-check', out);
      expect(out.length, injected).toBeGreaterThan(0);
    }
  });

  it('(a) kvmctl validate refuses every bad file with one line per problem naming file, object and field; exit 1, never a crash', { timeout: 240_000 }, async () => {
    const started = Date.now();
    const violations: string[] = [];
    const all = await run(['validate', '-f', 'corpus'], work);
    if (all.code !== 1) violations.push(`validate over the corpus: exit ${all.code} (signal ${all.signal}), want 1`);
    const crash = crashSign(all.stderr) ?? crashSign(all.stdout);
    if (crash) violations.push(`validate over the corpus printed a crash sign: ${crash}`);

    // Problem lines, each attributed to its file by the location it starts with.
    const byFile = new Map<string, string[]>();
    const files = new Map(documents.map((d) => [`corpus/${fileOf(d)}`, d]));
    for (const line of all.stderr.split('\n')) {
      if (line === '') continue;
      if (line.length > MAX_LINE) violations.push(`problem line of ${line.length} characters: ${line.slice(0, 160)}…`);
      const m = /^(corpus\/[a-z-]+-\d{3}\.(?:yaml|json))(#\d+)?( items\[\d+\])?[ :]/.exec(line);
      const doc = m ? files.get(m[1]!) : undefined;
      if (!doc) {
        violations.push(`problem line that names no corpus file: ${JSON.stringify(line.slice(0, 200))}`);
        continue;
      }
      byFile.set(doc.id, [...(byFile.get(doc.id) ?? []), line]);
    }
    const validLines = new Set(all.stdout.split('\n').filter((l) => l !== ''));

    for (const d of documents) {
      const lines = byFile.get(d.id) ?? [];
      const accepted = lines.length === 0;
      outcomes.get(d.id)!.validateAccepted = accepted;
      if (accepted) figures.validateAccepted++;
      else figures.validateRejected++;
      const what = `${d.id} (${d.note})`;
      if (d.expect.verdict === 'invalid' && accepted) violations.push(`${what}: accepted, must be refused${d.expect.field ? ` naming ${d.expect.field}` : ''}`);
      if (d.expect.verdict === 'valid' && !accepted) violations.push(`${what}: refused, must be accepted: ${lines[0]}`);
      if (accepted) {
        // Every object of an accepted file is reported valid on stdout.
        for (const w of d.wire) {
          const o = parseJson(w);
          const name = isObject(o) && isObject(o.metadata) ? o.metadata.name : undefined;
          const kind = isObject(o) && typeof o.kind === 'string' ? o.kind.toLowerCase() : undefined;
          if (!validLines.has(`${kind}/${String(name)} valid`)) violations.push(`${what}: accepted but ${kind}/${String(name)} not reported valid`);
        }
        continue;
      }
      // The refused object and field are named on a line of the right document.
      const location = `corpus/${fileOf(d)}${d.locations[(d.expect.object ?? 1) - 1] ?? ''}`;
      const field = d.expect.field ?? '';
      const ofObject = lines.filter((l) => l.startsWith(`${location} `) || l.startsWith(`${location}:`));
      if (d.expect.verdict === 'either') {
        if (field !== '' && !lines.some((l) => namesField(l, field))) violations.push(`${what}: refused without naming ${field}: ${lines[0]}`);
        continue;
      }
      if (ofObject.length === 0) {
        violations.push(`${what}: no problem line for ${location}: ${lines[0]}`);
        continue;
      }
      const documentLevel = (l: string) => l.startsWith(`${location}: `);
      const named = ofObject.some((l) => namesField(l, field) && (d.expect.reason ? d.expect.reason.test(l) : true));
      const acceptable = named || (d.expect.documentLevel === true && ofObject.some(documentLevel));
      if (!acceptable) violations.push(`${what}: ${location} refused without naming ${field || 'the object'}${d.expect.reason ? ` (${d.expect.reason})` : ''}: ${ofObject[0]!.slice(0, 300)}`);
      // An object-level problem names the object (Kind/name) after the location.
      for (const l of ofObject) {
        if (!documentLevel(l) && !/^\S+( items\[\d+\])? [^:]*\/[^:]*: /.test(l)) violations.push(`${what}: line names no object: ${l.slice(0, 200)}`);
      }
    }

    // The files validate accepted, on their own: exit 0, no problem lines.
    const acceptedDir = join(work, 'accepted');
    mkdirSync(acceptedDir);
    const accepted = documents.filter((d) => outcomes.get(d.id)!.validateAccepted);
    for (const d of accepted) copyFileSync(join(corpusDir, fileOf(d)), join(acceptedDir, fileOf(d)));
    if (accepted.length > 0) {
      const again = await run(['validate', '-f', 'accepted'], work);
      if (again.code !== 0 || again.stderr !== '') violations.push(`validate over the accepted files: exit ${again.code}, stderr ${again.stderr.slice(0, 300)}`);
    }

    // Alone, one refused file of every family: exit 1, every line naming the file (exit 0 for
    // accepted files is the run over the accepted directory above).
    const sample = FAMILIES.map((f) => documents.find((d) => d.family === f && !outcomes.get(d.id)!.validateAccepted)).filter((d): d is HostileDocument => d !== undefined);
    await mapLimit(sample, 2, async (d) => {
      const r = await run(['validate', '-f', `corpus/${fileOf(d)}`], work);
      const want = outcomes.get(d.id)!.validateAccepted ? 0 : 1;
      if (r.code !== want) violations.push(`${d.id} alone: exit ${r.code}, want ${want}: ${r.stderr.slice(0, 200)}`);
      if (want === 1 && r.stderr.split('\n').some((l) => l !== '' && !l.startsWith(`corpus/${fileOf(d)}`))) violations.push(`${d.id} alone: a line that does not name the file: ${r.stderr.slice(0, 200)}`);
    });
    // On a pipe read slower than it writes, kvmctl must not lose problem lines either (the refused
    // files but the slow huge ones: well over the 64 KiB a pipe buffers).
    const pipedDir = join(work, 'piped');
    mkdirSync(pipedDir);
    const pipedDocs = documents.filter((d) => !outcomes.get(d.id)!.validateAccepted && d.family !== 'huge' && d.family !== 'deep-nesting');
    for (const d of pipedDocs) copyFileSync(join(corpusDir, fileOf(d)), join(pipedDir, fileOf(d)));
    const piped = await run(['validate', '-f', 'piped'], work, { pipe: true });
    const pipedLines = piped.stderr.split('\n').filter((l) => l !== '').length;
    const wantLines = pipedDocs.reduce((n, d) => n + (byFile.get(d.id)?.length ?? 0), 0);
    if (pipedLines !== wantLines) violations.push(`kvmctl validate LOST PROBLEM LINES on a pipe: ${pipedLines} of ${wantLines} lines arrived (${piped.stderr.length} bytes), exit ${piped.code}`);
    // Usage errors are 2; a missing file is not a usage error.
    for (const [args, want] of [[['validate'], 2], [['validate', '-f', 'corpus', '--no-such-flag'], 2], [['validate', '-f', 'corpus/no-such-file.yaml'], 1]] as const) {
      const r = await run([...args], work);
      if (r.code !== want) violations.push(`kvmctl ${args.join(' ')}: exit ${r.code}, want ${want}`);
    }
    figures.ms.validate = Date.now() - started;
    expect(violations, violations.slice(0, 60).join('\n')).toEqual([]);
  });

  it('(b) ControlService Apply refuses every bad object with the store unchanged, naming object and field; never INTERNAL, never a hang', { timeout: 300_000 }, async () => {
    const started = Date.now();
    const violations: string[] = [];
    const cp = await ServiceProcess.start({ name: 'kvmservice-hostile' });
    let client: ControlServiceClient = createControlClient({ address: cp.address, caPem: cp.caPem, token: cp.adminToken });
    const KINDS = ['KubeArmorVirtualMachine', 'KubeArmorHostPolicy', 'CiliumClusterwideNetworkPolicy', 'CiliumNetworkPolicy', 'DiscoveredPolicy'];

    /** Every object of every kind, canonically, and the store revision (equal across the lists). */
    const snapshot = async (): Promise<{ revision: string; content: Map<string, Json>; text: string }> => {
      const content = new Map<string, Json>();
      const revisions = new Set<string>();
      for (const kind of KINDS) {
        let continueToken = '';
        do {
          const page = await unary(client.list.bind(client), { kind, labelSelector: '', limit: 200, continueToken }, 30_000);
          if (continueToken === '') revisions.add(page.resourceVersion);
          for (const item of page.items) {
            const o = JSON.parse(item) as Json;
            content.set(`${kind}/${(o.metadata as Json).name as string}`, o);
          }
          continueToken = page.continueToken;
        } while (continueToken !== '');
      }
      if (revisions.size !== 1) throw new Error(`store revision moved while listing: ${[...revisions].join(', ')}`);
      const text = [...content.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k} ${canonical(v)}`).join('\n');
      return { revision: [...revisions][0]!, content, text };
    };

    const companion = (name: string, i: number) => JSON.stringify(hostPolicy(name, { file: { matchPaths: [{ path: `/srv/companion/${i}` }] }, action: 'Audit' }));
    await unary(client.apply.bind(client), { objects: [companion('companion-existing', -1)], dryRun: false });
    let before = await snapshot();
    let partial = 0;
    const codes = new Map<string, number>();

    for (const [i, d] of documents.entries()) {
      const what = `${d.id} (${d.note})`;
      // The corpus objects first, between, or after a new object and an update of an existing one.
      const fresh = companion(`companion-new-${i}`, i);
      const update = companion('companion-existing', i);
      const position = i % 3;
      const objects = position === 0 ? [...d.wire, fresh, update] : position === 1 ? [fresh, ...d.wire, update] : [fresh, update, ...d.wire];
      const offset = position === 0 ? 0 : position === 1 ? 1 : 2;
      let error: { code: number; details: string } | undefined;
      try {
        await unary(client.apply.bind(client), { objects, dryRun: false }, 20_000);
      } catch (e) {
        error = e as { code: number; details: string };
      }
      const codeName = error ? (GrpcStatus[error.code] ?? String(error.code)) : 'OK';
      codes.set(codeName, (codes.get(codeName) ?? 0) + 1);
      outcomes.get(d.id)!.applyAccepted = error === undefined;
      outcomes.get(d.id)!.applyCode = codeName;
      if (error && error.code === GrpcStatus.DEADLINE_EXCEEDED) {
        // No answer at all: the channel may be stuck, so the next document gets a new one.
        client.close();
        client = createControlClient({ address: cp.address, caPem: cp.caPem, token: cp.adminToken });
      }
      const after = await snapshot();

      if (error) {
        figures.applyRejected++;
        if (after.revision !== before.revision || after.text !== before.text) {
          violations.push(`${what}: PARTIAL APPLY: refused (${codeName}) but the store changed (revision ${before.revision} → ${after.revision})`);
          before = after;
        } else {
          partial++;
        }
        if (![GrpcStatus.INVALID_ARGUMENT, GrpcStatus.ABORTED].includes(error.code)) {
          violations.push(`${what}: refused with ${codeName}, want INVALID_ARGUMENT: ${String(error.details).slice(0, 200)}`);
          continue;
        }
        if (d.expect.verdict === 'valid') violations.push(`${what}: refused, must be accepted: ${error.details.slice(0, 300)}`);
        const lines = error.details.split('\n');
        if (error.details.length > 64 * 1024) violations.push(`${what}: refusal of ${error.details.length} characters`);
        for (const l of lines) {
          if (l.length > MAX_LINE) violations.push(`${what}: refusal line of ${l.length} characters: ${l.slice(0, 160)}…`);
          // The one line that is not a problem: the count of those beyond the server's 16 KiB cap.
          if (!/^(object \d+[ :]|[A-Za-z]+\/[a-z0-9.-]+: |… and \d+ more problem lines$)/.test(l)) violations.push(`${what}: refusal line names no object: ${JSON.stringify(l.slice(0, 200))}`);
        }
        // The refused object, by position in the apply, and the field.
        const index = offset + (d.expect.object ?? 1);
        const wireText = objects[index - 1]!;
        const field = d.expect.field ?? '';
        const ofObject = lines.filter((l) => l.startsWith(`object ${index} `) || l.startsWith(`object ${index}:`));
        const parsed = parseJson(wireText);
        if (d.expect.verdict === 'either') {
          if (field !== '' && !lines.some((l) => namesField(l, field))) violations.push(`${what}: refused without naming ${field}: ${lines[0]!.slice(0, 300)}`);
        } else if (parsed === undefined) {
          if (!ofObject.some((l) => /^object \d+: not valid JSON/.test(l))) violations.push(`${what}: raw text refused without naming object ${index}: ${lines[0]!.slice(0, 200)}`);
        } else if (field === '') {
          // Object-level (duplicates, limits): the object is named by position or Kind/name.
          const o = isObject(parsed) ? parsed : {};
          const id = `${String(o.kind)}/${String(isObject(o.metadata) ? o.metadata.name : '')}`;
          if (ofObject.length === 0 && !lines.some((l) => l.includes(id))) violations.push(`${what}: refused without naming object ${index} or ${id}: ${lines[0]!.slice(0, 200)}`);
        } else if (!ofObject.some((l) => namesField(l, field) && (d.expect.reason ? d.expect.reason.test(l) : true))) {
          violations.push(`${what}: object ${index} refused without naming ${field}: ${(ofObject[0] ?? lines[0]!).slice(0, 300)}`);
        }
      } else {
        figures.applyAccepted++;
        if (d.expect.verdict === 'invalid') violations.push(`${what}: ACCEPTED by the server, must be refused naming ${d.expect.field || 'the object'}`);
        // Stored as sent, with both companions.
        for (const text of objects) {
          const sent = JSON.parse(text) as Json;
          const key = `${String(sent.kind)}/${String((sent.metadata as Json).name)}`;
          const stored = after.content.get(key);
          if (!stored) violations.push(`${what}: accepted, but ${key} is not stored`);
          else if (canonical(userPart(stored)) !== canonical(userPart(sent))) violations.push(`${what}: ${key} stored differently from what was sent`);
        }
        before = after;
      }
    }
    figures.applyRejected = documents.length - figures.applyAccepted;
    figures.partial = documents.length - figures.applyAccepted - partial;

    // Validate and the server agree on every document.
    for (const d of documents) {
      const o = outcomes.get(d.id)!;
      if (o.validateAccepted !== undefined && o.validateAccepted !== o.applyAccepted) {
        violations.push(`${d.id} (${d.note}): kvmctl validate ${o.validateAccepted ? 'accepts' : 'refuses'} it, the server ${o.applyAccepted ? 'accepts' : `refuses (${o.applyCode})`}`);
      }
    }

    // The service survived: running, ready, answering, and it logged no internal error.
    expect(cp.running, 'kvmservice still running').toBe(true);
    expect((await fetch(`http://127.0.0.1:${cp.httpPort}/readyz`)).status).toBe(200);
    await snapshot();
    const internal = cp.output.filter((l) => /internal error|"level":(50|60)/.test(l));
    if (internal.length > 0) violations.push(`kvmservice logged ${internal.length} internal errors: ${internal[0]!.slice(0, 300)}`);
    client.close();
    await cp.stop();
    cp.close();
    figures.ms.apply = Date.now() - started;
    console.log(`apply outcomes: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`);
    expect(violations, violations.slice(0, 60).join('\n')).toEqual([]);
  });

  it('(c) what is accepted renders into AppArmor profiles and CIL modules with no rule the policy did not ask for', { timeout: 300_000 }, async () => {
    requireTool('apparmor_parser', 'apparmor');
    requireTool('semodule', 'semodule-utils');
    const started = Date.now();
    const violations: string[] = [];
    const renderDir = join(work, 'profiles');
    mkdirSync(renderDir);
    // What the control plane would render: what the server stored (when this runs alone: what validation accepts).
    const accepted = documents.filter((d) => outcomes.get(d.id)!.applyAccepted ?? outcomes.get(d.id)!.validateAccepted ?? checkDocuments(d.text, d.id).every((c) => c.result.valid));
    const rendered: { id: string; policies: NormalizedHostPolicy[]; binaries: string[]; cil: RenderedSelinuxModule }[] = [];
    for (const d of accepted) {
      const policies: NormalizedHostPolicy[] = [];
      const binaries: string[] = [];
      for (const text of d.wire) {
        const checked = validateResource(parseJson(text));
        if (!checked.valid) continue;
        const object = checked.resource as unknown as Json;
        const spec = object.spec as Json | undefined;
        if (checked.kind.kind === 'KubeArmorHostPolicy') policies.push(normalizeHostPolicy(object as unknown as KubeArmorHostPolicy));
        // A DiscoveredPolicy's policy renders once it is put in force (Active) or activated later.
        if (checked.kind.kind === 'DiscoveredPolicy' && (spec?.policy as Json).kind === 'KubeArmorHostPolicy') policies.push(normalizeHostPolicy(spec!.policy as unknown as KubeArmorHostPolicy));
        if (checked.kind.kind === 'KubeArmorVirtualMachine') binaries.push(...(((spec?.learning as Json | undefined)?.binaries as string[] | undefined) ?? []));
      }
      if (policies.length === 0 && binaries.length === 0) continue;
      const where = `${d.id} (${d.note})`;
      for (const postures of [undefined, { file: 'block', network: 'block', capabilities: 'block' } as Postures]) {
        const render = renderAppArmorProfiles(policies, { name: 'hostile-host' }, { ...(postures ? { postures } : {}), learning: { binaries } });
        figures.renders++;
        checkAppArmor(render, policies, binaries, where, violations);
      }
      // One SELinux module per document (its own host name, so that all link in one transaction).
      const cil = renderSelinuxModule(policies, { name: `h-${d.id}` }, { learning: { binaries } });
      figures.renders++;
      checkCil(cil, policies, where, violations);
      rendered.push({ id: d.id, policies, binaries, cil });
    }

    // Compiled by the real parser five documents to a host, so that rules of different policies
    // meet in one profile as they do on a host.
    const files: string[] = [];
    for (let g = 0; g * 5 < rendered.length; g++) {
      const group = rendered.slice(g * 5, g * 5 + 5);
      const binaries = [...new Set(group.flatMap((r) => r.binaries))];
      const render = renderAppArmorProfiles(group.flatMap((r) => r.policies), { name: 'hostile-host' }, { learning: { binaries } });
      figures.renders++;
      checkAppArmor(render, group.flatMap((r) => r.policies), binaries, `group ${group.map((r) => r.id).join(' ')}`, violations);
      files.push(...writeProfiles(render, renderDir, `g${g}`));
    }
    figures.profiles = files.length;
    const compileStarted = Date.now();
    const compiled = await compileAppArmorFiles(files, { timeoutMs: 120_000 });
    figures.ms.compile = Date.now() - compileStarted;
    figures.compiled = compiled.filter((c) => c.ok).length;
    for (const c of compiled.filter((x) => !x.ok)) violations.push(`apparmor_parser refuses ${c.file}: ${c.message.slice(0, 300)}`);

    // Everything on one host: checked line by line (compiling it would take the parser minutes per profile).
    const everything = rendered.flatMap((r) => r.policies);
    const binaries = [...new Set(rendered.flatMap((r) => r.binaries))].slice(0, 64);
    const all = renderAppArmorProfiles(everything, { name: 'hostile-host' }, { learning: { binaries } });
    figures.renders++;
    checkAppArmor(all, everything, binaries, 'all accepted policies on one host', violations);
    const names = all.artifacts.map((a) => a.name);
    if (new Set(names).size !== names.length) violations.push(`all accepted policies on one host: profile names collide: ${names.filter((n, i) => names.indexOf(n) !== i).join(', ')}`);
    const clean = rendered.filter((r) => r.cil.problems.length === 0);
    checkCil(renderSelinuxModule(clean.flatMap((r) => r.policies), { name: 'hostile-host' }), clean.flatMap((r) => r.policies), 'all SELinux-renderable policies on one host', violations);

    // Every module links against Debian's refpolicy, in one semodule transaction.
    const modules = clean.filter((r) => r.cil.module !== '').map((r) => r.cil);
    const store = createPrivateStore();
    const linkStarted = Date.now();
    try {
      const linked = await linkSelinuxModules(modules, { root: store.root, timeoutMs: 240_000 });
      figures.ms.link = Date.now() - linkStarted;
      if (!linked.ok) violations.push(`semodule refuses the rendered modules: ${String(linked.error).slice(0, 400)}`);
      else figures.linked = modules.length;
    } finally {
      store.dispose();
    }
    figures.ms.render = Date.now() - started;
    expect(figures.renders).toBeGreaterThan(100);
    expect(violations, violations.slice(0, 60).join('\n')).toEqual([]);
  });
});

// --- Render checks (after test/corpus/apparmor-property.test.ts and selinux-corpus.test.ts) -------

function writeProfiles(render: AppArmorRender, dir: string, id: string): string[] {
  const sub = join(dir, id);
  mkdirSync(sub, { recursive: true });
  return render.artifacts.map((a) => {
    const file = join(sub, a.fileName);
    writeFileSync(file, a.content);
    return file;
  });
}

function checkAppArmor(render: AppArmorRender, policies: NormalizedHostPolicy[], binaries: string[], where: string, out: string[]): void {
  out.push(...appArmorRenderProblems(render, policies, { binaries, where }));
  // Native rules are never rendered by default; they are reported instead.
  for (const p of policies) {
    if (p.apparmor !== undefined && p.apparmor.trim() !== '' && !render.unenforceable.some((u) => u.policy === p.name && u.field === 'spec.apparmor')) {
      out.push(`${where}: spec.apparmor of ${p.name} neither rendered nor reported`);
    }
  }
  for (const u of render.unenforceable) {
    if (u.policy !== '' && !policies.some((p) => p.name === u.policy)) out.push(`${where}: unenforceable rule of an unknown policy ${u.policy}`);
    if (!/^spec\./.test(u.field)) out.push(`${where}: unenforceable rule without a field: ${JSON.stringify(u)}`);
  }
}

const STATEMENTS = new Set(['classpermission', 'classpermissionset', 'type', 'roletype', 'typeattribute', 'typeattributeset', 'allow', 'auditallow', 'typetransition', 'filecon', 'typepermissive']);
const ATOM = /^[A-Za-z0-9_]+$/;

function checkCil(result: RenderedSelinuxModule, policies: NormalizedHostPolicy[], where: string, out: string[]): void {
  for (const p of result.problems) {
    if (!policies.some((x) => x.name === p.policy) && p.policy !== '') out.push(`${where}: SELinux problem of an unknown policy: ${JSON.stringify(p)}`);
    if (!/^spec\./.test(p.field)) out.push(`${where}: SELinux problem without a field: ${JSON.stringify(p)}`);
  }
  if (result.module === '') return;
  figures.cilModules++;
  const text = Buffer.from(result.module, 'utf8').toString('utf8');
  const parsed = parseCil(text);
  if (!Array.isArray(parsed)) {
    out.push(`${where}: CIL does not parse: ${parsed.error}`);
    return;
  }
  let filecons = 0;
  for (const statement of parsed as CilNode[][]) {
    if (!Array.isArray(statement) || statement.length === 0 || !('atom' in (statement[0] as object))) {
      out.push(`${where}: CIL top-level item that is not a statement: ${JSON.stringify(statement).slice(0, 200)}`);
      continue;
    }
    const head = (statement[0] as { atom: string }).atom;
    if (!STATEMENTS.has(head)) out.push(`${where}: CIL statement ${head}: ${JSON.stringify(statement).slice(0, 200)}`);
    const all = leaves(statement);
    const strings = all.filter((l) => 'string' in l);
    if (strings.length !== (head === 'filecon' ? 1 : 0)) out.push(`${where}: ${strings.length} strings in ${head}`);
    if (head === 'filecon') filecons++;
    for (const l of all) if ('atom' in l && !ATOM.test(l.atom)) out.push(`${where}: CIL token ${JSON.stringify(l.atom.slice(0, 100))}`);
  }
  if (filecons !== result.fileContexts.length) out.push(`${where}: ${filecons} filecon statements for ${result.fileContexts.length} file contexts`);
  // Policy text may stand in filecon strings and in comments (which end only at a newline, and
  // validation refuses control characters); every other token is a plain identifier (checked above).
  for (const line of text.split('\n')) if (line.includes('\r')) out.push(`${where}: carriage return in the module: ${JSON.stringify(line.slice(0, 200))}`);
}
