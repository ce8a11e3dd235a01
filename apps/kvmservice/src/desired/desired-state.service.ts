/**
 * Keeps the objects that decide desired state (host policies, Cilium policies, hosts) in local
 * informers, and recomputes the desired state of each subscribed host when something that
 * selects it (or it) changes. Changes are coalesced per host, so a storm of applies costs one
 * render per host per burst. A host's learning mode lasts until its `spec.learning.until`: a
 * timer recomputes the host's state when that time passes.
 */
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  CLUSTERWIDE_NETWORK_POLICY,
  HOST_POLICY,
  VIRTUAL_MACHINE,
  normalizeHostPolicy,
  type CiliumPolicy,
  type KubeArmorHostPolicy,
  type KubeArmorVirtualMachine,
  type VisibilityKind,
} from '@kvmservice/resources';
import type { KeyValue, Store } from '@kvmservice/store';
import type { Logger } from 'pino';
import { Informer, type InformerChange } from '@kvmservice/store';
import type { ServiceKeys } from '../store/service-keys.js';
import { KEYS, LOGGER, STORE } from '../tokens.js';
import {
  ciliumSelectsHost,
  computeDesiredState,
  selectsHost,
  type CiliumPolicyEntry,
  type DesiredStateView,
  type HostFactsView,
  type HostPolicyEntry,
  type HostView,
} from './desired-state.js';
import { RENDERERS } from './lsm-renderers.js';
import type { Renderers } from './desired-state.js';

type Listener = (state: DesiredStateView) => void;

interface Subscription {
  host: string;
  facts: HostFactsView;
  listener: Listener;
  lastHash?: string;
}

const COALESCE_MS = 25;
/** Longest setTimeout delay; a learning end further away is re-checked then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function parse<T>(kv: KeyValue | undefined): T | undefined {
  return kv ? (JSON.parse(kv.value.toString('utf8')) as T) : undefined;
}

/** `spec.learning` while `until` is ahead of `nowMs` (binaries sorted: the render does not depend on their order). */
export function activeLearning(vm: KubeArmorVirtualMachine, nowMs: number): { binaries: string[]; until: number } | undefined {
  const learning = vm.spec?.learning;
  if (!learning) return undefined;
  const until = Date.parse(learning.until);
  if (!Number.isFinite(until) || until <= nowMs) return undefined;
  return { binaries: [...new Set(learning.binaries)].sort(), until };
}

@Injectable()
export class DesiredStateService implements OnModuleInit, OnModuleDestroy {
  private readonly hostPolicies: Informer;
  private readonly ciliumPolicies: Informer;
  private readonly hosts: Informer;
  private readonly normalized = new Map<string, HostPolicyEntry>();
  private readonly subscriptions = new Map<string, Set<Subscription>>();
  private readonly dirty = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly learningTimers = new Map<string, NodeJS.Timeout>();
  /** The clock learning mode is judged by (tests replace it). */
  now: () => number = () => Date.now();
  /** Counters for metrics. */
  readonly stats = { computations: 0, pushes: 0 };

  constructor(
    @Inject(STORE) store: Store,
    @Inject(KEYS) private readonly keys: ServiceKeys,
    @Inject(RENDERERS) private readonly renderers: Renderers,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    const onError = (e: unknown) => this.log.error({ err: e }, 'informer error');
    this.hostPolicies = new Informer(store, keys.collection(HOST_POLICY), onError);
    this.ciliumPolicies = new Informer(store, keys.collection(CLUSTERWIDE_NETWORK_POLICY), onError);
    this.hosts = new Informer(store, keys.collection(VIRTUAL_MACHINE), onError);
  }

  async onModuleInit(): Promise<void> {
    this.hostPolicies.on((c) => this.onHostPolicy(c));
    this.ciliumPolicies.on((c) => this.onCiliumPolicy(c));
    this.hosts.on((c) => {
      const host = c.key.slice(this.keys.collection(VIRTUAL_MACHINE).length);
      this.scheduleLearningEnd(host);
      this.markDirty(host);
    });
    await Promise.all([this.hostPolicies.start(), this.ciliumPolicies.start(), this.hosts.start()]);
  }

  async onModuleDestroy(): Promise<void> {
    clearTimeout(this.flushTimer);
    for (const timer of this.learningTimers.values()) clearTimeout(timer);
    this.learningTimers.clear();
    await Promise.all([this.hostPolicies.stop(), this.ciliumPolicies.stop(), this.hosts.stop()]);
  }

