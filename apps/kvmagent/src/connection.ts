/**
 * Connection: keeps the agent talking to the control plane. Servers from `--server` are tried in
 * turn with jittered exponential backoff; a session that worked resets the backoff.
 *
 * Identity: the credential in the state dir, or — when there is none, it is corrupt, or the
 * control plane refuses it — a join with the bootstrap token. Problems only a person can fix (a
 * spent or wrong token, a refused credential and no new token) are logged once per attempt, on a
 * slow retry (every 5 minutes, or at once on SIGHUP, which also re-reads the token from the
 * config file): the agent keeps enforcing its last desired state and spooling events meanwhile,
 * and never exits into a restart loop.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { createAgentClient, unary, type AgentServiceClient, type ConnectionOptions, type HostFacts, type JoinResponse__Output } from '@kvmservice/api';
import { Backoff, sleep } from './backoff.js';
import { currentToken, type AgentConfig } from './config.js';
import { readCredential, saveCredential, sha256Hex, type StoredCredential } from './credential.js';
import { runSession, type SessionDeps } from './session.js';
import { quarantine, writeFileAtomic, type StateDir } from './state-dir.js';

export const OPERATOR_RETRY_MS = 5 * 60_000;

/** Join refusals that a retry with the same token cannot fix. */
const PERMANENT = new Set<number>([GrpcStatus.UNAUTHENTICATED, GrpcStatus.PERMISSION_DENIED, GrpcStatus.INVALID_ARGUMENT, GrpcStatus.FAILED_PRECONDITION, GrpcStatus.NOT_FOUND, GrpcStatus.ALREADY_EXISTS]);

export interface ConnectionState {
  connected: boolean;
  server?: string;
  hostname: string;
  /** A problem that needs a person (bad token, refused credential), until it is solved. */
  problem?: string;
  lastError?: string;
}

export interface ConnectionDeps extends Omit<SessionDeps, 'facts'> {
  config: AgentConfig;
  stateDir: StateDir;
  facts: () => HostFacts;
  /** The host name is known (from the credential or the join). */
  onHostname(name: string): void;
  env?: Record<string, string | undefined>;
}

export class Connection {
  readonly state: ConnectionState;
  private credential: StoredCredential | undefined;
  /** sha256 of tokens the control plane refused (spent, expired, wrong): not tried again. */
  private readonly refusedTokens = new Set<string>();
  /** sha256 of a credential the control plane refused. */
  private refusedCredential: string | undefined;
  private wake: AbortController = new AbortController();
  private readonly backoff: Backoff;

  constructor(private readonly deps: ConnectionDeps) {
    this.state = { connected: false, hostname: deps.config.hostname };
    this.backoff = new Backoff({ baseMs: 500, maxMs: deps.config.maxBackoffSeconds * 1000 });
  }

  /** Stop waiting and try now (SIGHUP). */
  retryNow(): void {
    this.wake.abort();
  }

  private async wait(ms: number, stop: AbortSignal): Promise<void> {
    this.wake = new AbortController();
    const both = AbortSignal.any([stop, this.wake.signal]);
    await sleep(ms, both);
  }

  private options(address: string, token?: string): ConnectionOptions {
    const channelOptions = { 'grpc.keepalive_time_ms': 60_000, 'grpc.keepalive_timeout_ms': 20_000, 'grpc.initial_reconnect_backoff_ms': 500, 'grpc.max_reconnect_backoff_ms': 2000 };
    if (this.deps.config.insecure) return { address, insecure: true, ...(token ? { token } : {}), channelOptions };
    const caFile = this.deps.config.ca ?? this.deps.stateDir.caFile;
    return { address, caPem: readFileSync(caFile), ...(token ? { token } : {}), channelOptions };
  }

  /** The stored credential, or undefined (missing, corrupt — moved aside —, or refused before). */
  private loadCredential(): StoredCredential | undefined {
    const file = this.deps.config.credentialFile;
    const read = readCredential(file);
    if (read.kind === 'missing') return undefined;
    if (read.kind === 'corrupt') {
      const aside = quarantine(file);
      this.deps.log.error(`credential file ${file} is corrupt (${read.reason}); moved to ${aside}; the host must join again with a bootstrap token`, { file });
      return undefined;
    }
    if (read.value.sha256 === this.refusedCredential) return undefined;
    return read.value;
  }

