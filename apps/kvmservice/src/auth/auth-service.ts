/**
 * Who is calling: admins (ControlService) hold admin tokens; agents hold a per-host credential
 * obtained by joining with a single-use bootstrap token. Every secret is stored as a SHA-256 hash
 * and never logged; an agent credential fixes the host it may act as.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { hostLabels, NAME_PATTERN, labelProblems } from '@kvmservice/resources';
import type { CommitOperation, Store } from '@kvmservice/store';
import { ApiError } from '../api-error.js';
import type { ServiceKeys } from '../store/service-keys.js';
import { KEYS, STORE } from '../tokens.js';
import { hashSecret, randomSecret, randomToken, secretMatches } from './secrets.js';

const ADMIN_PREFIX = 'kvmadm';
const AGENT_PREFIX = 'kvmagt';
const BOOTSTRAP = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
export const DEFAULT_TOKEN_TTL_SECONDS = 24 * 60 * 60;
export const MAX_TOKEN_TTL_SECONDS = 365 * 24 * 60 * 60;

interface StoredAdminToken {
  hash: string;
  createdAt: number;
  description: string;
}

export interface BootstrapToken {
  id: string;
  hostname: string;
  labels: Record<string, string>;
  expiresAt: number;
  createdAt: number;
  description: string;
  usedBy: string;
}

interface StoredBootstrapToken extends BootstrapToken {
  hash: string;
}

interface StoredCredential {
  host: string;
  hash: string;
  createdAt: number;
}

export type Caller = { role: 'admin'; tokenId: string } | { role: 'agent'; host: string; credentialId: string };

function bearer(metadata: Metadata | undefined): string | undefined {
  const value = metadata?.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(value);
  return m?.[1];
}

function splitPrefixed(token: string, prefix: string): { id: string; secret: string } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== prefix || !/^[a-z0-9]{8,32}$/.test(parts[1]!) || parts[2]!.length < 16) return undefined;
  return { id: parts[1]!, secret: parts[2]! };
}

@Injectable()
export class AuthService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(KEYS) private readonly keys: ServiceKeys,
  ) {}

  private async read<T>(key: string): Promise<T | undefined> {
    const kv = await this.store.get(key);
    return kv ? (JSON.parse(kv.value.toString('utf8')) as T) : undefined;
  }

  // ---- admin tokens -------------------------------------------------------------------------

  async hasAdminTokens(): Promise<boolean> {
    return (await this.store.list(this.keys.adminToken(), { limit: 1 })).items.length > 0;
  }

  /** A new admin token; the secret is returned once and stored only as a hash. */
  async createAdminToken(description: string, now = Date.now()): Promise<string> {
    const id = randomToken(12);
    const secret = randomSecret();
    const stored: StoredAdminToken = { hash: hashSecret(secret), createdAt: now, description };
    await this.store.create(this.keys.adminToken(id), JSON.stringify(stored));
    return `${ADMIN_PREFIX}.${id}.${secret}`;
  }

  /**
   * Makes `tokens` (made by the operator, e.g. in a Kubernetes Secret) the installation's admin
   * tokens: each is stored as a hash under its id, and every other admin token is deleted — so
   * rotation is: list old and new, roll out, hand out the new one, list only the new, roll out.
   * Throws, changing nothing, on a token that is not `kvmadm.<id>.<secret>`.
   */
  async setAdminTokens(tokens: readonly string[], description: string, now = Date.now()): Promise<void> {
    const parsed = tokens.map((t, i) => {
      const p = splitPrefixed(t, ADMIN_PREFIX);
      if (!p || p.secret.length < 32) throw new ApiError('InvalidArgument', `token ${i + 1}: an admin token is kvmadm.<id: 8-32 of a-z0-9>.<secret: at least 32 characters>`);
      return p;
    });
    if (parsed.length === 0) throw new ApiError('InvalidArgument', 'no admin token given');
    const wanted = new Map(parsed.map((p) => [p.id, hashSecret(p.secret)]));
    const operations: CommitOperation[] = [];
    for (const kv of (await this.store.list(this.keys.adminToken())).items) {
      const id = kv.key.slice(this.keys.adminToken().length);
      const stored = JSON.parse(kv.value.toString('utf8')) as StoredAdminToken;
      if (wanted.get(id) === stored.hash) wanted.delete(id);
      else operations.push({ type: 'delete', key: kv.key, expectRevision: kv.modRevision });
    }
    for (const [id, hash] of wanted) operations.push({ type: 'put', key: this.keys.adminToken(id), value: JSON.stringify({ hash, createdAt: now, description } satisfies StoredAdminToken) });
    if (operations.length > 0) await this.store.commit(operations);
  }

  /** The caller of a ControlService method; anything but a valid admin token is refused. */
  async authenticateAdmin(metadata: Metadata | undefined): Promise<Caller> {
    const token = bearer(metadata);
    if (!token) throw new ApiError('Unauthenticated', 'missing admin token (authorization: Bearer <token>)');
    const admin = splitPrefixed(token, ADMIN_PREFIX);
    if (admin) {
      const stored = await this.read<StoredAdminToken>(this.keys.adminToken(admin.id));
      if (stored && secretMatches(admin.secret, stored.hash)) return { role: 'admin', tokenId: admin.id };
      throw new ApiError('Unauthenticated', 'invalid admin token');
    }
    if (splitPrefixed(token, AGENT_PREFIX)) {
      // A valid agent credential is still refused: agents never administer.
      if (await this.agentFor(token)) throw new ApiError('PermissionDenied', 'agent credentials cannot use the control API');
    }
    throw new ApiError('Unauthenticated', 'invalid admin token');
  }

  // ---- agent credentials --------------------------------------------------------------------

  private async agentFor(token: string): Promise<Caller | undefined> {
    const parsed = splitPrefixed(token, AGENT_PREFIX);
    if (!parsed) return undefined;
    const stored = await this.read<StoredCredential>(this.keys.credential(parsed.id));
    if (!stored || !secretMatches(parsed.secret, stored.hash)) return undefined;
    return { role: 'agent', host: stored.host, credentialId: parsed.id };
  }

  /** The host an agent call acts as; fixed by its credential, never by what the agent says. */
  async authenticateAgent(metadata: Metadata | undefined): Promise<{ host: string; credentialId: string }> {
    const token = bearer(metadata);
    if (!token) throw new ApiError('Unauthenticated', 'missing agent credential (authorization: Bearer <credential>)');
    const caller = await this.agentFor(token);
    if (!caller || caller.role !== 'agent') throw new ApiError('Unauthenticated', 'invalid or revoked agent credential');
    return { host: caller.host, credentialId: caller.credentialId };
  }

  /** Whether a credential is still valid (streams re-check when credentials change). */
  async credentialValid(credentialId: string): Promise<boolean> {
    return (await this.store.get(this.keys.credential(credentialId))) !== undefined;
  }

  /**
   * The writes that issue a host's credential, replacing (and so revoking) any previous one: for
   * one atomic commit with the rest of a join. The secret is returned once, stored only hashed.
   */
  async credentialWrites(host: string, now = Date.now()): Promise<{ credential: string; operations: CommitOperation[] }> {
    const id = randomToken(16);
    const secret = randomSecret();
    const previous = await this.store.get(this.keys.hostCredential(host));
    const previousId = previous ? (JSON.parse(previous.value.toString('utf8')) as { id: string }).id : undefined;
    const operations: CommitOperation[] = [
      { type: 'create', key: this.keys.credential(id), value: JSON.stringify({ host, hash: hashSecret(secret), createdAt: now } satisfies StoredCredential) },
      previous
        ? { type: 'update', key: this.keys.hostCredential(host), value: JSON.stringify({ id }), expectRevision: previous.modRevision }
        : { type: 'create', key: this.keys.hostCredential(host), value: JSON.stringify({ id }) },
    ];
    if (previousId && (await this.store.get(this.keys.credential(previousId)))) operations.push({ type: 'delete', key: this.keys.credential(previousId) });
    return { credential: `${AGENT_PREFIX}.${id}.${secret}`, operations };
  }

  async hostHasCredential(host: string): Promise<boolean> {
    const index = await this.read<{ id: string }>(this.keys.hostCredential(host));
    return index !== undefined && (await this.store.get(this.keys.credential(index.id))) !== undefined;
  }

  /** Revokes a host's credential; its streams are closed by the replicas serving them. */
  async revokeCredential(host: string): Promise<void> {
    const index = await this.read<{ id: string }>(this.keys.hostCredential(host));
    if (!index) throw new ApiError('NotFound', `host "${host}" has no agent credential`);
    await this.store.delete(this.keys.credential(index.id)).catch(() => undefined);
    await this.store.delete(this.keys.hostCredential(host)).catch(() => undefined);
  }

  // ---- bootstrap tokens ---------------------------------------------------------------------

  async createBootstrapToken(request: { hostname?: string; labels?: Record<string, string>; ttlSeconds?: number; description?: string }, now = Date.now()): Promise<{ token: BootstrapToken; secret: string }> {
    const hostname = request.hostname ?? '';
    if (hostname !== '' && (!NAME_PATTERN.test(hostname) || hostname.length > 253)) {
      throw new ApiError('InvalidArgument', `hostname: ${JSON.stringify(hostname)} is not a valid host name (lowercase RFC 1123)`);
    }
    const labels = request.labels ?? {};
    const problem = labelProblems(labels);
    if (problem) throw new ApiError('InvalidArgument', `labels: ${problem}`);
    const ttl = request.ttlSeconds && request.ttlSeconds > 0 ? request.ttlSeconds : DEFAULT_TOKEN_TTL_SECONDS;
    if (ttl > MAX_TOKEN_TTL_SECONDS) throw new ApiError('InvalidArgument', `ttl: at most ${MAX_TOKEN_TTL_SECONDS} seconds`);
    const id = randomToken(6);
    const secret = randomToken(16);
    const token: BootstrapToken = { id, hostname, labels, expiresAt: now + ttl * 1000, createdAt: now, description: request.description ?? '', usedBy: '' };
    await this.store.create(this.keys.bootstrapToken(id), JSON.stringify({ ...token, hash: hashSecret(secret) } satisfies StoredBootstrapToken));
    return { token, secret: `${id}.${secret}` };
  }

  async listBootstrapTokens(): Promise<BootstrapToken[]> {
    const { items } = await this.store.list(this.keys.bootstrapToken());
    return items.map((kv) => {
      const { hash: _hash, ...token } = JSON.parse(kv.value.toString('utf8')) as StoredBootstrapToken;
      return token;
    });
  }

  async revokeBootstrapToken(id: string): Promise<void> {
    try {
      await this.store.delete(this.keys.bootstrapToken(id));
    } catch {
      throw new ApiError('NotFound', `token "${id}" not found`);
    }
  }

  /**
   * Checks a bootstrap token for a join: valid, unexpired, unused. Returns the host name and labels
   * the join gets, and the write that marks the token used — conditional on the token being
   * unchanged, so that of two concurrent joins with one token only one commits.
   */
  async checkBootstrapToken(
    token: string,
    requestedHost: string,
    requestedLabels: Record<string, string>,
    now = Date.now(),
  ): Promise<{ host: string; tokenLabels: Record<string, string>; agentLabels: Record<string, string>; boundToHost: boolean; markUsed: CommitOperation }> {
    const m = BOOTSTRAP.exec(token);
    const refuse = () => new ApiError('Unauthenticated', 'invalid, expired or already used bootstrap token');
    if (!m) throw refuse();
    const kv = await this.store.get(this.keys.bootstrapToken(m[1]!));
    if (!kv) throw refuse();
    const stored = JSON.parse(kv.value.toString('utf8')) as StoredBootstrapToken;
    if (!secretMatches(m[2]!, stored.hash) || stored.usedBy !== '' || stored.expiresAt <= now) throw refuse();
    const host = stored.hostname !== '' ? stored.hostname : requestedHost;
    if (stored.hostname !== '' && requestedHost !== '' && requestedHost !== stored.hostname) {
      throw new ApiError('PermissionDenied', `this token is for host "${stored.hostname}", not "${requestedHost}"`);
    }
    if (!NAME_PATTERN.test(host) || host.length > 253) throw new ApiError('InvalidArgument', `hostname: ${JSON.stringify(host)} is not a valid host name (lowercase RFC 1123)`);
    const problem = labelProblems(requestedLabels);
    if (problem) throw new ApiError('InvalidArgument', `labels: ${problem}`);
    // A token not bound to a host cannot take over a host that has already joined.
    if (stored.hostname === '' && (await this.hostHasCredential(host))) {
      throw new ApiError('PermissionDenied', `host "${host}" has already joined; use its credential, or a token created for it (kvmctl token create --hostname ${host})`);
    }
    const markUsed: CommitOperation = { type: 'update', key: this.keys.bootstrapToken(stored.id), value: JSON.stringify({ ...stored, usedBy: host }), expectRevision: kv.modRevision };
    const builtIn = hostLabels(host, {});
    const agentLabels = Object.fromEntries(Object.entries(requestedLabels).filter(([k]) => !(k in builtIn)));
    return { host, tokenLabels: stored.labels, agentLabels, boundToHost: stored.hostname !== '', markUsed };
  }
}
