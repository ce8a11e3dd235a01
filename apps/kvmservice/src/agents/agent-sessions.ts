/**
 * The agents this replica serves: at most one Sync session per host (a newer connection replaces
 * the older one), closed at once when the host's credential is revoked.
 */
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Store } from '@kvmservice/store';
import type { Logger } from 'pino';
import { Informer } from '@kvmservice/store';
import type { ServiceKeys } from '../store/service-keys.js';
import { KEYS, LOGGER, STORE } from '../tokens.js';

export interface AgentSession {
  host: string;
  credentialId: string;
  /** Ends the session's streams with the given reason (gRPC status already chosen by the caller). */
  close(reason: 'replaced' | 'revoked' | 'shutdown'): void;
}

@Injectable()
export class AgentSessions implements OnModuleInit, OnModuleDestroy {
  private readonly sessions = new Map<string, Set<AgentSession>>();
  private readonly credentials: Informer;

  constructor(
    @Inject(STORE) store: Store,
    @Inject(KEYS) keys: ServiceKeys,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.credentials = new Informer(store, keys.credential(), (e) => this.log.error({ err: e }, 'credential informer error'));
    this.credentials.on((change) => {
      if (change.next) return;
      const id = change.key.slice(keys.credential().length);
      for (const set of this.sessions.values()) for (const s of [...set]) if (s.credentialId === id) s.close('revoked');
    });
  }

  async onModuleInit(): Promise<void> {
    await this.credentials.start();
  }

  async onModuleDestroy(): Promise<void> {
    for (const set of this.sessions.values()) for (const s of [...set]) s.close('shutdown');
    await this.credentials.stop();
  }

  /** Registers a Sync session; an older Sync session of the same host on this replica is closed. */
  addSync(session: AgentSession): void {
    let set = this.sessions.get(session.host);
    if (!set) this.sessions.set(session.host, (set = new Set()));
    for (const old of [...set]) old.close('replaced');
    set.add(session);
  }

  /** Registers a stream that only needs closing on revocation (PushEvents). */
  addStream(session: AgentSession): void {
    let set = this.sessions.get(`events:${session.host}`);
    if (!set) this.sessions.set(`events:${session.host}`, (set = new Set()));
    set.add(session);
  }

  remove(session: AgentSession): void {
    for (const [key, set] of this.sessions) {
      if (set.delete(session) && set.size === 0) this.sessions.delete(key);
    }
  }

  get connectedHosts(): number {
    return [...this.sessions.keys()].filter((k) => !k.startsWith('events:')).length;
  }
}
