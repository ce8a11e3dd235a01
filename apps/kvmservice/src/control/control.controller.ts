/**
 * ControlService: what kvmctl and other admin clients call. Every method authenticates an admin
 * token first; objects travel as JSON documents.
 */
import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata, ServerWritableStream } from '@grpc/grpc-js';
import type {
  ApplyRequest__Output,
  ApplyResponse,
  CreateTokenRequest__Output,
  CreateTokenResponse,
  DeleteRequest__Output,
  DeleteResponse,
  DiscoverRequest__Output,
  DiscoverResponse,
  GetInstallScriptRequest__Output,
  GetInstallScriptResponse,
  GetRequest__Output,
  GetResponse,
  LabelRequest__Output,
  LabelResponse,
  ListRequest__Output,
  ListResponse,
  ListTokensResponse,
  RevokeCredentialRequest__Output,
  RevokeCredentialResponse,
  RevokeTokenRequest__Output,
  RevokeTokenResponse,
  SnapshotRequest__Output,
  SnapshotResponse,
  StreamEventsRequest__Output,
  StreamEventsResponse,
  Token,
  WatchRequest__Output,
  WatchResponse,
} from '@kvmservice/api';
import { parseDocuments } from '@kvmservice/resources';
import { parseResourceVersion } from '@kvmservice/store';
import { EMPTY, type Observable, throwError } from 'rxjs';
import type { Logger } from 'pino';
import { ApiError } from '../api-error.js';
import { AuthService, type BootstrapToken } from '../auth/auth-service.js';
import { DiscoverService } from '../discovery/discover.service.js';
import { rpcException } from '../grpc/rpc-errors.js';
import { InstallService } from '../install/install.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ObjectService } from '../objects/object-service.js';
import { SnapshotService, streamSender } from '../snapshot/snapshot.service.js';
import { EventFeed } from '../telemetry/event-feed.js';
import { LOGGER } from '../tokens.js';

const OUTCOMES = { created: 'APPLY_OUTCOME_CREATED', configured: 'APPLY_OUTCOME_CONFIGURED', unchanged: 'APPLY_OUTCOME_UNCHANGED', deleted: 'APPLY_OUTCOME_DELETED' } as const;

/** Upper bound on one Apply request (objects), beyond the gRPC message size limit. */
const MAX_APPLY_OBJECTS = 5000;

function parseObjects(texts: string[]): unknown[] {
  if (texts.length > MAX_APPLY_OBJECTS) throw new ApiError('InvalidArgument', `at most ${MAX_APPLY_OBJECTS} objects per apply`);
  return texts.map((text, i) => {
    let object: unknown;
    try {
      object = JSON.parse(text) as unknown;
    } catch (e) {
      // V8 quotes the text around the error: one short line, whatever the text holds.
      throw new ApiError('InvalidArgument', `object ${i + 1}: not valid JSON (${oneLine((e as Error).message)})`);
    }
    // JSON.parse keeps the last of duplicate keys; a reviewer of the file may have read the first.
    const duplicate = duplicateKeyProblem(text);
    if (duplicate !== undefined) throw new ApiError('InvalidArgument', `object ${i + 1}: ${duplicate}`);
    return object;
  });
}

const oneLine = (text: string): string => {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
};

/** A duplicate key anywhere in a JSON text, as the YAML reader (unique keys) reports it. */
function duplicateKeyProblem(text: string): string | undefined {
  const [doc] = parseDocuments(text, 'object');
  return doc?.error !== undefined && /unique/i.test(doc.error) ? oneLine(doc.error) : undefined;
}

function tokenToWire(t: BootstrapToken): Token {
  return { id: t.id, hostname: t.hostname, labels: t.labels, expiresAt: t.expiresAt, createdAt: t.createdAt, description: t.description, usedBy: t.usedBy };
}

/** Writes to a server stream, waiting when the client reads slower than we write. */
async function write<T>(call: ServerWritableStream<unknown, T>, message: T): Promise<void> {
  if (!call.write(message)) await new Promise((resolve) => call.once('drain', resolve));
}

