/**
 * One connection to one kvmservice replica: the Sync stream (Hello; desired states down, each
 * handed to the reconciler, its result sent back as Status; heartbeats with the agent's counters)
 * and the PushEvents stream (the uploader). The session ends when either stream fails or ends, or
 * when the agent stops.
 */
import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import type { AgentServiceClient, HostFacts, SyncRequest, SyncResponse__Output } from '@kvmservice/api';
import { desiredFromWire, type Applied } from './desired.js';
import type { Logger } from './log.js';
import type { Reconciler } from './reconciler.js';
import type { Uploader } from './uploader.js';

export interface HeartbeatCounters {
  eventsDropped: number;
  eventsSpooled: number;
  linesUnparsed: number;
}

export interface SessionDeps {
  facts: () => HostFacts;
  reconciler: Reconciler;
  uploader: Uploader;
  counters: () => HeartbeatCounters;
  heartbeatMs: number;
  log: Logger;
}

export interface SessionEnd {
  /** The stream error that ended it (undefined: stopped by the agent, or ended by the server). */
  error?: ServiceError | Error;
  /** A desired state arrived: the session worked, whatever ended it. */
  synced: boolean;
  durationMs: number;
}

export function statusFor(applied: Applied): SyncRequest {
  return {
    status: {
      revision: applied.revision,
      artifacts: applied.artifacts.map((a) => ({ name: a.name, lsm: a.lsm, sha256: a.sha256, state: `ARTIFACT_STATE_${a.state}` as const, message: a.message, policies: a.policies })),
    },
  };
}

export function runSession(client: AgentServiceClient, deps: SessionDeps, stop: AbortSignal): Promise<SessionEnd> {
  const started = Date.now();
  const local = new AbortController();
  let synced = false;
  let ended = false;
  return new Promise((resolve) => {
    const sync: ClientDuplexStream<SyncRequest, SyncResponse__Output> = client.sync();
    const end = (error?: ServiceError | Error) => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      stop.removeEventListener('abort', onStop);
      local.abort();
      sync.removeAllListeners('data');
      sync.on('error', () => undefined);
      sync.cancel();
      resolve({ ...(error ? { error } : {}), synced, durationMs: Date.now() - started });
    };
    const onStop = () => end();
    const send = (message: SyncRequest) => {
      if (!ended) sync.write(message);
    };

    sync.on('data', (message: SyncResponse__Output) => {
      const wire = message.desiredState;
      if (!wire) return;
      synced = true;
      const desired = desiredFromWire(wire);
      deps.log.info('desired state received', { revision: desired.revision, policies: desired.policies.map((p) => p.name), artifacts: desired.artifacts.length });
      void deps.reconciler.submit(desired, 'control-plane').then((outcome) => {
        if (!outcome.superseded) send(statusFor(outcome.applied));
      });
    });
    sync.on('error', (e: ServiceError) => end(e));
    sync.on('end', () => end(new Error('the control plane ended the sync stream')));

    const heartbeat = setInterval(() => send({ heartbeat: deps.counters() }), deps.heartbeatMs);
    stop.addEventListener('abort', onStop, { once: true });
    if (stop.aborted) return end();

    sync.write({ hello: { facts: deps.facts(), appliedRevision: deps.reconciler.applied?.revision ?? 0 } });
    send({ heartbeat: deps.counters() });
    deps.uploader.run(client, local.signal).catch((e: Error) => end(e));
  });
}
