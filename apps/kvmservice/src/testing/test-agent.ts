/**
 * A thin agent for control-plane tests: joins with a token, keeps a Sync stream, records every
 * desired state it receives and reports it applied (as a real agent in dry-run would).
 */
import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import { unary, type AgentServiceClient, type DesiredState__Output, type HostFacts, type SyncRequest, type SyncResponse__Output } from '@kvmservice/api';

export const DRY_RUN_APPARMOR_FACTS: HostFacts = { enforcer: 'apparmor', dryRun: true, osId: 'debian', kernel: '6.1.0-test', agentVersion: 'test' };

export async function joinHost(client: AgentServiceClient, token: string, hostname: string, labels: Record<string, string> = {}, facts: HostFacts = DRY_RUN_APPARMOR_FACTS) {
  return unary(client.join.bind(client), { token, hostname, labels, facts });
}

export class TestAgentSession {
  readonly states: DesiredState__Output[] = [];
  error: ServiceError | undefined;
  ended = false;
  private readonly stream: ClientDuplexStream<SyncRequest, SyncResponse__Output>;
  private waiters: (() => void)[] = [];

  constructor(client: AgentServiceClient, facts: HostFacts = DRY_RUN_APPARMOR_FACTS, appliedRevision = 0) {
    this.stream = client.sync();
    this.stream.on('data', (message: SyncResponse__Output) => {
      if (message.desiredState) {
        const state = message.desiredState;
        this.states.push(state);
        this.stream.write({
          status: {
            revision: state.revision,
            artifacts: state.artifacts.map((a) => ({ name: a.name, lsm: a.lsm, sha256: a.sha256, state: 'ARTIFACT_STATE_COMPILED', message: 'test agent', policies: a.policies })),
          },
        });
      }
      this.wake();
    });
    this.stream.on('error', (e: ServiceError) => {
      this.error = e;
      this.wake();
    });
    this.stream.on('end', () => {
      this.ended = true;
      this.wake();
    });
    this.stream.write({ hello: { facts, appliedRevision } });
  }

  get latest(): DesiredState__Output | undefined {
    return this.states[this.states.length - 1];
  }

  /** Policy names in the latest desired state. */
  policyNames(): string[] {
    return (this.latest?.policies ?? []).map((p) => p.name).sort();
  }

  heartbeat(counters: { eventsDropped?: number; eventsSpooled?: number; linesUnparsed?: number } = {}): void {
    this.stream.write({ heartbeat: { eventsDropped: 0, eventsSpooled: 0, linesUnparsed: 0, ...counters } });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Waits until `predicate` holds (checked on every message), or fails after `timeoutMs`. */
  async waitFor(predicate: (s: this) => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (this.error && !predicate(this)) throw new Error(`stream failed while waiting for ${what}: ${this.error.message}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; states: ${JSON.stringify(this.states.map((s) => s.policies.map((p) => p.name)))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.stream.cancel();
  }
}
