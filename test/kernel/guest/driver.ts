/**
 * Runs inside the VM (bundled with esbuild, started by /init under Debian's node): carries out the
 * host's plan step by step and writes one JSON result per step to the results port. Profiles are
 * applied with the agent's own loader (`applyAppArmorProfiles`, kernel mode), so what is proven is
 * the code that runs on hosts. Nothing here throws past a step: a failing step is reported.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { applyAppArmorProfiles, DEFAULT_PROFILE_DIR } from '@kvmservice/apparmor';
import type { ApplyResult, GuestPlan, GuestResult, GuestStep, ReplayResult, RunResult, SelinuxLoadResult } from './plan.js';

const [planFile = '/kvm/plan.json', resultsPort = '/dev/ttyS1'] = process.argv.slice(2);
const out = openSync(resultsPort, 'w');
const emit = (result: GuestResult): void => {
  writeSync(out, `${JSON.stringify(result)}\n`);
};
const clip = (s: string, n = 4000): string => (s.length > n ? `${s.slice(0, n)}…` : s);
const readText = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    return `(unreadable: ${(e as Error).message})`;
  }
};
const uptime = (): number => Number(readText('/proc/uptime').split(' ')[0]);
const ENV = { PATH: '/usr/bin:/usr/sbin', HOME: '/root', LANG: 'C', LC_ALL: 'C' };

function loadedProfiles(): string[] {
  return readText('/sys/kernel/security/apparmor/profiles')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.replace(/ \([a-z]+\)$/, ''))
    .sort();
}

function profileFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  try {
    for (const f of readdirSync(DEFAULT_PROFILE_DIR).sort()) if (!f.startsWith('.')) files[f] = readText(join(DEFAULT_PROFILE_DIR, f));
  } catch {
    // no directory yet: no files
  }
  return files;
}

/** Waits until the kernel log holds a record naming `pid` (audit records are printed in order). */
function awaitAuditOf(pid: number, timeoutMs = 15_000): boolean {
  const deadline = Date.now() + timeoutMs;
  const needle = new RegExp(`audit: .* pid=${pid}\\b`);
  while (Date.now() < deadline) {
    const log = spawnSync('/usr/bin/busybox', ['dmesg'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (needle.test(log.stdout ?? '')) return true;
    spawnSync('/usr/bin/busybox', ['sleep', '0.2']);
  }
  return false;
}

async function step(s: GuestStep): Promise<GuestResult> {
  const started = Date.now();
  switch (s.kind) {
    case 'apply': {
      const result: ApplyResult = { kind: 'apply', id: s.id, loaded: [], files: {}, ms: 0 };
      try {
        result.report = await applyAppArmorProfiles(s.artifacts, { parserPath: '/usr/sbin/apparmor_parser', timeoutMs: 120_000 });
      } catch (e) {
        result.error = (e as Error).stack ?? String(e);
      }
      result.loaded = loadedProfiles();
      result.files = profileFiles();
      result.ms = Date.now() - started;
      return result;
    }
    case 'replay': {
      const result: ReplayResult = { kind: 'replay', id: s.id, commands: [], loaded: [], files: {}, ms: 0 };
      const parser = (argv: string[]): void => {
        const r = spawnSync('/usr/sbin/apparmor_parser', argv, { encoding: 'utf8', env: ENV, timeout: 120_000, killSignal: 'SIGKILL' });
        result.commands.push({ argv: ['apparmor_parser', ...argv], status: r.status, stderr: clip(`${r.stderr ?? ''}${r.error ? String(r.error) : ''}`) });
      };
      mkdirSync(DEFAULT_PROFILE_DIR, { recursive: true });
      for (const l of s.loads) {
        writeFileSync(join(DEFAULT_PROFILE_DIR, l.fileName), l.content, { mode: 0o644 });
        parser(['-r', '-B', '--', l.binary]);
      }
      for (const fileName of s.removes) {
        parser(['-R', '--', join(DEFAULT_PROFILE_DIR, fileName)]);
        rmSync(join(DEFAULT_PROFILE_DIR, fileName), { force: true });
      }
      result.loaded = loadedProfiles();
      result.files = profileFiles();
      result.ms = Date.now() - started;
      return result;
    }
    case 'selinux-load': {
      const result: SelinuxLoadResult = { kind: 'selinux-load', id: s.id, commands: [], labels: {}, enforce: '', ms: 0 };
      const tool = (command: string, argv: string[]): void => {
        const r = spawnSync(command, argv, { encoding: 'utf8', env: ENV, timeout: 120_000, killSignal: 'SIGKILL' });
        result.commands.push({ argv: [command, ...argv], status: r.status, stderr: clip(`${r.stderr ?? ''}${r.error ? String(r.error) : ''}`) });
      };
      const root = '/etc/selinux/default';
      copyFileSync(s.policy, `${root}/policy/policy.33`);
      copyFileSync(s.fileContexts, `${root}/contexts/files/file_contexts`);
      rmSync(`${root}/contexts/files/file_contexts.bin`, { force: true });
      tool('/usr/sbin/load_policy', []);
      if (s.relabel.length > 0) tool('/usr/sbin/restorecon', ['-RF', '--', ...s.relabel]);
      for (const path of s.relabel) {
        const ls = spawnSync('/usr/bin/ls', ['-dZ', '--', path], { encoding: 'utf8', env: ENV });
        result.labels[path] = (ls.stdout ?? '').trim().split(/\s+/)[0] ?? '';
      }
      result.enforce = readText('/sys/fs/selinux/enforce').trim();
      result.ms = Date.now() - started;
      return result;
    }
    case 'run': {
      const r = spawnSync(s.argv[0]!, s.argv.slice(1), { encoding: 'utf8', env: ENV, cwd: '/root', timeout: s.timeoutMs ?? 60_000, killSignal: 'SIGKILL' });
      const result: RunResult = {
        kind: 'run',
        id: s.id,
        pid: r.pid,
        status: r.status,
        signal: r.signal,
        stdout: clip(r.stdout ?? ''),
        stderr: clip(r.stderr ?? ''),
        ms: Date.now() - started,
      };
      if (r.error) result.error = String(r.error);
      if (s.outputFile) result.output = clip(readText(s.outputFile));
      if (s.awaitAudit && r.pid !== undefined) result.auditSeen = awaitAuditOf(r.pid);
      return result;
    }
    case 'write':
      try {
        writeFileSync(s.path, s.content);
        return { kind: 'write', id: s.id, ok: true };
      } catch (e) {
        return { kind: 'write', id: s.id, ok: false, error: (e as Error).message };
      }
    case 'read':
      try {
        return { kind: 'read', id: s.id, content: readFileSync(s.path, 'utf8') };
      } catch (e) {
        return { kind: 'read', id: s.id, error: (e as Error).message };
      }
  }
}

async function main(): Promise<void> {
  const nodeStartedAtUptime = uptime();
  const abi = spawnSync('/usr/bin/aa-features-abi', ['-x'], { encoding: 'utf8' });
  const context = readText('/proc/self/attr/current').replace(/\0/g, '').trim();
  emit({
    kind: 'env',
    kernel: readText('/proc/version').trim(),
    lsm: readText('/sys/kernel/security/lsm').trim(),
    apparmorEnabled: readText('/sys/module/apparmor/parameters/enabled').trim(),
    context,
    features: abi.status === 0 ? abi.stdout : `(aa-features-abi failed: ${abi.stderr}${abi.error ?? ''})`,
    nodeStartedAtUptime,
  });
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as GuestPlan;
  for (const s of plan.steps) {
    let result: GuestResult;
    try {
      result = await step(s);
    } catch (e) {
      result = { kind: 'write', id: s.id, ok: false, error: `driver: ${(e as Error).stack ?? String(e)}` };
    }
    emit(result);
  }
  emit({ kind: 'end', uptime: uptime() });
}

main().catch((e: unknown) => {
  emit({ kind: 'write', id: 'driver', ok: false, error: (e as Error).stack ?? String(e) });
  process.exitCode = 1;
});
