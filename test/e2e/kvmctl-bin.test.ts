/**
 * The installed kvmctl binary (built output) as a shell user runs it: real pipes between two
 * kvmctl processes, Ctrl-C on streaming commands, bash and zsh completion scripts completing from
 * a real kvmservice, parse-log streaming its input, and `render` output that the real LSM tools
 * accept (apparmor_parser -Q -K, semodule against Debian's refpolicy in a private store).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileAppArmorFiles } from '@kvmservice/apparmor';
import { checkDocuments } from '@kvmservice/resources';
import { createPrivateStore, linkSelinuxModules } from '@kvmservice/selinux';
import { kvmctlConfigPath } from '../../apps/kvmservice/src/auth/admin-bootstrap.service.js';
import { startTestService, type TestService } from '../../apps/kvmservice/src/testing/service-harness.js';
import { joinHost } from '../../apps/kvmservice/src/testing/test-agent.js';
import { conformanceDir, readConformanceFile, repoRoot } from '../support/conformance.js';
import { requireTool } from '../support/tools.js';

const binDir = join(repoRoot, 'node_modules', '.bin');
const kvmctlBin = join(binDir, 'kvmctl');

/**
 * Runs a shell script with kvmctl on PATH. Asynchronous: the kvmservice under test runs in this
 * process and must keep answering while the script runs.
 */
