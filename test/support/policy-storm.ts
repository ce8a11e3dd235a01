/**
 * A storm of KubeArmorHostPolicy applies, updates and deletes through the ControlService, with
 * mixed selectors (labels, label intersections, comma lists, one host by name, every host, host
 * name globs) so that hosts see different subsets. Seeded: the same seed gives the same plan.
 *
 * Operations on one policy name run in plan order in one lane; lanes run in parallel, spread over
 * the endpoints. A call that fails with an unknown outcome (the server died, the connection broke,
 * a deadline passed) is retried — on the next endpoint when there are several — until it is
 * acknowledged; applies are idempotent, and a retried delete that finds nothing had already
 * happened. `acked` keeps the last acknowledged operation per name: afterwards the store must hold
 * exactly that.
 */
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { unary, type ControlServiceClient } from '@kvmservice/api';
import { validateResource } from '@kvmservice/resources';

export const ZONES = ['z0', 'z1', 'z2', 'z3'];
export const ROLES = ['r0', 'r1', 'r2', 'r3', 'r4'];
export const TIERS = ['t0', 't1'];

export function hostName(i: number): string {
  return `host-${String(i).padStart(3, '0')}`;
}

/** The labels of fleet host `i`: every combination of zone, role and tier occurs. */
export function hostLabelsOf(i: number): Record<string, string> {
  return { zone: ZONES[i % ZONES.length]!, role: ROLES[Math.floor(i / ZONES.length) % ROLES.length]!, tier: TIERS[Math.floor(i / 20) % TIERS.length]! };
}

/** mulberry32: small, seedable, good enough to pick test cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface HostPolicyObject {
  apiVersion: 'security.kubearmor.com/v1';
  kind: 'KubeArmorHostPolicy';
  metadata: { name: string };
  spec: Record<string, unknown>;
}

export type StormOp = { type: 'apply'; name: string; object: HostPolicyObject } | { type: 'delete'; name: string };

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function selector(rand: () => number, hosts: number): Record<string, string> {
  const r = rand();
  if (r < 0.25) return { zone: pick(rand, ZONES) };
  if (r < 0.45) return { role: pick(rand, ROLES) };
  if (r < 0.6) return { zone: pick(rand, ZONES), role: pick(rand, ROLES) };
  if (r < 0.7) return { tier: pick(rand, TIERS) };
  if (r < 0.8) return { role: `${pick(rand, ROLES)},${pick(rand, ROLES)}` };
  if (r < 0.88) return { 'kubearmor.io/hostname': hostName(Math.floor(rand() * hosts)) };
  if (r < 0.94) return { 'kubearmor.io/hostnamereg': `host-${Math.floor(rand() * 2)}${Math.floor(rand() * 10)}*` };
  return { 'kubearmor.io/hostname': '*' };
}

const SOURCES = ['/usr/bin/cat', '/usr/bin/head', '/usr/bin/tail'];

/** One valid host policy; `generation` makes every update change the rendered profiles. */
export function stormPolicy(name: string, generation: number, rand: () => number, hosts: number): HostPolicyObject {
  const base = `/srv/${name}/g${generation}`;
  const variant = Math.floor(rand() * 5);
  const spec: Record<string, unknown> = { nodeSelector: { matchLabels: selector(rand, hosts) } };
  if (variant === 0) Object.assign(spec, { file: { matchPaths: [{ path: `${base}/secret.key` }] }, action: 'Block' });
  if (variant === 1) Object.assign(spec, { process: { matchPaths: [{ path: `/usr/local/bin/${name}-g${generation}` }] }, action: 'Block' });
  if (variant === 2) Object.assign(spec, { file: { matchPaths: [{ path: `${base}/data.db`, readOnly: true, fromSource: [{ path: pick(rand, SOURCES) }] }] }, action: 'Allow' });
  if (variant === 3) Object.assign(spec, { file: { matchDirectories: [{ dir: `${base}/logs/`, recursive: true }] }, action: 'Audit' });
  if (variant === 4) Object.assign(spec, { network: { matchProtocols: [{ protocol: 'raw', fromSource: [{ path: pick(rand, SOURCES) }] }] }, action: 'Block' });
  const object: HostPolicyObject = { apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name }, spec };
  const checked = validateResource(object);
  if (!checked.valid) throw new Error(`storm generator made an invalid policy: ${JSON.stringify(checked.errors)}`);
  return object;
}

