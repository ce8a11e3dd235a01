/**
 * kvmservice and kvmagent as real processes for the fault suite: kvmservice on SQLite or on an etcd
 * cluster (several replicas share one TLS directory, as a Kubernetes Secret would be), agents from
 * the installed bin with several `--server` addresses. Loopback ports, temporary directories.
 * Every process started here is SIGKILLed by `killAllProcesses()` and, should a test process die
 * first, by an exit hook. The bins run from `dist`: `npm run build` first (`requireBuilt()`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgentClient, createControlClient, parseClientConfig, type AgentServiceClient, type ControlServiceClient } from '@kvmservice/api';
import { freePort } from '../../apps/kvmservice/src/testing/service-harness.js';
import { repoRoot } from './conformance.js';

export const KVMSERVICE_BIN = join(repoRoot, 'apps/kvmservice/bin/kvmservice.js');
export const KVMAGENT_BIN = join(repoRoot, 'apps/kvmagent/bin/kvmagent.js');
export const KVMCTL_BIN = join(repoRoot, 'apps/kvmctl/bin/kvmctl.js');

const running = new Set<ChildProcess>();
const tempDirs: string[] = [];
let exitHook = false;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails with the command to run when the bins have not been built. */
export function requireBuilt(): void {
  for (const f of ['apps/kvmservice/dist/main.js', 'apps/kvmagent/dist/main.js', 'apps/kvmagent/dist/loaders/lsm-worker.js', 'apps/kvmctl/dist/main.js']) {
    if (!existsSync(join(repoRoot, f))) throw new Error(`${f} is missing: run npm run build first`);
  }
}

/** A temporary directory, removed by `killAllProcesses()`; `base` defaults to the system's. */
export function tempDir(prefix: string, base = tmpdir()): string {
  const dir = mkdtempSync(join(base, prefix));
  tempDirs.push(dir);
  return dir;
}

/** SIGKILLs every process still running and removes the temporary directories. */
export function killAllProcesses(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  running.clear();
  // An agent's LSM worker outlives a SIGKILLed agent for a moment: retry while it finishes.
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}

export { freePort };

/** Polls `probe` until it gives a value (not undefined/false), or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

export interface Launched {
  readonly child: ChildProcess;
  /** Output lines, the last 2000. */
  readonly output: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function launch(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Launched {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const child of running) child.kill('SIGKILL');
    });
  }
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  running.add(child);
  const output: string[] = [];
  let partial = '';
  const take = (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    output.push(...lines);
    if (output.length > 2000) output.splice(0, output.length - 2000);
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      running.delete(child);
      if (partial) output.push(partial);
      resolve({ code, signal });
    }),
  );
  return { child, output, exited };
}

function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

/** Resident set size of a process in KiB, from /proc (undefined once it is gone). */
export function rssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface ServiceProcessOptions {
  /** Store URL; default `sqlite:<data dir>/kvmservice.db`. */
  store?: string;
  /** Shared TLS directory (ca.crt, ca.key, server certificate); default: the data directory. */
  tlsDir?: string;
  /** Admin token of the installation, when another replica created it. */
  adminToken?: string;
  name?: string;
  /** Node flags before the script (e.g. `--cpu-prof` when investigating). */
  nodeArgs?: string[];
}

/** One kvmservice process, restartable on the same data directory and ports. */
export class ServiceProcess {
  private proc: Launched | undefined;
  adminToken: string;
  private readonly clients = new Map<string, ControlServiceClient>();
  /** Start-up durations (ms), one per start. */
  readonly startMs: number[] = [];