function shell(script: string, env: Record<string, string>, shellPath = 'bash', input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(shellPath, ['-c', script], { env: { ...process.env, PATH: `${binDir}:${process.env.PATH}`, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** Starts kvmctl, waits until its stdout matches, sends SIGINT, and returns how it ended. */
async function interrupt(args: string[], env: Record<string, string>, ready: RegExp, afterReady?: () => Promise<void>, until?: RegExp) {
  const child = spawn(kvmctlBin, args, { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; stdout: ${stdout}; stderr: ${stderr}`)), 20_000);
      const check = () => {
        if (re.test(stdout)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', (d) => {
        stdout += d;
        check();
      });
      check();
    });
  await waitFor(ready);
  if (afterReady) await afterReady();
  if (until) await waitFor(until);
  const t = Date.now();
  child.kill('SIGINT');
  const code = await exited;
  return { code, stdout, stderr, stopMs: Date.now() - t };
}

describe('kvmctl binary', () => {
  let svc: TestService;
  let env: Record<string, string>;

  beforeAll(async () => {
    svc = await startTestService();
    env = { KVMCTL_CONFIG: kvmctlConfigPath(svc.config) };
    const dir = mkdtempSync(join(tmpdir(), 'kvmctl-bin-'));
    const source = conformanceDir('kubearmor');
    for (const file of ['example-hsp__hsp-k8s-kubearmor-dev-file-path-block.yaml', 'example-hsp__hsp-k8s-kubearmor-dev-proc-path-block.yaml']) {
      writeFileSync(join(dir, file), readConformanceFile(source, file));
    }
    const applied = await shell(`kvmctl apply -f ${dir}`, env);
    expect(applied.stderr).toBe('');
    expect(applied.status).toBe(0);
  });

  afterAll(async () => {
    await svc?.close();
  });

  it('get -o yaml | apply -f - through a real pipe changes nothing', async () => {
    const r = await shell('kvmctl get hsp -o yaml | kvmctl apply -f -', env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      'kubearmorhostpolicy.security.kubearmor.com/hsp-kubearmor-dev-file-path-block unchanged\n' +
        'kubearmorhostpolicy.security.kubearmor.com/hsp-kubearmor-dev-proc-path-block unchanged\n',
    );
    // Exit codes reach the shell: 1 for an error, 2 for usage.
    expect((await shell('kvmctl get hsp nothere', env)).status).toBe(1);
    expect((await shell('kvmctl get --nonsense', env)).status).toBe(2);
    // A reader that stops early is not an error.
    expect((await shell('set -o pipefail; kvmctl get hsp -o json | head -c 10 >/dev/null', env)).status).toBe(0);
  });

  it('Ctrl-C ends get --watch and logs -f with exit 0', async () => {
    expect((await shell('kvmctl vm add before-watch', env)).status).toBe(0);
    const watch = await interrupt(
      ['get', 'kvm', '--watch'],
      env,
      /^before-watch\s/m,
      async () => {
        expect((await shell('kvmctl vm add watched-host', env)).status).toBe(0);
      },
      /^watched-host\s/m,
    );
    expect(watch).toMatchObject({ code: 0, stderr: '' });
    expect(watch.stopMs).toBeLessThan(5000);

    // An agent uploads one event; `logs -f` prints it and keeps following until Ctrl-C.
    const secret = (await shell('kvmctl token create --hostname log-host', env)).stdout.trim();
    const joined = await joinHost(svc.agent(), secret, 'log-host');
    const push = svc.agent(joined.credential).pushEvents();
    const acked = new Promise((resolve, reject) => {
      push.on('data', resolve);
      push.on('error', reject);
    });
    push.write({ firstSeq: 1, dropped: 0, events: [{ hostName: 'log-host', type: 'MatchedHostPolicy', operation: 'File', resource: '/etc/shadow', action: 'Block', result: 'Permission denied', timestamp: Date.now() * 1e6 }] });
    await acked;
    push.end();
    const logs = await interrupt(['logs', '-f'], env, / log-host Alert File Block "Permission denied" resource=\/etc\/shadow\n/);
    expect(logs).toMatchObject({ code: 0, stderr: '' });
    expect(logs.stopMs).toBeLessThan(5000);
  });

  it('bash completion completes commands, types and object names from the server', async () => {
    const complete = async (words: string) =>
      (await shell(`source <(kvmctl completion bash); COMP_WORDS=(${words}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _kvmctl; printf '%s\\n' "\${COMPREPLY[@]}"`, env)).stdout
        .split('\n')
        .filter((l) => l !== '');
    expect(await complete('kvmctl get hs')).toEqual(['hsp']);
    expect(await complete("kvmctl get hsp ''")).toEqual(['hsp-kubearmor-dev-file-path-block', 'hsp-kubearmor-dev-proc-path-block']);
    expect(await complete('kvmctl describe hsp hsp-kubearmor-dev-p')).toEqual(['hsp-kubearmor-dev-proc-path-block']);
  });

  it('zsh completion script loads and completes from the server', async () => {
    const zsh = requireTool('zsh', 'zsh');
    const script = (await shell('kvmctl completion zsh', env)).stdout;
    const file = join(mkdtempSync(join(tmpdir(), 'kvmctl-zsh-')), '_kvmctl');
    writeFileSync(file, script);
    expect((await shell(`${zsh} -n ${file}`, {})).status).toBe(0);
    // Outside a completion widget, `words`, `CURRENT` and the completion builtins are plain names:
    // stand-ins that print what they are given run the script's own logic.
    const run = async (words: string) =>
      (await shell(`compdef() { :; }; compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }; _files() { print -- FILES; }; source ${file}; words=(${words}); CURRENT=\${#words}; _kvmctl`, env, zsh)).stdout
        .split('\n')
        .filter((l) => l !== '');
    expect(await run("kvmctl get hsp ''")).toEqual(['hsp-kubearmor-dev-file-path-block', 'hsp-kubearmor-dev-proc-path-block']);
    expect(await run('kvmctl co')).toEqual(['completion', 'config']);
    expect(await run("kvmctl apply -f ''")).toEqual(['FILES']);
  });

  it('parse-log streams: a record is printed before the input ends', async () => {
    const child = spawn(kvmctlBin, ['parse-log']);
    let stdout = '';
    const first = new Promise<void>((resolve) =>
      child.stdout.on('data', (d) => {
        stdout += d;
        if (stdout.includes('\n')) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.stdin.write('not an audit record\n');
    await first;
    expect(JSON.parse(stdout.split('\n')[0]!)).toMatchObject({ line: 1, format: 'unparsed' });
    child.stdin.end('type=DAEMON_START msg=audit(1717259989.360:1): op=start ver=3.0 format=enriched\n');
    expect(await exited).toBe(0);
    expect(stdout.trim().split('\n').map((l) => JSON.parse(l).format)).toEqual(['unparsed', 'audit']);
  });

  it('render --lsm apparmor: every upstream example that validates renders and compiles with apparmor_parser', async () => {
    requireTool('apparmor_parser', 'apparmor');
    const source = conformanceDir('kubearmor');
    const dir = mkdtempSync(join(tmpdir(), 'kvmctl-render-aa-'));
    // Upstream reuses policy names across files: spread the files over as few directories as
    // possible with unique names in each, and render each directory as one host would get it.
    const buckets: Set<string>[] = [];
    let files = 0;
    for (const file of readdirSync(source).filter((f) => /^(example-hsp__|selinux-example-hsp__|docs-hsp__|test-nonk8s-hsp__)/.test(f))) {
      const text = readConformanceFile(source, file);
      const checked = checkDocuments(text, file);
      if (checked.some((c) => !c.result.valid)) continue;
      const names = checked.map((c) => (c.result.valid ? c.result.resource.metadata.name : ''));
      let bucket = buckets.findIndex((b) => names.every((n) => !b.has(n)));
      if (bucket < 0) bucket = buckets.push(new Set()) - 1;
      for (const n of names) buckets[bucket]!.add(n);
      mkdirSync(join(dir, String(bucket)), { recursive: true });
      writeFileSync(join(dir, String(bucket), file), text);
      files++;
    }
    expect(files).toBeGreaterThanOrEqual(30);
    const outputs: string[] = [];
    for (let i = 0; i < buckets.length; i++) {
      const out = join(dir, `out-${i}`);
      const r = await shell(`kvmctl render -f ${join(dir, String(i))} --out ${out} --posture file=block`, {});
      expect(r.status, r.stderr).toBe(0);
      outputs.push(...readdirSync(out).map((f) => join(out, f)));
    }
    const compiled = await compileAppArmorFiles(outputs);
    expect(compiled.filter((c) => !c.ok)).toEqual([]);
    expect(compiled.length).toBeGreaterThanOrEqual(buckets.length * 2);
  });

  it('render --lsm selinux: the upstream SELinux examples give a module that links against the refpolicy', async () => {
    requireTool('semodule', 'semodule-utils');
    const source = conformanceDir('kubearmor');
    const names = readdirSync(source).filter((f) => f.startsWith('selinux-example-hsp__'));
    expect(names.length).toBeGreaterThanOrEqual(10);
    // All of them select the host kubearmor-dev: the module that host gets, rendered by the binary to stdout.
    const input = names.map((f) => readConformanceFile(source, f)).join('\n---\n');
    const r = await shell('kvmctl render -f - --lsm selinux --hostname kubearmor-dev', {}, 'bash', input);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [cil, contexts] = r.stdout.split(/^# kvmctl render: .*\.file_contexts\n/m);
    const moduleName = /^; kvmctl render: (\S+)\.cil\n/.exec(cil!)![1]!;
    expect(contexts).toMatch(/^# after installing: restorecon -R \//);
    expect(contexts).toMatch(/^\/home\/vagrant\/selinux-test\/\S*\tsystem_u:object_r:kvms_\w+_t:s0$/m);
    const store = createPrivateStore();
    try {
      const linked = await linkSelinuxModules([{ moduleName, module: cil!.replace(/^; kvmctl render: .*\n/, '') }], { root: store.root, timeoutMs: 120_000 });
      expect(linked.error ?? '').toBe('');
      expect(linked.ok).toBe(true);
    } finally {
      store.dispose();
    }
  });
});