/**
 * `ops` operations over `names` policy names: creates first, then updates (most), deletes of
 * existing policies, and re-creates.
 */
export function planStorm(options: { ops: number; names: number; hosts: number; seed: number }): StormOp[] {
  const rand = prng(options.seed);
  const live = new Set<string>();
  const generation = new Map<string, number>();
  const plan: StormOp[] = [];
  const names = Array.from({ length: options.names }, (_, i) => `storm-${String(i).padStart(3, '0')}`);
  const apply = (name: string) => {
    const g = (generation.get(name) ?? 0) + 1;
    generation.set(name, g);
    live.add(name);
    plan.push({ type: 'apply', name, object: stormPolicy(name, g, rand, options.hosts) });
  };
  for (const name of names.slice(0, Math.ceil(options.names * 0.6))) apply(name);
  while (plan.length < options.ops) {
    const r = rand();
    const liveNames = [...live];
    if (r < 0.6 && liveNames.length > 0) apply(pick(rand, liveNames));
    else if (r < 0.75 && liveNames.length > 1) {
      const name = pick(rand, liveNames);
      live.delete(name);
      plan.push({ type: 'delete', name });
    } else apply(pick(rand, names));
  }
  return plan.slice(0, options.ops);
}

const UNKNOWN_OUTCOME = new Set<number>([GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.CANCELLED]);

export interface StormResult {
  /** Last acknowledged operation per name, with the resourceVersion the apply returned. */
  acked: Map<string, { op: StormOp; resourceVersion?: string }>;
  /** Every acknowledged apply: name and resourceVersion. */
  appliedVersions: { name: string; resourceVersion: string }[];
  done: number;
  /** When each operation was acknowledged, ms after the storm started. */
  ackTimes: number[];
  /** Calls retried because their outcome was unknown. */
  retries: number;
  /** Applies answered ABORTED/ALREADY_EXISTS after an attempt with a lost answer (sent again). */
  selfRaces: number;
  /** INTERNAL answers (retried too, but a server should not give them for a store or peer outage). */
  internalErrors: string[];
  /** Answers that the plan rules out (wrong NotFound, invalid argument, …): each a test failure. */
  failures: string[];
  durationMs: number;
}

