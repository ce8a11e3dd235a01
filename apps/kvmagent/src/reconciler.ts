/**
 * The reconcile loop: makes the host match a desired state — through the loader adapters (apply
 * what is new or changed, remove what left, keep the previous version when something fails) and
 * the audit rules visibility asks for — and records the result.
 *
 * Level-triggered like a controller-runtime reconciler: the input is always a complete desired
 * state; one reconcile runs at a time; while it runs, only the newest submitted state waits (older
 * ones are superseded, never applied). Applying the same state again changes nothing on the host.
 */
import type { Logger } from './log.js';
import { saveApplied, saveDesired, type Applied, type ArtifactResult, type Desired } from './desired.js';
import type { StateDir } from './state-dir.js';

export type Origin = 'control-plane' | 'disk';

export type ReconcileOutcome = { superseded: true } | { superseded: false; applied: Applied };

/** Applies a desired state to the host and says what happened to each artifact. */
export type ApplyDesired = (desired: Desired) => Promise<ArtifactResult[]>;

interface Job {
  desired: Desired;
  origin: Origin;
  waiters: ((o: ReconcileOutcome) => void)[];
}

export class Reconciler {
  private running: Promise<void> | undefined;
  private next: Job | undefined;
  private last: Applied | undefined;

  constructor(
    private readonly stateDir: StateDir,
    private readonly apply: ApplyDesired,
    private readonly log: Logger,
    lastApplied?: Applied,
  ) {
    this.last = lastApplied;
  }

  /** The result of the last reconcile (or the one recorded on disk before this start). */
  get applied(): Applied | undefined {
    return this.last;
  }

  submit(desired: Desired, origin: Origin): Promise<ReconcileOutcome> {
    return new Promise((resolve) => {
      if (this.next) {
        for (const w of this.next.waiters) w({ superseded: true });
      }
      this.next = { desired, origin, waiters: [resolve] };
      if (!this.running) this.running = this.loop();
    });
  }

  /** Resolves when nothing is running or waiting. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    try {
      while (this.next) {
        const job = this.next;
        this.next = undefined;
        const applied = await this.reconcile(job);
        for (const w of job.waiters) w({ superseded: false, applied });
      }
    } finally {
      this.running = undefined;
    }
  }

  private async reconcile(job: Job): Promise<Applied> {
    const { desired, origin } = job;
    const started = Date.now();
    if (origin === 'control-plane') {
      // Kept first: if the agent dies mid-apply, the next start re-applies this state.
      try {
        saveDesired(this.stateDir.desiredFile, desired);
      } catch (e) {
        this.log.error('could not save the desired state; it is applied but would not be re-applied at boot', { file: this.stateDir.desiredFile, err: e as Error });
      }
    }
    let artifacts: ArtifactResult[];
    try {
      artifacts = await this.apply(desired);
    } catch (e) {
      // A bug, not a loader failure (those are results): report every artifact failed, keep running.
      this.log.error('reconcile failed', { revision: desired.revision, err: e as Error });
      artifacts = desired.artifacts.map((a) => ({ name: a.name, lsm: a.lsm, sha256: a.sha256, state: 'FAILED', message: `agent error: ${(e as Error).message}`, policies: a.policies }));
    }
    const applied: Applied = { revision: desired.revision, at: new Date().toISOString(), artifacts };
    this.last = applied;
    try {
      saveApplied(this.stateDir.appliedFile, applied);
    } catch (e) {
      this.log.warn('could not record the applied state', { file: this.stateDir.appliedFile, err: e as Error });
    }
    const count = (s: string) => artifacts.filter((a) => a.state === s).length;
    const fields = {
      revision: desired.revision,
      from: origin,
      policies: desired.policies.map((p) => p.name),
      applied: count('APPLIED'),
      compiled: count('COMPILED'),
      failed: count('FAILED'),
      ms: Date.now() - started,
    };
    if (fields.failed > 0) this.log.warn('reconciled with failures', { ...fields, failures: artifacts.filter((a) => a.state === 'FAILED').map((a) => `${a.name}: ${a.message}`) });
    else this.log.info('reconciled', fields);
    return applied;
  }
}