  /** The revision up to which every informer is current. */
  get revision(): number {
    return Math.max(this.hostPolicies.currentRevision, this.ciliumPolicies.currentRevision, this.hosts.currentRevision);
  }

  /** The host as desired state sees it now: learning mode only while `spec.learning.until` is ahead. */
  hostView(name: string): HostView | undefined {
    const vm = parse<KubeArmorVirtualMachine>(this.hosts.get(this.keys.object(VIRTUAL_MACHINE, name)));
    if (!vm) return undefined;
    const learning = activeLearning(vm, this.now());
    return {
      name,
      labels: vm.metadata.labels ?? {},
      postures: vm.spec?.defaultPosture ?? {},
      visibility: (vm.spec?.visibility ?? []) as VisibilityKind[],
      ...(learning ? { learning } : {}),
    };
  }

  /** Recomputes the host's state when its learning ends (one timer per host, replaced on every change). */
  private scheduleLearningEnd(host: string): void {
    clearTimeout(this.learningTimers.get(host));
    this.learningTimers.delete(host);
    const vm = parse<KubeArmorVirtualMachine>(this.hosts.get(this.keys.object(VIRTUAL_MACHINE, host)));
    const learning = vm ? activeLearning(vm, this.now()) : undefined;
    if (!learning) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, learning.until - this.now()) + 1);
    const timer = setTimeout(() => {
      this.learningTimers.delete(host);
      this.scheduleLearningEnd(host);
      this.markDirty(host);
    }, delay);
    timer.unref();
    this.learningTimers.set(host, timer);
  }

  /** The desired state of a host right now (undefined when the host object does not exist). */
  compute(host: string, facts: HostFactsView): DesiredStateView | undefined {
    const view = this.hostView(host);
    if (!view) return undefined;
    this.stats.computations++;
    const cilium: CiliumPolicyEntry[] = [...this.ciliumPolicies.values()].map((kv) => ({ object: parse<CiliumPolicy>(kv)!, resourceVersion: String(kv.modRevision) }));
    return computeDesiredState(view, facts, this.normalized.values(), cilium, this.renderers, this.revision);
  }

  /** Calls `listener` with the host's desired state now and whenever its content changes. */
  subscribe(host: string, facts: HostFactsView, listener: Listener): () => void {
    const sub: Subscription = { host, facts, listener };
    let set = this.subscriptions.get(host);
    if (!set) this.subscriptions.set(host, (set = new Set()));
    set.add(sub);
    this.deliver(sub);
    return () => {
      set.delete(sub);
      if (set.size === 0) this.subscriptions.delete(host);
    };
  }

  private deliver(sub: Subscription): void {
    const state = this.compute(sub.host, sub.facts);
    if (!state || state.hash === sub.lastHash) return;
    sub.lastHash = state.hash;
    this.stats.pushes++;
    sub.listener(state);
  }

  private onHostPolicy(change: InformerChange): void {
    const name = change.key.slice(this.keys.collection(HOST_POLICY).length);
    const before = this.normalized.get(name);
    if (change.next) {
      const policy = parse<KubeArmorHostPolicy>(change.next)!;
      policy.metadata.resourceVersion = String(change.next.modRevision);
      this.normalized.set(name, { normalized: normalizeHostPolicy(policy), resourceVersion: String(change.next.modRevision) });
    } else {
      this.normalized.delete(name);
    }
    const after = this.normalized.get(name);
    for (const host of this.subscriptions.keys()) {
      const view = this.hostView(host);
      if (!view) continue;
      if ((before && selectsHost(before.normalized, view)) || (after && selectsHost(after.normalized, view))) this.markDirty(host);
    }
  }

  private onCiliumPolicy(change: InformerChange): void {
    const before = parse<CiliumPolicy>(change.prev);
    const after = parse<CiliumPolicy>(change.next);
    for (const host of this.subscriptions.keys()) {
      const view = this.hostView(host);
      if (!view) continue;
      if ((before && ciliumSelectsHost(before, view)) || (after && ciliumSelectsHost(after, view))) this.markDirty(host);
    }
  }

  private markDirty(host: string): void {
    if (!this.subscriptions.has(host)) return;
    this.dirty.add(host);
    this.flushTimer ??= setTimeout(() => this.flush(), COALESCE_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const hosts = [...this.dirty];
    this.dirty.clear();
    for (const host of hosts) {
      for (const sub of this.subscriptions.get(host) ?? []) {
        try {
          this.deliver(sub);
        } catch (e) {
          this.log.error({ err: e, host }, 'computing desired state failed');
        }
      }
    }
  }
}
