/**
 * This replica: an id and a lease that lives as long as the process does. Keys that describe what
 * this replica serves (host presence) hang off the lease, so they vanish when the replica dies.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Lease, Store } from '@kvmservice/store';
import type { Logger } from 'pino';
import { LOGGER, STORE } from '../tokens.js';

export const REPLICA_LEASE_TTL_SECONDS = 10;

@Injectable()
export class ReplicaService implements OnModuleInit, OnModuleDestroy {
  readonly id = `${hostname()}-${randomUUID().slice(0, 8)}`;
  private current: Lease | undefined;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.lease();
  }

  /** The replica's lease, renewed in the background; replaced if it is ever lost. */
  async lease(): Promise<Lease> {
    if (this.current && !this.current.lost.aborted) return this.current;
    this.current = await this.store.lease(REPLICA_LEASE_TTL_SECONDS);
    this.current.lost.addEventListener('abort', () => this.log.warn({ replica: this.id }, 'replica lease lost; presence keys will be re-created'), { once: true });
    return this.current;
  }

  async onModuleDestroy(): Promise<void> {
    // Revoke so that hosts show as disconnected at once, not after the TTL.
    await this.current?.revoke().catch(() => undefined);
  }
}