  private constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly tlsDir: string,
    readonly store: string,
    readonly grpcPort: number,
    readonly httpPort: number,
    adminToken: string,
    private readonly nodeArgs: string[],
  ) {
    this.adminToken = adminToken;
  }

  static async start(options: ServiceProcessOptions = {}): Promise<ServiceProcess> {
    const dataDir = tempDir('kvm-faults-cp-');
    const service = new ServiceProcess(
      options.name ?? 'kvmservice',
      dataDir,
      options.tlsDir ?? dataDir,
      options.store ?? `sqlite:${join(dataDir, 'kvmservice.db')}`,
      await freePort(),
      await freePort(),
      options.adminToken ?? '',
      options.nodeArgs ?? [],
    );
    await service.restart();
    return service;
  }

  get address(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }
  get caFile(): string {
    return join(this.tlsDir, 'ca.crt');
  }
  get caPem(): Buffer {
    return readFileSync(this.caFile);
  }
  get output(): string[] {
    return this.proc?.output ?? [];
  }
  get pid(): number | undefined {
    return this.running ? this.proc?.child.pid : undefined;
  }
  get running(): boolean {
    const child = this.proc?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Starts (again) on the same directories and ports; resolves when /readyz answers 200. */
  async restart(): Promise<void> {
    const started = Date.now();
    const proc = launch(process.execPath, [
      ...this.nodeArgs,
      KVMSERVICE_BIN,
      '--data-dir', this.dataDir,
      '--tls-dir', this.tlsDir,
      '--store', this.store,
      '--grpc-port', String(this.grpcPort),
      '--http-port', String(this.httpPort),
      '--bind-address', '127.0.0.1',
      '--log-level', 'warn',
    ]);
    this.proc = proc;
    let exited = false;
    void proc.exited.then(() => (exited = true));
    await waitFor(
      `${this.name} to be ready`,
      async () => {
        if (exited) throw new Error(`${this.name} exited: ${proc.output.slice(-8).join('\n')}`);
        return (await httpStatus(this.httpPort, '/readyz')) === 200 || undefined;
      },
      60_000,
      50,
    );
    this.startMs.push(Date.now() - started);
    const config = join(this.dataDir, 'kvmctl.yaml');
    if (!this.adminToken && existsSync(config)) {
      this.adminToken = parseClientConfig(readFileSync(config, 'utf8'), config).contexts[0]!.token!;
    }
  }

  /** A control client with the admin token (or another token); cached per token. */
  control(token = this.adminToken): ControlServiceClient {
    let client = this.clients.get(token);
    if (!client) {
      client = createControlClient({ address: this.address, caPem: this.caPem, token });
      this.clients.set(token, client);
    }
    return client;
  }

  agent(credential?: string): AgentServiceClient {
    return createAgentClient({ address: this.address, caPem: this.caPem, ...(credential ? { token: credential } : {}) });
  }

  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    proc.child.kill('SIGKILL');
    await proc.exited;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    proc.child.kill('SIGTERM');
    await Promise.race([proc.exited, sleep(10_000)]);
    await this.kill();
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

export interface AgentProcessOptions {
  name: string;
  servers: string[];
  caFile: string;
  token?: string;
  labels?: Record<string, string>;
  logSources?: string[];
  stateDir?: string;
  extra?: string[];
}

/** One kvmagent process (dry run, AppArmor: compiles with the real apparmor_parser). */
export class AgentProcess {
  private proc: Launched;
  readonly stateDir: string;

  constructor(readonly options: AgentProcessOptions) {
    this.stateDir = options.stateDir ?? join(tempDir(`kvm-faults-agent-${options.name}-`), 'state');
    this.proc = this.launch();
  }

  private launch(): Launched {
    const o = this.options;
    const args = [
      ...o.servers.flatMap((s) => ['--server', s]),
      '--ca', o.caFile,
      '--state-dir', this.stateDir,
      '--hostname', o.name,
      '--lsm', 'apparmor',
      '--dry-run',
      '--max-backoff', '1',
      '--heartbeat-interval', '1',
      ...(o.logSources && o.logSources.length > 0 ? o.logSources.flatMap((s) => ['--log-source', s]) : ['--log-source', 'none']),
      ...(o.token ? ['--token', o.token] : []),
      ...(o.labels && Object.keys(o.labels).length > 0 ? ['--labels', Object.entries(o.labels).map(([k, v]) => `${k}=${v}`).join(',')] : []),
      ...(o.extra ?? []),
    ];
    // Run as installed: the bin's shebang sets the agent's Node flags.
    return launch(KVMAGENT_BIN, args);
  }

  get output(): string[] {
    return this.proc.output;
  }
  get running(): boolean {
    return this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }
  get pid(): number | undefined {
    return this.running ? this.proc.child.pid : undefined;
  }

  /** Parsed JSON log lines whose message contains `msg`. */
  logs(msg: string): Record<string, unknown>[] {
    return this.proc.output
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => typeof l.msg === 'string' && l.msg.includes(msg));
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.proc.child.kill('SIGKILL');
    await this.proc.exited;
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.proc.child.exitCode;
    this.proc.child.kill('SIGTERM');
    const exited = await Promise.race([this.proc.exited, sleep(15_000).then(() => undefined)]);
    if (!exited) await this.kill();
    return exited?.code ?? null;
  }

  restart(): void {
    this.proc = this.launch();
  }
}

/** Maps `items` with at most `limit` calls running at once; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Polls `done(name)` for every name until all hold or `timeoutMs` passes; returns when each first
 * held (ms after `since`) and the names that never did.
 */
export async function waitEach(names: readonly string[], done: (name: string) => boolean | Promise<boolean>, since: number, timeoutMs: number, everyMs = 100): Promise<{ times: Map<string, number>; missing: string[] }> {
  const times = new Map<string, number>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const name of names) if (!times.has(name) && (await done(name))) times.set(name, Date.now() - since);
    const missing = names.filter((n) => !times.has(n));
    if (missing.length === 0 || Date.now() > deadline) return { times, missing };
    await sleep(everyMs);
  }
}

/** `p50/p95/max` of some durations, for summary lines. */
export function spread(values: readonly number[]): string {
  if (values.length === 0) return '-';
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `${at(0.5)}/${at(0.95)}/${sorted[sorted.length - 1]} ms`;
}