  async run(stop: AbortSignal): Promise<void> {
    const { config, log } = this.deps;
    const servers = config.servers;
    let index = 0;
    while (!stop.aborted) {
      const address = servers[index % servers.length]!;
      this.credential ??= this.loadCredential();
      if (this.credential) this.setHostname(this.credential.hostname);
      if (!this.credential) {
        const joined = await this.tryJoin(address, stop);
        if (joined === 'operator') {
          await this.wait(OPERATOR_RETRY_MS, stop);
          continue;
        }
        if (joined === 'transient') {
          index++;
          await this.wait(this.backoff.next(), stop);
          continue;
        }
        this.credential = joined;
      }
      const client = createAgentClient(this.options(address, this.credential.credential));
      this.state.connected = true;
      this.state.server = address;
      log.info('connecting', { server: address, host: this.credential.hostname });
      const end = await runSession(client, { ...this.deps, facts: this.deps.facts }, stop);
      client.close();
      this.state.connected = false;
      if (stop.aborted) break;
      const error = end.error as ServiceError | undefined;
      this.state.lastError = error?.message;
      if (end.synced) this.backoff.reset();
      if (error?.code === GrpcStatus.UNAUTHENTICATED) {
        this.refusedCredential = this.credential.sha256;
        this.credential = undefined;
        this.state.problem = `the control plane refused this host's credential (${error.details || error.message}): revoked or unknown; put a new bootstrap token (kvmctl token create --hostname ${this.state.hostname}) in the config and send SIGHUP`;
        log.error(this.state.problem, { server: address });
        continue;
      }
      if (end.synced) this.state.problem = undefined;
      log.warn('disconnected from the control plane', { server: address, error: error?.details ?? error?.message, afterMs: end.durationMs });
      index++;
      await this.wait(this.backoff.next(), stop);
    }
  }

  private setHostname(name: string): void {
    if (this.state.hostname === name) return;
    this.state.hostname = name;
    this.deps.onHostname(name);
  }

  private async tryJoin(address: string, stop: AbortSignal): Promise<StoredCredential | 'operator' | 'transient'> {
    const { config, log, stateDir } = this.deps;
    const token = currentToken(config, this.deps.env ?? process.env);
    if (!token) {
      this.state.problem = `no usable credential (${config.credentialFile}) and no bootstrap token: set --token, KVMAGENT_TOKEN or token: in the config, then send SIGHUP`;
      log.error(this.state.problem);
      return 'operator';
    }
    const tokenSha = sha256Hex(token);
    if (this.refusedTokens.has(tokenSha)) {
      log.error(this.state.problem ?? 'the bootstrap token was refused before; waiting for a new one (SIGHUP to retry)');
      return 'operator';
    }
    let client: AgentServiceClient | undefined;
    try {
      client = createAgentClient(this.options(address));
      log.info('joining', { server: address, hostname: config.hostname, labels: config.labels });
      const response: JoinResponse__Output = await unary(client.join.bind(client), { token, hostname: config.hostname, labels: config.labels, facts: this.deps.facts() }, 30_000);
      const stored = saveCredential(config.credentialFile, response.hostname, response.credential, token);
      if (response.caCertificatePem) {
        mkdirSync(dirname(stateDir.caFile), { recursive: true });
        writeFileAtomic(stateDir.caFile, response.caCertificatePem);
      }
      this.state.problem = undefined;
      this.setHostname(response.hostname);
      log.info('joined', { server: address, host: response.hostname, credential: config.credentialFile });
      return stored;
    } catch (e) {
      const error = e as ServiceError;
      if (stop.aborted) return 'transient';
      if (typeof error.code === 'number' && PERMANENT.has(error.code)) {
        this.refusedTokens.add(tokenSha);
        this.state.problem = `join refused by ${address}: ${error.details || error.message}; create a new token (kvmctl token create --hostname ${config.hostname}), put it in the config and send SIGHUP`;
        log.error(this.state.problem);
        return 'operator';
      }
      log.warn('join failed; retrying', { server: address, error: error.details || error.message });
      return 'transient';
    } finally {
      client?.close();
    }
  }
}

/** Whether the agent can speak TLS to the control plane at all (checked at start). */
export function caProblem(config: AgentConfig, stateDir: StateDir): string | undefined {
  if (config.insecure) return undefined;
  if (config.ca) return existsSync(config.ca) ? undefined : `--ca ${config.ca}: no such file`;
  if (existsSync(stateDir.caFile)) return undefined;
  return `no CA certificate to check the control plane with: pass --ca FILE (kvmservice's ca.crt) or --insecure`;
}
