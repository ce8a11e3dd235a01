/**
 * The Discover RPC: policies from a host's model — the stored model plus every stored event after
 * its position (observed here, not written: the leader owns the stored model), so the answer
 * includes everything the host's agent uploaded, on any replica. With `save`, each object becomes a
 * DiscoveredPolicy (docs/discovery.md, "DiscoveredPolicy lifecycle").
 */
import { Inject, Injectable } from '@nestjs/common';
import {
  DIGEST_ANNOTATION,
  discoverPolicies,
  isBinaryPath,
  policyDigest,
  wrapDiscoveredPolicy,
  type DiscoveredObject,
} from '@kvmservice/discovery';
import {
  CLUSTERWIDE_NETWORK_POLICY,
  DISCOVERED_POLICY,
  HOST_POLICY,
  VIRTUAL_MACHINE,
  findKind,
  learningBinaryReason,
  type DiscoveredPolicy,
  type Resource,
} from '@kvmservice/resources';
import type { Store } from '@kvmservice/store';
import { ApiError } from '../api-error.js';
import type { ServiceConfig } from '../config/service-config.js';
import { HostStatusService } from '../hosts/host-status.service.js';
import { ObjectService } from '../objects/object-service.js';
import type { ServiceKeys } from '../store/service-keys.js';
import { TelemetryService } from '../telemetry/telemetry.service.js';
import { CONFIG, KEYS, STORE } from '../tokens.js';
import { isActiveStatus } from '@kvmservice/resources';
import { DiscoveryModels, observeBatch, type HostModelState } from './host-models.js';
import { SourceResolvers } from './source-resolvers.js';

export interface DiscoverInput {
  host: string;
  kinds: readonly string[];
  single: boolean;
  binaries: readonly string[];
  directoryThreshold: number;
  save: boolean;
}

export interface DiscoverOutput {
  objects: DiscoveredObject[];
  warnings: string[];
  discoveredPolicies: Resource[];
  events: number;
  lastSeq: number;
}

const MAX_DIRECTORY_THRESHOLD = 10_000;

@Injectable()
export class DiscoverService {
  private readonly models: DiscoveryModels;

  constructor(
    @Inject(STORE) store: Store,
    @Inject(KEYS) keys: ServiceKeys,
    @Inject(CONFIG) private readonly config: ServiceConfig,
    private readonly objects: ObjectService,
    private readonly status: HostStatusService,
    private readonly resolvers: SourceResolvers,
    telemetry: TelemetryService,
  ) {
    this.models = new DiscoveryModels(store, keys, (key, value) => {
      try {
        return telemetry.parseBatch(key, value);
      } catch {
        return undefined;
      }
    });
  }

  /** The host's model including every stored event (stored model + the events after its position). */
  async currentModel(host: string): Promise<HostModelState> {
    const state = await this.models.load(host);
    const upTo = await this.models.upTo(host);
    if (upTo > state.lastSeq) {
      const resolver = await this.resolvers.resolverFor(host);
      const from = state.batchFirst > 0 ? state.batchFirst : state.lastSeq + 1;
      for await (const batch of this.models.batches(host, from, upTo)) observeBatch(state, batch, Date.now(), resolver);
    }
    return state;
  }