export interface StormRunOptions {
  concurrency: number;
  /** The control clients (one per endpoint), read again on every retry. */
  endpoints: () => ControlServiceClient[];
  /** Called after every acknowledged operation with the number done so far. */
  onAck?: (done: number) => void | Promise<void>;
  /** Deadline of one call (default 15 s: longer than the store's retry budget, so that the server answers first). */
  callTimeoutMs?: number;
  /** Give up on one operation after this long (ms). */
  operationTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runStorm(plan: StormOp[], options: StormRunOptions): Promise<StormResult> {
  const started = Date.now();
  const result: StormResult = { acked: new Map(), appliedVersions: [], done: 0, ackTimes: [], retries: 0, selfRaces: 0, internalErrors: [], failures: [], durationMs: 0 };
  const lanes: StormOp[][] = Array.from({ length: options.concurrency }, () => []);
  const laneOf = new Map<string, number>();
  for (const op of plan) {
    if (!laneOf.has(op.name)) laneOf.set(op.name, laneOf.size % options.concurrency);
    lanes[laneOf.get(op.name)!]!.push(op);
  }
  const callTimeoutMs = options.callTimeoutMs ?? 15_000;
  // What happened to each name, for failure messages.
  const history = new Map<string, string[]>();
  const note = (name: string, text: string) => {
    const h = history.get(name) ?? [];
    h.push(`${Date.now() - started}ms ${text}`);
    history.set(name, h.slice(-8));
  };

  // Each lane starts on its own endpoint (lane i on endpoint i mod n) and moves on when one fails.
  const perform = async (op: StormOp, lane: { preferred: number }): Promise<void> => {
    const deadline = Date.now() + (options.operationTimeoutMs ?? 60_000);
    let uncertain = false;
    for (;;) {
      const endpoints = options.endpoints();
      const endpoint = lane.preferred % endpoints.length;
      const client = endpoints[endpoint]!;
      try {
        if (op.type === 'apply') {
          const response = await unary(client.apply.bind(client), { objects: [JSON.stringify(op.object)], dryRun: false }, callTimeoutMs);
          const resourceVersion = response.results[0]?.resourceVersion ?? '';
          result.acked.set(op.name, { op, resourceVersion });
          result.appliedVersions.push({ name: op.name, resourceVersion });
          note(op.name, `apply acked by endpoint ${endpoint}: ${response.results[0]?.outcome} rv ${resourceVersion}`);
        } else {
          await unary(client.delete.bind(client), { kind: 'hsp', name: op.name, resourceVersion: '' }, callTimeoutMs);
          result.acked.set(op.name, { op });
          note(op.name, `delete acked by endpoint ${endpoint}`);
        }
        break;
      } catch (e) {
        const error = e as ServiceError;
        note(op.name, `${op.type} to endpoint ${endpoint}: ${GrpcStatus[error.code] ?? error.code} ${(error.details ?? '').slice(0, 120)}`);
        if (uncertain && op.type === 'delete' && error.code === GrpcStatus.NOT_FOUND) {
          // An earlier attempt whose answer was lost had deleted it.
          result.acked.set(op.name, { op });
          break;
        }
        if (uncertain && op.type === 'apply' && (error.code === GrpcStatus.ABORTED || error.code === GrpcStatus.ALREADY_EXISTS)) {
          // An earlier attempt of this very apply, its answer lost, may still be running on the
          // server and have written the object in between: apply again.
          result.selfRaces++;
          if (Date.now() > deadline) {
            result.failures.push(`apply ${op.name}: still conflicting after ${options.operationTimeoutMs ?? 60_000} ms (${error.details})`);
            return;
          }
          await sleep(100);
          continue;
        }
        const internal = error.code === GrpcStatus.INTERNAL;
        if (internal) result.internalErrors.push(`${op.type} ${op.name}: ${error.details}`);
        if (!UNKNOWN_OUTCOME.has(error.code) && !internal) {
          // Only this client writes this name, and this attempt is not racing an earlier one: the
          // server's answer contradicts what it stores.
          result.failures.push(`${op.type} ${op.name} at ${Date.now() - started} ms: ${GrpcStatus[error.code] ?? error.code} ${error.details ?? error.message}${uncertain ? '' : ' (first attempt)'}; history: ${(history.get(op.name) ?? []).join(' | ')}`);
          // The store decides what the next operations see: a delete refused as NOT_FOUND left nothing.
          if (op.type === 'delete' && error.code === GrpcStatus.NOT_FOUND) result.acked.set(op.name, { op });
          return;
        }
        if (Date.now() > deadline) {
          result.failures.push(`${op.type} ${op.name}: not acknowledged within ${options.operationTimeoutMs ?? 60_000} ms (last: ${error.details ?? error.message})`);
          return;
        }
        uncertain = true;
        result.retries++;
        if (endpoints.length > 1) lane.preferred++;
        await sleep(100);
      }
    }
    result.done++;
    result.ackTimes.push(Date.now() - started);
    await options.onAck?.(result.done);
  };

  await Promise.all(
    lanes.map(async (ops, i) => {
      const lane = { preferred: i };
      for (const op of ops) await perform(op, lane);
    }),
  );
  result.durationMs = Date.now() - started;
  return result;
}

/** The store against the acknowledged operations: one line per name that differs. */
export function ackedMismatches(acked: StormResult['acked'], stored: Map<string, { spec: unknown; metadata: { resourceVersion?: string } }>): string[] {
  const problems: string[] = [];
  for (const [name, { op, resourceVersion }] of acked) {
    const now = stored.get(name);
    if (op.type === 'delete') {
      if (now) problems.push(`${name}: deleted (acknowledged) but still stored`);
      continue;
    }
    if (!now) {
      problems.push(`${name}: applied (acknowledged, resourceVersion ${resourceVersion}) but not stored`);
      continue;
    }
    if (JSON.stringify(now.spec) !== JSON.stringify(op.object.spec)) problems.push(`${name}: stored spec differs from the last acknowledged apply`);
    if (resourceVersion && Number(now.metadata.resourceVersion) < Number(resourceVersion)) {
      problems.push(`${name}: stored resourceVersion ${now.metadata.resourceVersion} is older than the acknowledged ${resourceVersion}`);
    }
  }
  for (const name of stored.keys()) if (name.startsWith('storm-') && !acked.has(name)) problems.push(`${name}: stored but never acknowledged`);
  return problems;
}