@Controller()
export class ControlController {
  constructor(
    private readonly auth: AuthService,
    private readonly objects: ObjectService,
    private readonly feed: EventFeed,
    private readonly metrics: MetricsService,
    private readonly install: InstallService,
    @Inject(LOGGER) private readonly log: Logger,
    private readonly snapshots: SnapshotService,
    private readonly discovery: DiscoverService,
  ) {}

  private async unary<T>(method: string, metadata: Metadata, run: () => Promise<T>): Promise<T> {
    const stop = this.metrics.grpcTimer(method);
    try {
      await this.auth.authenticateAdmin(metadata);
      return await run();
    } catch (e) {
      throw rpcException(e, this.log);
    } finally {
      stop();
    }
  }

  @GrpcMethod('ControlService', 'Apply')
  apply(request: ApplyRequest__Output, metadata: Metadata): Promise<ApplyResponse> {
    return this.unary('Apply', metadata, async () => {
      const results = await this.objects.apply(parseObjects(request.objects), { dryRun: request.dryRun });
      return {
        results: results.map((r) => ({
          kind: r.kind.kind,
          name: r.name,
          outcome: OUTCOMES[r.outcome],
          resourceVersion: r.resourceVersion,
        })),
      };
    });
  }

  @GrpcMethod('ControlService', 'Get')
  get(request: GetRequest__Output, metadata: Metadata): Promise<GetResponse> {
    return this.unary('Get', metadata, async () => ({ object: JSON.stringify(await this.objects.get(request.kind, request.name)) }));
  }

  @GrpcMethod('ControlService', 'List')
  list(request: ListRequest__Output, metadata: Metadata): Promise<ListResponse> {
    return this.unary('List', metadata, async () => {
      if (request.limit < 0) throw new ApiError('InvalidArgument', 'limit: must not be negative');
      const page = await this.objects.list(request.kind, { selector: request.labelSelector, limit: request.limit, continue: request.continueToken });
      return { items: page.items.map((o) => JSON.stringify(o)), continueToken: page.continue ?? '', resourceVersion: String(page.revision) };
    });
  }

  @GrpcMethod('ControlService', 'Delete')
  delete(request: DeleteRequest__Output, metadata: Metadata): Promise<DeleteResponse> {
    return this.unary('Delete', metadata, async () => {
      const { kind } = await this.objects.delete(request.kind, request.name, request.resourceVersion || undefined);
      return { kind: kind.kind, name: request.name };
    });
  }

  @GrpcMethod('ControlService', 'Label')
  label(request: LabelRequest__Output, metadata: Metadata): Promise<LabelResponse> {
    return this.unary('Label', metadata, async () => {
      const { object, changed } = await this.objects.label(request.kind, request.name, {
        set: request.set ?? {},
        remove: request.remove,
        overwrite: request.overwrite,
        ...(request.resourceVersion ? { resourceVersion: request.resourceVersion } : {}),
      });
      return { object: JSON.stringify(object), changed };
    });
  }

  @GrpcMethod('ControlService', 'CreateToken')
  createToken(request: CreateTokenRequest__Output, metadata: Metadata): Promise<CreateTokenResponse> {
    return this.unary('CreateToken', metadata, async () => {
      const { token, secret } = await this.auth.createBootstrapToken({
        hostname: request.hostname,
        labels: request.labels ?? {},
        ttlSeconds: request.ttlSeconds,
        description: request.description,
      });
      return { token: tokenToWire(token), secret };
    });
  }

  @GrpcMethod('ControlService', 'ListTokens')
  listTokens(_request: unknown, metadata: Metadata): Promise<ListTokensResponse> {
    return this.unary('ListTokens', metadata, async () => ({ tokens: (await this.auth.listBootstrapTokens()).map(tokenToWire) }));
  }

  @GrpcMethod('ControlService', 'RevokeToken')
  revokeToken(request: RevokeTokenRequest__Output, metadata: Metadata): Promise<RevokeTokenResponse> {
    return this.unary('RevokeToken', metadata, async () => {
      await this.auth.revokeBootstrapToken(request.id);
      return {};
    });
  }

