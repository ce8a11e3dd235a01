/**
 * Kubernetes-style objects on the store: validation before anything is written, server-set
 * metadata (uid, creationTimestamp, generation, resourceVersion = the key's mod revision),
 * optimistic concurrency, idempotent apply, label selectors, and watches.
 */
import { randomUUID } from 'node:crypto';
import {
  DISCOVERED_POLICY,
  findKind,
  inputSetProblems,
  labelSelectorMatches,
  parseLabelSelector,
  RESOURCE_KINDS,
  VIRTUAL_MACHINE,
  validateResource,
  formatFieldError,
  type LabelSelector,
  type Resource,
  type ResourceKind,
} from '@kvmservice/resources';
import { ConflictError, MAX_COMMIT_OPERATIONS, MAX_VALUE_BYTES, MAX_COMMIT_VALUE_BYTES, NotFoundError, parseResourceVersion, type CommitOperation, type KeyValue, type Store, type Watch, type WatchEvent } from '@kvmservice/store';
import { ApiError } from '../api-error.js';
import { activatedBy, activationOf } from '../discovery/dsp-activation.js';
import type { ServiceKeys } from '../store/service-keys.js';

/** `deleted`: a policy a DiscoveredPolicy had put in force, removed because it became Inactive. */
export type ApplyOutcome = 'created' | 'configured' | 'unchanged' | 'deleted';

export interface ApplyResult {
  kind: ResourceKind;
  name: string;
  outcome: ApplyOutcome;
  resourceVersion: string;
}

export interface ObjectChange {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  kind: ResourceKind;
  object: Resource;
  revision: number;
}

/** Server-set metadata: never taken from input, kept across updates. */
const SERVER_METADATA = ['uid', 'resourceVersion', 'generation', 'creationTimestamp'] as const;

/**
 * Splits writes into groups that fit one store commit (count and bytes). A unit (a
 * DiscoveredPolicy and the policy it puts in force) is never split.
 */
