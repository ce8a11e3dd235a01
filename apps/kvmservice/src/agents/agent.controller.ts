/**
 * AgentService: Join (bootstrap token → credential), Sync (desired state down, status up),
 * PushEvents (event batches up, acks down). Every stream call authenticates by credential, and
 * the credential alone fixes the host.
 */
import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod, GrpcStreamCall } from '@nestjs/microservices';
import { status as GrpcStatus, type Metadata, type ServerDuplexStream } from '@grpc/grpc-js';
import type {
  JoinRequest__Output,
  JoinResponse,
  PushEventsRequest__Output,
  PushEventsResponse,
  SyncRequest__Output,
  SyncResponse,
} from '@kvmservice/api';
import { VIRTUAL_MACHINE } from '@kvmservice/resources';
import { AlreadyExistsError, ConflictError, type Store } from '@kvmservice/store';
import type { Logger } from 'pino';
import { ApiError } from '../api-error.js';
import { AuthService } from '../auth/auth-service.js';
import type { TlsMaterial } from '../auth/certificates.js';
import { DesiredStateService } from '../desired/desired-state.service.js';
import type { DesiredStateView } from '../desired/desired-state.js';
import { failStream, rpcException } from '../grpc/rpc-errors.js';
import { HostStatusService } from '../hosts/host-status.service.js';
import { SessionStatusWriter } from '../hosts/session-status-writer.js';
import { ReplicaService } from '../hosts/replica.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ObjectService } from '../objects/object-service.js';
import { AttributionService } from '../telemetry/attribution.service.js';
import { TelemetryService } from '../telemetry/telemetry.service.js';
import { LOGGER, STORE, TLS } from '../tokens.js';
import { AgentSessions, type AgentSession } from './agent-sessions.js';

/** An agent's stream: its identity, and whether it has ended. */
interface StreamSession extends AgentSession {
  readonly closed: boolean;
  /** Marks the stream ended (its handler is done). */
  finish(): void;
}
import { artifactStatusView, desiredStateToWire, factsView } from './wire.js';

const HELLO_TIMEOUT_MS = 15_000;
/** Heartbeats refresh the stored status at most this often (unless counters changed). */
const HEARTBEAT_WRITE_INTERVAL_MS = 30_000;

