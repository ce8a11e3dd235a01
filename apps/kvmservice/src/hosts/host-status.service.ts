/**
 * Host status: what the agent reported (facts, heartbeats, applied state), what it should run
 * (desired), conditions, and whether it is connected (a presence key on the serving replica's
 * lease). Kept apart from the host object so that status writes never touch the user's object.
 */
import { Inject, Injectable } from '@nestjs/common';
import { VIRTUAL_MACHINE, type Resource, type ResourceKind } from '@kvmservice/resources';
import { ConflictError, MAX_VALUE_BYTES, type Store } from '@kvmservice/store';
import { ApiError } from '../api-error.js';
import type { ServiceKeys } from '../store/service-keys.js';
import { KEYS, STORE } from '../tokens.js';
import { ReplicaService } from './replica.service.js';

export interface ArtifactStatusView {
  name: string;
  lsm: string;
  sha256: string;
  state: string;
  message: string;
  policies: string[];
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface HostStatusRecord {
  facts?: Record<string, unknown>;
  agent?: {
    version?: string;
    replica?: string;
    connectedAt?: string;
    lastHeartbeat?: string;
    eventsDropped?: number;
    eventsSpooled?: number;
    linesUnparsed?: number;
  };
  desired?: { revision: number; hash: string; policies: { kind: string; name: string; resourceVersion: string }[]; problems: { policy: string; field: string; reason: string }[]; at: string };
  applied?: { revision: number; hash: string; artifacts: ArtifactStatusView[]; at: string };
  conditions?: Condition[];
}

function setCondition(conditions: Condition[], next: Omit<Condition, 'lastTransitionTime'>, now: string): Condition[] {
  const current = conditions.find((c) => c.type === next.type);
  const changed = !current || current.status !== next.status || current.reason !== next.reason;
  const condition = { ...next, lastTransitionTime: changed ? now : current.lastTransitionTime };
  return [...conditions.filter((c) => c.type !== next.type), condition].sort((a, b) => (a.type < b.type ? -1 : 1));
}

/** PolicyApplied and RulesEnforceable, from desired vs applied. */
export function withConditions(status: HostStatusRecord, now: string): HostStatusRecord {
  let conditions = status.conditions ?? [];
  const desired = status.desired;
  const applied = status.applied;
  let policyApplied: Omit<Condition, 'lastTransitionTime'>;
  if (!desired) policyApplied = { type: 'PolicyApplied', status: 'Unknown', reason: 'NoDesiredState', message: 'the agent has not connected yet' };
  else if (!applied || applied.hash !== desired.hash) policyApplied = { type: 'PolicyApplied', status: 'False', reason: 'Pending', message: `revision ${desired.revision} not applied yet${applied ? ` (applied: ${applied.revision})` : ''}` };
  else {
    const failed = applied.artifacts.filter((a) => a.state === 'FAILED');
    const compiledOnly = applied.artifacts.filter((a) => a.state === 'COMPILED');
    if (failed.length > 0) policyApplied = { type: 'PolicyApplied', status: 'False', reason: 'Failed', message: failed.map((a) => `${a.name}: ${a.message}`).join('; ') };
    else if (compiledOnly.length > 0) policyApplied = { type: 'PolicyApplied', status: 'False', reason: 'Unenforced', message: `compiled only, not loaded: ${compiledOnly[0]!.message || 'dry run or no LSM on the host'}` };
    else policyApplied = { type: 'PolicyApplied', status: 'True', reason: 'Applied', message: `revision ${applied.revision} applied` };
  }
  conditions = setCondition(conditions, policyApplied, now);
  if (desired) {
    const problems = desired.problems;
    conditions = setCondition(
      conditions,
      problems.length === 0
        ? { type: 'RulesEnforceable', status: 'True', reason: 'AllRulesEnforceable', message: 'every rule of the selected policies is enforced by the host LSM' }
        : { type: 'RulesEnforceable', status: 'False', reason: 'UnenforceableRules', message: problems.map((p) => `${p.policy} ${p.field}: ${p.reason}`).join('; ') },
      now,
    );
  }
  return { ...status, conditions };
}

@Injectable()
export class HostStatusService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(KEYS) private readonly keys: ServiceKeys,
    private readonly replica: ReplicaService,
  ) {}

  async get(host: string): Promise<HostStatusRecord | undefined> {
    const kv = await this.store.get(this.keys.hostStatus(host));
    return kv ? (JSON.parse(kv.value.toString('utf8')) as HostStatusRecord) : undefined;
  }

  /** Read-modify-write of a host's status; conditions are recomputed on every change. */
  async update(host: string, mutate: (status: HostStatusRecord) => HostStatusRecord, now = new Date()): Promise<HostStatusRecord> {
    const key = this.keys.hostStatus(host);
    for (let attempt = 0; ; attempt++) {
      const kv = await this.store.get(key);
      const current = kv ? (JSON.parse(kv.value.toString('utf8')) as HostStatusRecord) : {};
      const next = withConditions(mutate(current), now.toISOString());
      const value = JSON.stringify(next);
      const bytes = Buffer.byteLength(value, 'utf8');
      // Only an agent's report can grow a status this far (thousands of artifacts): its error.
      if (bytes > MAX_VALUE_BYTES) throw new ApiError('InvalidArgument', `status of host ${host}: ${bytes} bytes, more than the ${MAX_VALUE_BYTES} bytes a host status may take`);
      try {
        if (kv) await this.store.update(key, value, { expectRevision: kv.modRevision });
        else await this.store.create(key, value);
        return next;
      } catch (e) {
        if (attempt < 10 && (e instanceof ConflictError || (e as { code?: string }).code === 'AlreadyExists')) continue;
        throw e;
      }
    }
  }

  async markConnected(host: string, now = new Date()): Promise<void> {
    const lease = await this.replica.lease();
    await this.store.put(this.keys.presence(host), JSON.stringify({ replica: this.replica.id, since: now.toISOString() }), { lease });
  }

  /** Removes the presence key if this replica still owns it (the agent may have moved on). */
  async markDisconnected(host: string): Promise<void> {
    const kv = await this.store.get(this.keys.presence(host));
    if (!kv) return;
    const owner = (JSON.parse(kv.value.toString('utf8')) as { replica: string }).replica;
    if (owner === this.replica.id) await this.store.delete(this.keys.presence(host), { expectRevision: kv.modRevision }).catch(() => undefined);
  }

  async connectedHosts(): Promise<Map<string, { replica: string; since: string }>> {
    const { items } = await this.store.list(this.keys.presence());
    return new Map(items.map((kv) => [kv.key.slice(this.keys.presence().length), JSON.parse(kv.value.toString('utf8')) as { replica: string; since: string }]));
  }

  /** Adds `status` (with `connected`) to host objects on their way out of the API. */
  async decorate(kind: ResourceKind, objects: Resource[]): Promise<Resource[]> {
    if (kind !== VIRTUAL_MACHINE || objects.length === 0) return objects;
    const statusPrefix = this.keys.hostStatus();
    const statuses =
      objects.length === 1
        ? new Map([[objects[0]!.metadata.name, await this.get(objects[0]!.metadata.name)]])
        : new Map((await this.store.list(statusPrefix)).items.map((kv) => [kv.key.slice(statusPrefix.length), JSON.parse(kv.value.toString('utf8')) as HostStatusRecord]));
    const present = await this.connectedHosts();
    return objects.map((o) => {
      const status = statuses.get(o.metadata.name);
      const presence = present.get(o.metadata.name);
      return { ...o, status: { connected: presence !== undefined, ...(presence ? { servedBy: presence.replica } : {}), ...(status ?? {}) } };
    });
  }
}
