/**
 * Runs a singleton job on one replica at a time: the leader of an election on the store, held on
 * the replica's lease (so a dead replica's term ends when its lease does). `lead` runs for one
 * term and must return once `term` aborts (leadership lost, or this replica stopping); the loop
 * then resigns and campaigns again until `stop` aborts.
 */
import { Election, type Store } from '@kvmservice/store';
import type { Logger } from 'pino';
import type { ReplicaService } from './replica.service.js';

export interface LeaderLoopOptions {
  store: Store;
  /** Election key (ServiceKeys.election(name)). */
  key: string;
  /** For logs: what this replica leads. */
  name: string;
  replica: ReplicaService;
  log: Logger;
  /** Aborted when the replica stops. */
  stop: AbortSignal;
  /** Told when this replica starts and stops leading (metrics). */
  onLeading?: (leading: boolean) => void;
}

/** Resolves after `ms`, or as soon as any signal aborts. */
export function sleep(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', done);
      resolve();
    }
    for (const s of signals) s.addEventListener('abort', done, { once: true });
    if (signals.some((s) => s.aborted)) done();
  });
}

export async function runAsLeader(options: LeaderLoopOptions, lead: (term: AbortSignal, stillLeading: () => boolean) => Promise<void>): Promise<void> {
  const { store, key, name, replica, log, stop, onLeading } = options;
  const election = new Election(store, key);
  while (!stop.aborted) {
    try {
      const leadership = await election.campaign(replica.id, { signal: stop, lease: await replica.lease() });
      log.info({ replica: replica.id }, `leading ${name}`);
      const term = new AbortController();
      const end = () => term.abort();
      leadership.lost.addEventListener('abort', end, { once: true });
      stop.addEventListener('abort', end, { once: true });
      if (leadership.lost.aborted || stop.aborted) end();
      onLeading?.(true);
      try {
        await lead(term.signal, () => !leadership.lost.aborted);
      } catch (e) {
        if (!term.signal.aborted) log.warn({ err: e }, `${name} failed; campaigning again`);
      } finally {
        onLeading?.(false);
        stop.removeEventListener('abort', end);
      }
      await leadership.resign().catch(() => undefined);
      if (!stop.aborted) await sleep(1000, stop);
    } catch (e) {
      if (stop.aborted) return;
      log.warn({ err: e }, `${name} election failed; retrying`);
      await sleep(5000, stop);
    }
  }
}