@Controller()
export class AgentController {
  constructor(
    private readonly auth: AuthService,
    private readonly objects: ObjectService,
    private readonly desired: DesiredStateService,
    private readonly status: HostStatusService,
    private readonly sessions: AgentSessions,
    private readonly telemetry: TelemetryService,
    private readonly attribution: AttributionService,
    private readonly metrics: MetricsService,
    private readonly replica: ReplicaService,
    @Inject(STORE) private readonly store: Store,
    @Inject(TLS) private readonly tls: TlsMaterial | undefined,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  @GrpcMethod('AgentService', 'Join')
  async join(request: JoinRequest__Output, _metadata: Metadata): Promise<JoinResponse> {
    const stop = this.metrics.grpcTimer('Join');
    try {
      const joined = await this.auth.checkBootstrapToken(request.token, request.hostname, request.labels ?? {});
      const found = await this.objects.find(VIRTUAL_MACHINE, joined.host);
      // Labels: what the agent asks for, then what an admin already set, then the token's (which win).
      const labels = { ...joined.agentLabels, ...(found?.object.metadata.labels ?? {}), ...joined.tokenLabels };
      const hostWrite = await this.objects.hostWrite(joined.host, labels);
      const { credential, operations } = await this.auth.credentialWrites(joined.host);
      // Token used, host written, credential issued: all at once or not at all. A concurrent join
      // with the same token, or a concurrent change of the host, fails the preconditions.
      try {
        await this.store.commit([joined.markUsed, ...(hostWrite ? [hostWrite] : []), ...operations]);
      } catch (e) {
        if ((e instanceof ConflictError || e instanceof AlreadyExistsError) && e.key === joined.markUsed.key) {
          throw new ApiError('Unauthenticated', 'invalid, expired or already used bootstrap token');
        }
        if (e instanceof ConflictError || e instanceof AlreadyExistsError) throw new ApiError('Conflict', `host "${joined.host}" changed during the join; join again`);
        throw e;
      }
      await this.status.update(joined.host, (s) => ({ ...s, facts: { ...(request.facts ?? {}) } }));
      this.log.info({ host: joined.host, boundToken: joined.boundToHost }, 'host joined');
      this.metrics.joins.inc({ result: 'ok' });
      return { hostname: joined.host, credential, caCertificatePem: this.tls?.caCertPem ?? '' };
    } catch (e) {
      this.metrics.joins.inc({ result: e instanceof ApiError ? e.code : 'error' });
      throw rpcException(e, this.log);
    } finally {
      stop();
    }
  }

  /**
   * Authenticates a stream by the agent's credential and makes the session that can end it (when
   * the host's credential is revoked, or a newer session replaces it). Undefined when refused: the
   * call has then already ended with the refusal.
   */
  private async openSession(call: ServerDuplexStream<unknown, unknown>): Promise<StreamSession | undefined> {
    let identity: { host: string; credentialId: string };
    try {
      identity = await this.auth.authenticateAgent(call.metadata);
    } catch (e) {
      failStream(call, e, this.log);
      return undefined;
    }
    let closed = false;
    return {
      ...identity,
      get closed() {
        return closed;
      },
      finish: () => {
        closed = true;
      },
      close: (reason) => {
        if (closed) return;
        closed = true;
        const code = reason === 'revoked' ? GrpcStatus.UNAUTHENTICATED : GrpcStatus.UNAVAILABLE;
        call.emit('error', { code, details: reason === 'revoked' ? 'agent credential revoked' : `session ${reason}` });
      },
    };
  }

  @GrpcStreamCall('AgentService', 'Sync')
  async sync(call: ServerDuplexStream<SyncRequest__Output, SyncResponse>): Promise<void> {
    const session = await this.openSession(call);
    if (!session) return;
    const { host } = session;
    let unsubscribe: (() => void) | undefined;
    const sent = new Map<number, DesiredStateView>();
    let lastHeartbeatWrite = 0;
    let lastCounters = '';
    const statusWriter = new SessionStatusWriter(this.status, host, this.log);
    try {
      // Not the default iterator: it destroys the stream when the client half-closes, and then no
      // status is ever sent.
      const iterator = call.iterator({ destroyOnReturn: false }) as AsyncIterator<SyncRequest__Output>;
      const first = await Promise.race([
        iterator.next(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new ApiError('FailedPrecondition', 'expected Hello as the first message')), HELLO_TIMEOUT_MS).unref()),
      ]);
      if (first.done || first.value.message !== 'hello' || !first.value.hello) throw new ApiError('FailedPrecondition', 'expected Hello as the first message');
      const hello = first.value.hello;
      const facts = factsView(hello.facts);
      this.sessions.addSync(session);
      await this.status.markConnected(host);
      await statusWriter.write((s) => ({
        ...s,
        facts: { ...(hello.facts ?? {}) },
        agent: { ...s.agent, version: hello.facts?.agentVersion ?? '', replica: this.replica.id, connectedAt: new Date().toISOString(), lastHeartbeat: new Date().toISOString() },
      }));
      this.log.info({ host, enforcer: facts.enforcer, dryRun: facts.dryRun, appliedRevision: hello.appliedRevision }, 'agent connected');
      this.metrics.agentsConnected.set(this.sessions.connectedHosts);

      unsubscribe = this.desired.subscribe(host, facts, (state) => {
        if (session.closed) return;
        sent.set(state.revision, state);
        this.attribution.remember(host, state.attribution, state.evaluation);
        while (sent.size > 16) sent.delete(sent.keys().next().value!);
        call.write({ desiredState: desiredStateToWire(state) });
        this.metrics.desiredPushes.inc();
        statusWriter.desired(state);
      });

      for (;;) {
        const next = await iterator.next();
        if (next.done || session.closed) break;
        const message = next.value;
        if (message.message === 'status' && message.status) {
          const applied = message.status;
          const view = sent.get(applied.revision);
          const artifacts = applied.artifacts.map(artifactStatusView);
          await statusWriter.write((s) => ({ ...s, applied: { revision: applied.revision, hash: view?.hash ?? '', artifacts, at: new Date().toISOString() } }));
          if (view) this.metrics.appliedLag.observe(Math.max(0, this.desired.revision - applied.revision));
        } else if (message.message === 'heartbeat' && message.heartbeat) {
          const hb = message.heartbeat;
          const counters = `${hb.eventsDropped}/${hb.eventsSpooled}/${hb.linesUnparsed}`;
          const now = Date.now();
          if (counters !== lastCounters || now - lastHeartbeatWrite > HEARTBEAT_WRITE_INTERVAL_MS) {
            lastCounters = counters;
            lastHeartbeatWrite = now;
            this.metrics.agentEventsDropped.set({ host }, hb.eventsDropped);
            await statusWriter.write((s) => ({
              ...s,
              agent: { ...s.agent, lastHeartbeat: new Date(now).toISOString(), eventsDropped: hb.eventsDropped, eventsSpooled: hb.eventsSpooled, linesUnparsed: hb.linesUnparsed },
            }));
          }
        }
      }
      if (!session.closed) call.end();
    } catch (e) {
      if (!session.closed && !call.cancelled) failStream(call, e, this.log);
    } finally {
      session.finish();
      unsubscribe?.();
      this.sessions.remove(session);
      await this.status.markDisconnected(host).catch(() => undefined);
      this.metrics.agentsConnected.set(this.sessions.connectedHosts);
      this.log.info({ host }, 'agent disconnected');
    }
  }

  @GrpcStreamCall('AgentService', 'PushEvents')
  async pushEvents(call: ServerDuplexStream<PushEventsRequest__Output, PushEventsResponse>): Promise<void> {
    const session = await this.openSession(call);
    if (!session) return;
    this.sessions.addStream(session);
    try {
      // One batch at a time: the next is read only after this one is stored (gRPC flow control
      // then holds the agent back), so a slow store never makes memory grow.
      for await (const batch of call.iterator({ destroyOnReturn: false }) as AsyncIterable<PushEventsRequest__Output>) {
        if (session.closed) break;
        const ackedUpTo = await this.telemetry.ingest(session.host, batch);
        if (!call.write({ ackedUpToSeq: ackedUpTo })) await new Promise((r) => call.once('drain', r));
      }
      if (!session.closed) call.end();
    } catch (e) {
      if (!session.closed && !call.cancelled) failStream(call, e, this.log);
    } finally {
      session.finish();
      this.sessions.remove(session);
    }
  }
}