  @GrpcMethod('ControlService', 'RevokeCredential')
  revokeCredential(request: RevokeCredentialRequest__Output, metadata: Metadata): Promise<RevokeCredentialResponse> {
    return this.unary('RevokeCredential', metadata, async () => {
      await this.auth.revokeCredential(request.hostname);
      return {};
    });
  }

  @GrpcMethod('ControlService', 'GetInstallScript')
  getInstallScript(request: GetInstallScriptRequest__Output, metadata: Metadata): Promise<GetInstallScriptResponse> {
    return this.unary('GetInstallScript', metadata, async () => ({
      script: await this.install.scriptForHost({ hostname: request.hostname, createToken: request.createToken, tokenTtlSeconds: request.tokenTtlSeconds }),
    }));
  }

  @GrpcMethod('ControlService', 'Watch')
  async watch(request: WatchRequest__Output, metadata: Metadata, call: ServerWritableStream<WatchRequest__Output, WatchResponse>): Promise<Observable<never>> {
    const abort = new AbortController();
    call.on('cancelled', () => abort.abort());
    try {
      await this.auth.authenticateAdmin(metadata);
      let from: number;
      if (request.resourceVersion) {
        const parsed = parseResourceVersion(request.resourceVersion);
        if (!parsed.ok) throw new ApiError('InvalidArgument', parsed.reason);
        from = parsed.revision + 1;
      } else {
        const page = await this.objects.list(request.kind, { selector: request.labelSelector });
        for (const o of page.items) await write(call, { type: 'ADDED', object: JSON.stringify(o) });
        from = page.revision + 1;
      }
      for await (const change of this.objects.watch(request.kind, { selector: request.labelSelector, fromRevision: from, signal: abort.signal })) {
        await write(call, { type: change.type, object: JSON.stringify(change.object) });
      }
      return EMPTY;
    } catch (e) {
      if (abort.signal.aborted) return EMPTY;
      // An RpcException: Nest turns any other error object into UNKNOWN "Internal server error".
      return throwError(() => rpcException(e, this.log));
    }
  }

  @GrpcMethod('ControlService', 'StreamEvents')
  async streamEvents(
    request: StreamEventsRequest__Output,
    metadata: Metadata,
    call: ServerWritableStream<StreamEventsRequest__Output, StreamEventsResponse>,
  ): Promise<Observable<never>> {
    const abort = new AbortController();
    call.on('cancelled', () => abort.abort());
    try {
      await this.auth.authenticateAdmin(metadata);
      for await (const event of this.feed.events(request, abort.signal)) await write(call, { event });
      return EMPTY;
    } catch (e) {
      if (abort.signal.aborted) return EMPTY;
      return throwError(() => rpcException(e, this.log));
    }
  }

  @GrpcMethod('ControlService', 'Snapshot')
  async snapshot(
    _request: SnapshotRequest__Output,
    metadata: Metadata,
    call: ServerWritableStream<SnapshotRequest__Output, SnapshotResponse>,
  ): Promise<Observable<never>> {
    const abort = new AbortController();
    call.on('cancelled', () => abort.abort(new Error('the caller cancelled the snapshot')));
    try {
      await this.auth.authenticateAdmin(metadata);
      await this.snapshots.stream(streamSender(call, abort.signal), abort.signal);
      return EMPTY;
    } catch (e) {
      if (abort.signal.aborted) return EMPTY;
      // An RpcException: Nest's exception filter turns anything else into "Internal server error".
      return throwError(() => rpcException(e, this.log));
    }
  }

  @GrpcMethod('ControlService', 'Discover')
  discover(request: DiscoverRequest__Output, metadata: Metadata): Promise<DiscoverResponse> {
    return this.unary('Discover', metadata, async () => {
      const out = await this.discovery.discover({
        host: request.host,
        kinds: request.kinds,
        single: request.single,
        binaries: request.binaries,
        directoryThreshold: request.directoryThreshold,
        save: request.save,
      });
      return {
        objects: out.objects.map((o) => JSON.stringify(o)),
        warnings: out.warnings,
        discoveredPolicies: out.discoveredPolicies.map((o) => JSON.stringify(o)),
        events: out.events,
        lastSeq: out.lastSeq,
      };
    });
  }
}
