/**
 * Real processes for the agent e2e tests: kvmservice and kvmagent started from their built bins
 * (`npm run build`, or `npx tsc -b apps/kvmagent apps/kvmservice`), on loopback ports, with
 * temporary data and state directories. Every process started here is killed by `killAll()`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { createControlClient, parseClientConfig, unary, type ControlServiceClient, type Event__Output, type StreamEventsResponse__Output } from '@kvmservice/api';
import { onTestFailed } from 'vitest';
import { freePort, KVMAGENT_BIN, KVMSERVICE_BIN, killAllProcesses, launch, requireBuilt, tempDir, waitFor, type Launched as Proc } from '../support/fleet-processes.js';

export { freePort, requireBuilt, tempDir, waitFor };

/** SIGKILLs every process still running and removes the temporary directories. */
export const killAll = killAllProcesses;

function httpOk(port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

export class ControlPlane {
  private proc: Proc | undefined;
  adminToken = '';
  private client: ControlServiceClient | undefined;

  private constructor(
    readonly dataDir: string,
    public grpcPort: number,
    public httpPort: number,
  ) {}

  static async start(): Promise<ControlPlane> {
    const cp = new ControlPlane(tempDir('kvmagent-e2e-cp-'), await freePort(), await freePort());
    // A free port can be taken by another process before kvmservice binds it: new ports, again.
    for (let attempt = 1; ; attempt++) {
      try {
        await cp.restart();
        return cp;
      } catch (e) {
        if (attempt === 3 || !/EADDRINUSE/.test((e as Error).message)) throw e;
        cp.grpcPort = await freePort();
        cp.httpPort = await freePort();
      }
    }
  }

  get address(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }
  get caFile(): string {
    return join(this.dataDir, 'ca.crt');
  }
  get output(): string[] {
    return this.proc?.output ?? [];
  }

  /** Starts (again) on the same data directory and ports; resolves when ready, rejects at once if it exits. */
  async restart(): Promise<void> {
    this.proc = launch(process.execPath, [
      KVMSERVICE_BIN,
      '--data-dir', this.dataDir,
      '--store', `sqlite:${join(this.dataDir, 'kvmservice.db')}`,
      '--grpc-port', String(this.grpcPort),
      '--http-port', String(this.httpPort),
      '--bind-address', '127.0.0.1',
      '--log-level', 'warn',
    ]);
    const proc = this.proc;
    let exited = false;
    void proc.exited.then(() => (exited = true));
    const deadline = Date.now() + 60_000;
    while (!(await httpOk(this.httpPort, '/readyz'))) {
      if (exited) throw new Error(`kvmservice exited while starting: ${proc.output.slice(-5).join(' | ')}`);
      if (Date.now() > deadline) throw new Error('kvmservice not ready after 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    if (!this.adminToken) {
      const config = parseClientConfig(readFileSync(join(this.dataDir, 'kvmctl.yaml'), 'utf8'), 'kvmctl.yaml');
      this.adminToken = config.contexts[0]!.token!;
    }
  }

  control(): ControlServiceClient {
    this.client ??= createControlClient({ address: this.address, caPem: readFileSync(this.caFile), token: this.adminToken });
    return this.client;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    proc.child.kill('SIGTERM');
    await proc.exited;
  }

  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    proc.child.kill('SIGKILL');
    await proc.exited;
  }

  async apply(...objects: unknown[]): Promise<void> {
    await unary(this.control().apply.bind(this.control()), { objects: objects.map((o) => JSON.stringify(o)) });
  }

  async delete(kind: string, name: string): Promise<void> {
    await unary(this.control().delete.bind(this.control()), { kind, name, resourceVersion: '' });
  }

  async label(name: string, set: Record<string, string>): Promise<void> {
    await unary(this.control().label.bind(this.control()), { kind: 'kvm', name, set, remove: [], overwrite: true, resourceVersion: '' });
  }

  async token(hostname: string, labels: Record<string, string> = {}): Promise<string> {
    return (await unary(this.control().createToken.bind(this.control()), { hostname, labels, ttlSeconds: 3600 })).secret;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- host objects are JSON documents
  async host(name: string): Promise<any> {
    return JSON.parse((await unary(this.control().get.bind(this.control()), { kind: 'kvm', name })).object);
  }

  /** Every stored event of a host (not following). */
  events(host: string): Promise<Event__Output[]> {
    return new Promise((resolve, reject) => {
      const out: Event__Output[] = [];
      const stream = this.control().streamEvents({ follow: false, host });
      stream.on('data', (r: StreamEventsResponse__Output) => r.event && out.push(r.event));
      stream.on('error', reject);
      stream.on('end', () => resolve(out));
    });
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }
}

export interface AgentOptions {
  name: string;
  server: ControlPlane;
  token?: string;
  labels?: Record<string, string>;
  logSource?: string;
  stateDir?: string;
  extra?: string[];
  env?: NodeJS.ProcessEnv;
  /** Servers listed before the control plane (to be tried, and fail, first). */
  serversBefore?: string[];
}

export class Agent {
  private proc: Proc;
  readonly stateDir: string;

  constructor(readonly options: AgentOptions) {
    this.stateDir = options.stateDir ?? join(tempDir(`kvmagent-e2e-${options.name}-`), 'state');
    this.proc = this.launch();
  }

  private launch(): Proc {
    const o = this.options;
    const args = [
      ...(o.serversBefore ?? []).flatMap((address) => ['--server', address]),
      '--server', o.server.address,
      '--ca', o.server.caFile,
      '--state-dir', this.stateDir,
      '--hostname', o.name,
      '--lsm', 'apparmor',
      '--dry-run',
      '--max-backoff', '1',
      '--heartbeat-interval', '2',
      '--log-source', o.logSource ?? 'none',
      ...(o.token ? ['--token', o.token] : []),
      ...(o.labels && Object.keys(o.labels).length > 0 ? ['--labels', Object.entries(o.labels).map(([k, v]) => `${k}=${v}`).join(',')] : []),
      ...(o.extra ?? []),
    ];
    // Executed as a program, as installed: its shebang sets the Node flags.
    return launch(KVMAGENT_BIN, args, o.env);
  }

  get output(): string[] {
    return this.proc.output;
  }
  get pid(): number {
    return this.proc.child.pid!;
  }
  get running(): boolean {
    return this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  /** Parsed JSON log lines with this message (substring). */
  logs(msg: string): Record<string, unknown>[] {
    return this.proc.output
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => typeof l.msg === 'string' && l.msg.includes(msg));
  }

  async waitLog(msg: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    return waitFor(`${this.options.name} to log "${msg}"`, () => this.logs(msg)[0], timeoutMs);
  }

  compiled(): string[] {
    const dir = join(this.stateDir, 'apparmor', 'compiled');
    return existsSync(dir) ? readdirSyncVisible(dir) : [];
  }

  profile(file: string): string {
    return readFileSync(join(this.stateDir, 'apparmor', 'profiles', file), 'utf8');
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.proc.child.exitCode;
    this.proc.child.kill('SIGTERM');
    return (await this.proc.exited).code;
  }

  signal(signal: NodeJS.Signals): void {
    this.proc.child.kill(signal);
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.proc.exited;
  }

  restart(options: Partial<AgentOptions> = {}): void {
    Object.assign(this.options, options);
    this.proc = this.launch();
  }
}

function readdirSyncVisible(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.'))
    .sort();
}

/** Prints the processes' last output lines when the running test fails (call inside the test). */
export function dumpOnFailure(processes: () => { name: string; output: string[] }[]): void {
  onTestFailed(() => {
    for (const p of processes()) console.error(`--- ${p.name} (last 40 lines)\n${p.output.filter((l) => !/connecting|disconnected/.test(l)).slice(-40).join('\n')}`);
  });
}

export function hostPolicy(name: string, matchLabels: Record<string, string>, path: string) {
  return {
    apiVersion: 'security.kubearmor.com/v1',
    kind: 'KubeArmorHostPolicy',
    metadata: { name },
    spec: { nodeSelector: { matchLabels }, file: { matchPaths: [{ path }] }, action: 'Block' },
  };
}