function chunkWrites<T extends { stored?: unknown }>(units: T[][]): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const unit of units) {
    const size = unit.reduce((n, w) => n + (w.stored === undefined ? 0 : Buffer.byteLength(JSON.stringify(w.stored))), 0);
    if (current.length > 0 && (current.length + unit.length > MAX_COMMIT_OPERATIONS || bytes + size > MAX_COMMIT_VALUE_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(...unit);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** One write of an apply: an object as planned, or (stored undefined) the deletion of one. */
interface PlannedWrite {
  kind: ResourceKind;
  name: string;
  current: KeyValue | undefined;
  stored: Json | undefined;
  outcome: ApplyOutcome;
}

type Json = Record<string, unknown>;

/** Canonical JSON (sorted keys), to compare what a user wrote with what is stored. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** The part of an object a user owns: everything but status and server-set metadata. */
function userPart(object: Json): Json {
  const { status: _status, metadata, ...rest } = object;
  const meta = { ...(metadata as Json) };
  for (const k of SERVER_METADATA) delete meta[k];
  if (meta.labels !== undefined && Object.keys(meta.labels as Json).length === 0) delete meta.labels;
  if (meta.annotations !== undefined && Object.keys(meta.annotations as Json).length === 0) delete meta.annotations;
  return { ...rest, metadata: meta };
}

/** Everything but metadata and status: a change here bumps `generation`. */
function specPart(object: Json): string {
  const { status: _s, metadata: _m, ...rest } = object;
  return canonicalJson(rest);
}

export function resolveKind(name: string): ResourceKind {
  const kind = findKind(name);
  if (!kind) throw new ApiError('NotFound', `the server doesn't have a resource type "${name}" (one of ${RESOURCE_KINDS.map((k) => k.plural).join(', ')})`);
  return kind;
}

export function resolveSelector(text: string | undefined): LabelSelector {
  if (!text) return {};
  const parsed = parseLabelSelector(text);
  if ('error' in parsed) throw new ApiError('InvalidArgument', `label selector: ${parsed.error}`);
  return parsed;
}

function parseStored(kv: KeyValue): Json {
  return JSON.parse(kv.value.toString('utf8')) as Json;
}

function withVersion(object: Json, kv: KeyValue): Resource {
  return { ...object, metadata: { ...(object.metadata as Json), resourceVersion: String(kv.modRevision) } } as unknown as Resource;
}

function labelsOf(object: Json | undefined): Record<string, string> {
  return ((object?.metadata as Json | undefined)?.labels as Record<string, string> | undefined) ?? {};
}

/** Adds server-owned views (e.g. host status) to objects on their way out. */
export type ObjectDecorator = (kind: ResourceKind, objects: Resource[]) => Promise<Resource[]>;

export class ObjectService {
  private decorate: ObjectDecorator = async (_k, objects) => objects;

  constructor(
    private readonly store: Store,
    private readonly keys: ServiceKeys,
    private readonly now: () => Date = () => new Date(),
  ) {}

  setDecorator(decorator: ObjectDecorator): void {
    this.decorate = decorator;
  }

  async get(kindName: string, name: string): Promise<Resource> {
    const kind = resolveKind(kindName);
    const kv = await this.store.get(this.keys.object(kind, name));
    if (!kv) throw new ApiError('NotFound', `${kind.singular} "${name}" not found`);
    const [decorated] = await this.decorate(kind, [withVersion(parseStored(kv), kv)]);
    return decorated!;
  }

  /** The stored object, undecorated, or undefined. */
  async find(kind: ResourceKind, name: string): Promise<{ object: Resource; kv: KeyValue } | undefined> {
    const kv = await this.store.get(this.keys.object(kind, name));
    return kv ? { object: withVersion(parseStored(kv), kv), kv } : undefined;
  }

  async list(kindName: string, options: { selector?: string; limit?: number; continue?: string } = {}): Promise<{ items: Resource[]; continue?: string; revision: number; kind: ResourceKind }> {
    const kind = resolveKind(kindName);
    const selector = resolveSelector(options.selector);
    const page = await this.store.list(this.keys.collection(kind), {
      ...(options.limit ? { limit: options.limit } : {}),
      ...(options.continue ? { continue: options.continue } : {}),
    });
    const items = page.items.map((kv) => withVersion(parseStored(kv), kv)).filter((o) => labelSelectorMatches(selector, labelsOf(o as unknown as Json)));
    return { items: await this.decorate(kind, items), continue: page.continue, revision: page.revision, kind };
  }

  /**
   * Validates every object, then writes them. All or nothing: one invalid object, a duplicate, or a
   * stale resourceVersion rejects the whole request before anything is written.
   */
  async apply(inputs: readonly unknown[], options: { dryRun?: boolean } = {}): Promise<ApplyResult[]> {
    const problems: string[] = [];
    const valid: { kind: ResourceKind; object: Json; name: string; index: number }[] = [];
    inputs.forEach((input, i) => {
      const result = validateResource(input);
      if (!result.valid) {
        const what = `${result.kind ?? '<no kind>'}/${result.name ?? '<no name>'}`;
        for (const e of result.errors) problems.push(`object ${i + 1} ${what}: ${formatFieldError(e)}`);
      } else {
        valid.push({ kind: result.kind, object: result.resource as unknown as Json, name: result.resource.metadata.name, index: i });
      }
    });
    const seen = new Set(valid.map((v) => `${v.kind.kind}/${v.name}`));
    // Duplicates, DiscoveredPolicy targets given too or twice, oversize objects: as kvmctl validate says.
    problems.push(...inputSetProblems(valid.map((v) => ({ location: `object ${v.index + 1}`, resource: v.object as unknown as Resource }))));
    if (problems.length > 0) throw new ApiError('InvalidArgument', problems.join('\n'));

    const plans: PlannedWrite[] = await Promise.all(valid.map((v) => this.plan(v.kind, v.object)));
    for (const p of plans) {
      const bytes = p.stored === undefined ? 0 : Buffer.byteLength(JSON.stringify(p.stored), 'utf8');
      if (bytes > MAX_VALUE_BYTES) problems.push(`${p.kind.kind}/${p.name}: ${bytes} bytes as stored, more than the ${MAX_VALUE_BYTES} bytes an object may take`);
    }
    if (problems.length > 0) throw new ApiError('InvalidArgument', problems.join('\n'));
    // DiscoveredPolicies put their policy in force (or take it out) in the same commit.
    const companions = await Promise.all(valid.map((v) => (v.kind.kind === DISCOVERED_POLICY.kind ? this.activationWrite(v.object, seen) : undefined)));
    const results = (list: PlannedWrite[], written: Map<string, KeyValue>) =>
      list.map((p) => ({
        kind: p.kind,
        name: p.name,
        outcome: p.outcome,
        resourceVersion: p.stored === undefined ? '' : String((written.get(`${p.kind.kind}/${p.name}`) ?? p.current)?.modRevision ?? ''),
      }));
    const extra = companions.filter((c): c is PlannedWrite => c !== undefined);
    if (options.dryRun) return results([...plans, ...extra], new Map());
    const units = plans.map((plan, i) => [plan, ...(companions[i] ? [companions[i]] : [])].filter((w) => w.outcome !== 'unchanged')).filter((u) => u.length > 0);
    const written = new Map<string, KeyValue>();
    const committed: { plan: PlannedWrite; kv: KeyValue | undefined }[] = [];
    try {
      // One atomic commit per chunk (the store's limits: operations and bytes per commit). An apply
      // within one chunk is all or nothing; a larger one rolls back the chunks already committed.
      for (const chunk of chunkWrites(units)) {
        const result = await this.store.commit(
          chunk.map((plan) => {
            const key = this.keys.object(plan.kind, plan.name);
            if (plan.stored === undefined) return { type: 'delete' as const, key, expectRevision: plan.current!.modRevision };
            const value = JSON.stringify(plan.stored);
            return plan.current ? { type: 'update' as const, key, value, expectRevision: plan.current.modRevision } : { type: 'create' as const, key, value };
          }),
        );
        chunk.forEach((plan, i) => {
          const kv = plan.stored === undefined ? undefined : (result.results[i] as KeyValue);
          if (kv) written.set(`${plan.kind.kind}/${plan.name}`, kv);
          committed.push({ plan, kv });
        });
      }
    } catch (e) {
      await this.rollback(committed);
      throw toApiError(e);
    }
    return results([...plans, ...extra], written);
  }

  /**
   * The write a DiscoveredPolicy's status asks for (dsp-activation.ts), or undefined. A policy of
   * that name that the DiscoveredPolicy did not put in force is never overwritten or deleted.
   */
  private async activationWrite(dsp: Json, given: Set<string>): Promise<PlannedWrite | undefined> {
    const activation = activationOf(dsp);
    if (activation.action === 'none') return undefined;
    const dspName = (dsp.metadata as Json).name as string;
    const id = `${activation.kind.kind}/${activation.name}`;
    if (given.has(id)) throw new ApiError('InvalidArgument', `${id}: given in this apply and also put in force by DiscoveredPolicy/${dspName}; apply one of them`);
    const current = await this.store.get(this.keys.object(activation.kind, activation.name));
    const owner = current ? activatedBy(parseStored(current)) : undefined;
    if (activation.action === 'remove') {
      return current && owner === dspName ? { kind: activation.kind, name: activation.name, current, stored: undefined, outcome: 'deleted' } : undefined;
    }
    if (current && owner !== dspName) {
      throw new ApiError('Conflict', `DiscoveredPolicy/${dspName}: ${id} exists and was not put in force by this DiscoveredPolicy; delete or rename it, then apply again`);
    }
    const check = validateResource(activation.object);
    if (!check.valid) throw new ApiError('InvalidArgument', check.errors.map((e) => `DiscoveredPolicy/${dspName}: spec.policy: ${formatFieldError(e)}`).join('\n'));
    return this.plan(activation.kind, activation.object);
  }

  /** Undoes the committed chunks of a failed apply (best effort: a concurrent writer's later change wins). */
  private async rollback(written: { plan: PlannedWrite; kv: KeyValue | undefined }[]): Promise<void> {
    for (const { plan, kv } of written.reverse()) {
      const key = this.keys.object(plan.kind, plan.name);
      try {
        if (!kv) await this.store.create(key, plan.current!.value);
        else if (plan.current) await this.store.update(key, plan.current.value, { expectRevision: kv.modRevision });
        else await this.store.delete(key, { expectRevision: kv.modRevision });
      } catch {
        // Someone else wrote the key since: theirs is newer than ours and stays.
      }
    }
  }

  private async plan(kind: ResourceKind, input: Json): Promise<PlannedWrite & { stored: Json }> {
    const name = (input.metadata as Json).name as string;
    const current = await this.store.get(this.keys.object(kind, name));
    const wantedVersion = (input.metadata as Json).resourceVersion as string | undefined;
    if (wantedVersion !== undefined && current && String(current.modRevision) !== wantedVersion) {
      throw new ApiError('Conflict', `${kind.kind}/${name}: the object has been modified (resourceVersion ${wantedVersion}, now ${current.modRevision}); get it again and retry`);
    }
    if (wantedVersion !== undefined && !current) {
      throw new ApiError('NotFound', `${kind.kind}/${name}: resourceVersion ${wantedVersion} given, but the object does not exist`);
    }
    const mine = userPart(input);
    if (!current) {
      const stored = { ...mine, metadata: { ...(mine.metadata as Json), uid: randomUUID(), generation: 1, creationTimestamp: this.now().toISOString() } };
      return { kind, name, current: undefined, stored, outcome: 'created' as ApplyOutcome };
    }
    const previous = parseStored(current);
    if (canonicalJson(userPart(previous)) === canonicalJson(mine)) return { kind, name, current, stored: previous, outcome: 'unchanged' as ApplyOutcome };
    const prevMeta = previous.metadata as Json;
    const generation = ((prevMeta.generation as number | undefined) ?? 1) + (specPart(previous) === specPart(mine) ? 0 : 1);
    const stored = { ...mine, metadata: { ...(mine.metadata as Json), uid: prevMeta.uid, generation, creationTimestamp: prevMeta.creationTimestamp } };
    return { kind, name, current, stored, outcome: 'configured' as ApplyOutcome };
  }

  async delete(kindName: string, name: string, resourceVersion?: string): Promise<{ kind: ResourceKind; object: Resource }> {
    const kind = resolveKind(kindName);
    let expectRevision: number | undefined;
    if (resourceVersion) {
      const parsed = parseResourceVersion(resourceVersion);
      if (!parsed.ok) throw new ApiError('InvalidArgument', parsed.reason);
      expectRevision = parsed.revision;
    }
    try {
      const result = await this.store.delete(this.keys.object(kind, name), expectRevision === undefined ? {} : { expectRevision });
      return { kind, object: withVersion(parseStored(result.prev), result.prev) };
    } catch (e) {
      if (e instanceof NotFoundError) throw new ApiError('NotFound', `${kind.singular} "${name}" not found`);
      throw toApiError(e);
    }
  }

  /** `kubectl label`: set and remove labels, re-validating the object. */
  async label(kindName: string, name: string, change: { set: Record<string, string>; remove: string[]; overwrite: boolean; resourceVersion?: string }): Promise<{ object: Resource; changed: boolean }> {
    const kind = resolveKind(kindName);
    for (let attempt = 0; ; attempt++) {
      const found = await this.find(kind, name);
      if (!found) throw new ApiError('NotFound', `${kind.singular} "${name}" not found`);
      if (change.resourceVersion && change.resourceVersion !== String(found.kv.modRevision)) {
        throw new ApiError('Conflict', `${kind.kind}/${name}: resourceVersion ${change.resourceVersion} is stale (now ${found.kv.modRevision})`);
      }
      const object = parseStored(found.kv);
      const labels = { ...labelsOf(object) };
      for (const [k, v] of Object.entries(change.set)) {
        if (labels[k] !== undefined && labels[k] !== v && !change.overwrite) {
          throw new ApiError('FailedPrecondition', `${kind.kind}/${name}: label "${k}" already has a value (${labels[k]}); use --overwrite`);
        }
        labels[k] = v;
      }
      for (const k of change.remove) delete labels[k];
      if (canonicalJson(labels) === canonicalJson(labelsOf(object))) {
        const [unchanged] = await this.decorate(kind, [withVersion(object, found.kv)]);
        return { object: unchanged!, changed: false };
      }
      const updated = { ...object, metadata: { ...(object.metadata as Json), labels } };
      if (Object.keys(labels).length === 0) delete (updated.metadata as Json).labels;
      const check = validateResource(updated);
      if (!check.valid) throw new ApiError('InvalidArgument', check.errors.map((e) => `${kind.kind}/${name}: ${formatFieldError(e)}`).join('\n'));
      try {
        const kv = await this.store.update(this.keys.object(kind, name), JSON.stringify(updated), { expectRevision: found.kv.modRevision });
        const [decorated] = await this.decorate(kind, [withVersion(updated, kv)]);
        return { object: decorated!, changed: true };
      } catch (e) {
        if (e instanceof ConflictError && !change.resourceVersion && attempt < 5) continue;
        throw toApiError(e);
      }
    }
  }

  /**
   * The write that creates a host, or sets its labels, for one atomic commit with other writes
   * (a join). Validated like any object.
   */
  async hostWrite(name: string, labels: Record<string, string>): Promise<CommitOperation | undefined> {
    const kind = resolveKind('kvm');
    const found = await this.find(kind, name);
    const object = found
      ? { ...parseStored(found.kv), metadata: { ...((parseStored(found.kv).metadata as Json) ?? {}), labels } }
      : { apiVersion: kind.apiVersion, kind: kind.kind, metadata: { name, labels, uid: randomUUID(), generation: 1, creationTimestamp: this.now().toISOString() } };
    if (Object.keys(labels).length === 0) delete (object.metadata as Json).labels;
    const check = validateResource(object);
    if (!check.valid) throw new ApiError('InvalidArgument', check.errors.map((e) => `${kind.kind}/${name}: ${formatFieldError(e)}`).join('\n'));
    if (found && canonicalJson(labelsOf(parseStored(found.kv))) === canonicalJson(labels)) return undefined;
    const key = this.keys.object(kind, name);
    return found ? { type: 'update', key, value: JSON.stringify(object), expectRevision: found.kv.modRevision } : { type: 'create', key, value: JSON.stringify(object) };
  }

  /**
   * Changes to one kind, in revision order. `fromRevision` continues a list (list.revision + 1);
   * with a selector, objects that stop matching are reported DELETED, objects that start matching ADDED.
   * Hosts also change when their status or presence does (kept under other keys): those changes
   * come as MODIFIED events of the host.
   */
  async *watch(kindName: string, options: { selector?: string; fromRevision?: number; signal?: AbortSignal } = {}): AsyncGenerator<ObjectChange> {
    const kind = resolveKind(kindName);
    const selector = resolveSelector(options.selector);
    const from = options.fromRevision ? { fromRevision: options.fromRevision } : {};
    const objectsPrefix = this.keys.collection(kind);
    const prefixes = kind === VIRTUAL_MACHINE ? [objectsPrefix, this.keys.hostStatus(), this.keys.presence()] : [objectsPrefix];
    const watches = await Promise.all(prefixes.map((p) => this.store.watch(p, from)));
    const closeAll = () => void Promise.all(watches.map((w) => w.close()));
    options.signal?.addEventListener('abort', closeAll, { once: true });
    try {
      for await (const event of mergeWatches(watches)) {
        if (!event.key.startsWith(objectsPrefix)) {
          // Status or presence of a host: report the host as modified, as it reads now.
          const name = event.key.slice(event.key.startsWith(this.keys.hostStatus()) ? this.keys.hostStatus().length : this.keys.presence().length);
          const found = await this.find(kind, name);
          if (found && labelSelectorMatches(selector, labelsOf(found.object as unknown as Json))) {
            yield { type: 'MODIFIED', kind, object: (await this.decorate(kind, [found.object]))[0]!, revision: event.revision };
          }
          continue;
        }
        const prev = event.prev ? withVersion(parseStored(event.prev), event.prev) : undefined;
        const prevMatches = prev !== undefined && labelSelectorMatches(selector, labelsOf(prev as unknown as Json));
        if (event.type === 'DELETE') {
          if (prevMatches && prev) yield { type: 'DELETED', kind, object: (await this.decorate(kind, [prev]))[0]!, revision: event.revision };
          continue;
        }
        const object = withVersion(parseStored(event.kv), event.kv);
        const matches = labelSelectorMatches(selector, labelsOf(object as unknown as Json));
        const [decorated] = await this.decorate(kind, [object]);
        if (matches) yield { type: prevMatches ? 'MODIFIED' : 'ADDED', kind, object: decorated!, revision: event.revision };
        else if (prevMatches) yield { type: 'DELETED', kind, object: decorated!, revision: event.revision };
      }
    } finally {
      closeAll();
    }
  }
}

/**
 * The events of several watches as one stream, each watch read one event at a time (so each keeps
 * its backpressure); ends when all end, fails when one fails.
 */
async function* mergeWatches(watches: Watch[]): AsyncGenerator<WatchEvent> {
  const iterators = watches.map((w) => w[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<WatchEvent> }>>();
  const pull = (i: number) => pending.set(i, iterators[i]!.next().then((r) => ({ i, r })));
  iterators.forEach((_, i) => pull(i));
  while (pending.size > 0) {
    const { i, r } = await Promise.race(pending.values());
    if (r.done) {
      pending.delete(i);
      continue;
    }
    pull(i);
    yield r.value;
  }
}

/** Maps store errors to API errors (anything else is re-thrown as is). */
export function toApiError(e: unknown): unknown {
  if (e instanceof ApiError) return e;
  if (e instanceof ConflictError) return new ApiError('Conflict', `the object has been modified; get it again and retry (${e.message})`);
  if (e instanceof NotFoundError) return new ApiError('NotFound', e.message);
  const code = (e as { code?: string }).code;
  if (code === 'AlreadyExists') return new ApiError('Conflict', (e as Error).message);
  if (code === 'Unavailable') return new ApiError('Unavailable', `store unavailable: ${(e as Error).message}`);
  return e;
}