  async discover(input: DiscoverInput): Promise<DiscoverOutput> {
    const { hostPolicies, hostNetwork } = kindsOf(input.kinds);
    input.binaries.forEach((b, i) => {
      const reason = learningBinaryReason(b) ?? (isBinaryPath(b) ? undefined : 'must name one binary (no glob characters, spaces or "//")');
      if (reason) throw new ApiError('InvalidArgument', `binaries[${i}]: ${reason}`);
    });
    if (!Number.isInteger(input.directoryThreshold) || input.directoryThreshold < 0 || input.directoryThreshold > MAX_DIRECTORY_THRESHOLD) {
      throw new ApiError('InvalidArgument', `directory_threshold: must be 0 (default) to ${MAX_DIRECTORY_THRESHOLD}`);
    }
    if (input.host === '') throw new ApiError('InvalidArgument', 'host: required');
    if (!(await this.objects.find(VIRTUAL_MACHINE, input.host))) throw new ApiError('NotFound', `kubearmorvirtualmachine "${input.host}" not found`);

    const state = await this.currentModel(input.host);
    const enforcer = (await this.status.get(input.host))?.facts?.enforcer;
    const result = discoverPolicies(state.model, {
      hostPolicies: hostPolicies && {
        policyPer: input.single ? 'host' : 'binary',
        ...(input.binaries.length > 0 ? { sources: input.binaries } : {}),
        ...(input.directoryThreshold > 0 ? { directoryThreshold: input.directoryThreshold } : {}),
        ...(enforcer === 'apparmor' || enforcer === 'selinux' ? { lsm: enforcer } : {}),
      },
      hostNetwork: hostNetwork && { controlPlane: { port: this.config.grpcPort } },
      workloads: false,
    });
    const warnings = [...result.report.warnings];
    if (state.events === 0) warnings.unshift(`no events recorded for host ${input.host} yet (is its agent connected, with visibility or learning on?)`);
    if (state.unreadable) warnings.unshift(`the stored model of ${input.host} could not be read (${state.unreadable}); this answer covers the events still stored`);
    const discoveredPolicies = input.save ? await this.save(result.objects) : [];
    return { objects: result.objects, warnings, discoveredPolicies, events: state.events, lastSeq: state.lastSeq };
  }

  /**
   * One DiscoveredPolicy per object, all or nothing: new ones Inactive; an existing one keeps its
   * status, except that an Active one whose policy differs becomes PendingUpdates (the policy in
   * force stays until someone applies it Active again); equal digests change nothing.
   */
  private async save(objects: readonly DiscoveredObject[]): Promise<Resource[]> {
    const writes: DiscoveredPolicy[] = [];
    const out: (Resource | undefined)[] = [];
    for (const object of objects) {
      const name = object.metadata.name;
      const existing = (await this.objects.find(DISCOVERED_POLICY, name))?.object as unknown as DiscoveredPolicy | undefined;
      const digest = policyDigest(object);
      if (existing && existing.metadata.annotations?.[DIGEST_ANNOTATION] === digest) {
        out.push(existing as unknown as Resource);
        continue;
      }
      const status = !existing ? 'Inactive' : isActiveStatus(existing.spec.status) ? 'PendingUpdates' : existing.spec.status;
      const wrapped = wrapDiscoveredPolicy(object, status);
      if (existing) {
        wrapped.metadata = {
          ...wrapped.metadata,
          ...(existing.metadata.labels ? { labels: existing.metadata.labels } : {}),
          annotations: { ...existing.metadata.annotations, ...wrapped.metadata.annotations },
          resourceVersion: existing.metadata.resourceVersion!,
        };
      }
      writes.push(wrapped);
      out.push(undefined);
    }
    if (writes.length > 0) await this.objects.apply(writes);
    const result: Resource[] = [];
    for (let i = 0; i < objects.length; i++) {
      result.push(out[i] ?? (await this.objects.find(DISCOVERED_POLICY, objects[i]!.metadata.name))!.object);
    }
    return result;
  }
}

/** Which kinds a request asks for: empty or `all` = both. */
function kindsOf(kinds: readonly string[]): { hostPolicies: boolean; hostNetwork: boolean } {
  if (kinds.length === 0) return { hostPolicies: true, hostNetwork: true };
  const out = { hostPolicies: false, hostNetwork: false };
  kinds.forEach((k, i) => {
    if (k.toLowerCase() === 'all') {
      out.hostPolicies = true;
      out.hostNetwork = true;
      return;
    }
    const kind = findKind(k);
    if (kind === HOST_POLICY) out.hostPolicies = true;
    else if (kind === CLUSTERWIDE_NETWORK_POLICY) out.hostNetwork = true;
    else throw new ApiError('InvalidArgument', `kinds[${i}]: ${JSON.stringify(k)} is not KubeArmorHostPolicy, CiliumClusterwideNetworkPolicy or all`);
  });
  return out;
}
