/**
 * A fleet of kvmagent instances in one process of its own (test/support/agent-fleet-host.mjs:
 * the built agent's composition root per instance, real gRPC/TLS), so that hundreds of agents fit
 * on two cores and the test process stays free to drive and measure. Each agent has its own state
 * directory; tests read what it applied from there (test/support/desired-oracle.ts).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, sleep, tempDir, waitFor, type AgentProcessOptions, type Launched } from './fleet-processes.js';

const HOST_SCRIPT = new URL('./agent-fleet-host.mjs', import.meta.url).pathname;

/** What one fleet agent is started with: an agent process's options less its own directories and flags. */
export type FleetAgentSpec = Pick<AgentProcessOptions, 'name' | 'servers' | 'caFile' | 'token' | 'labels' | 'logSources'>;

export interface FleetAgent {
  readonly name: string;
  readonly stateDir: string;
  readonly logFile: string;
}

function argvOf(spec: FleetAgentSpec, stateDir: string): string[] {
  return [
    ...spec.servers.flatMap((s) => ['--server', s]),
    '--ca', spec.caFile,
    '--state-dir', stateDir,
    '--hostname', spec.name,
    '--lsm', 'apparmor',
    '--dry-run',
    '--max-backoff', '1',
    '--heartbeat-interval', '1',
    '--shutdown-timeout', '2',
    ...(spec.logSources && spec.logSources.length > 0 ? spec.logSources.flatMap((s) => ['--log-source', s]) : ['--log-source', 'none']),
    ...(spec.token ? ['--token', spec.token] : []),
    ...(spec.labels && Object.keys(spec.labels).length > 0 ? ['--labels', Object.entries(spec.labels).map(([k, v]) => `${k}=${v}`).join(',')] : []),
  ];
}

export class FleetHost {
  private constructor(
    private readonly proc: Launched,
    readonly agents: FleetAgent[],
  ) {}

  /** Starts the agents in one process; resolves when every one runs (not yet joined). */
  static async start(specs: FleetAgentSpec[]): Promise<FleetHost> {
    // In memory: a hundred agents in one process spend their time in fsync and rename otherwise
    // (each is synchronous, and blocks all of them); the agents that run as processes use the disk.
    const dir = tempDir('kvm-faults-fleet-', existsSync('/dev/shm') ? '/dev/shm' : undefined);
    const agents = specs.map((s) => ({ name: s.name, stateDir: join(dir, s.name, 'state'), logFile: join(dir, s.name, 'agent.log') }));
    const specFile = join(dir, 'fleet.json');
    writeFileSync(specFile, JSON.stringify({ agents: specs.map((s, i) => ({ name: s.name, argv: argvOf(s, agents[i]!.stateDir) })) }));
    const proc = launch(process.execPath, [HOST_SCRIPT, specFile]);
    let exited = false;
    void proc.exited.then(() => (exited = true));
    await waitFor(
      'the agent fleet to start',
      () => {
        if (exited) throw new Error(`agent fleet exited: ${proc.output.slice(-10).join('\n')}`);
        return proc.output.some((l) => l.startsWith('{"started":')) || undefined;
      },
      60_000,
      50,
    );
    return new FleetHost(proc, agents);
  }

  get pid(): number | undefined {
    return this.proc.child.pid;
  }
  get running(): boolean {
    return this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }
  get output(): string[] {
    return this.proc.output;
  }

  /** Orderly stop of every agent (collect, upload within --shutdown-timeout); SIGKILL after 20 s. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.proc.child.kill('SIGTERM');
    const done = await Promise.race([this.proc.exited, sleep(20_000).then(() => undefined)]);
    if (!done && this.running) {
      this.proc.child.kill('SIGKILL');
      await this.proc.exited;
    }
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.proc.child.kill('SIGKILL');
    await this.proc.exited;
  }

  /** An agent's JSON log lines whose message contains `msg`. */
  logs(name: string, msg: string): Record<string, unknown>[] {
    const agent = this.agents.find((a) => a.name === name);
    if (!agent || !existsSync(agent.logFile)) return [];
    return readFileSync(agent.logFile, 'utf8')
      .split('\n')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return []; // a line still being written
        }
      })
      .filter((l) => typeof l.msg === 'string' && l.msg.includes(msg));
  }

  tail(name: string, lines = 15): string {
    const agent = this.agents.find((a) => a.name === name);
    if (!agent || !existsSync(agent.logFile)) return '';
    return readFileSync(agent.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }
}
