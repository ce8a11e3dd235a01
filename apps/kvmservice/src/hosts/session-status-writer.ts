import type { Logger } from 'pino';
import type { DesiredStateView } from '../desired/desired-state.js';
import type { HostStatusRecord, HostStatusService } from './host-status.service.js';

/**
 * Writes one host's status for one agent session, one write at a time and in order. A policy storm
 * sends a host many desired states in a burst; written concurrently, each a read-modify-write of
 * the same key, they conflict with each other and with the agent's applied status until retries
 * run out. Here the desired state is coalesced (only the newest is written, and it rides along with
 * every other write), so a failed write is repaired by the next one and none puts an older
 * desired state back.
 */
export class SessionStatusWriter {
  private chain: Promise<unknown> = Promise.resolve();
  private latest: DesiredStateView | undefined;
  private desiredQueued = false;

  constructor(
    private readonly status: HostStatusService,
    private readonly host: string,
    private readonly log: Logger,
  ) {}

  /** Records the newest desired state sent to the agent; written soon, without waiting. */
  desired(state: DesiredStateView): void {
    this.latest = state;
    if (this.desiredQueued) return;
    this.desiredQueued = true;
    void this.write((s) => s, () => (this.desiredQueued = false)).catch((e: unknown) =>
      this.log.warn({ err: e, host: this.host }, 'writing desired status failed (written again with the next status or heartbeat)'),
    );
  }

  /** Applies `mutate` (and the newest desired state) after every earlier write has finished. */
  write(mutate: (status: HostStatusRecord) => HostStatusRecord, starting?: () => void): Promise<HostStatusRecord> {
    const run = () => {
      starting?.();
      return this.status.update(this.host, (s) => this.withLatestDesired(mutate(s)));
    };
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  private withLatestDesired(s: HostStatusRecord): HostStatusRecord {
    const latest = this.latest;
    if (!latest || (s.desired && s.desired.revision >= latest.revision)) return s;
    return { ...s, desired: { revision: latest.revision, hash: latest.hash, policies: latest.policies, problems: latest.problems, at: new Date().toISOString() } };
  }
}
