/**
 * From the global flags and the config file to a ControlService client; gRPC failures become one
 * line that says what to check.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { status as GrpcStatus, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { createControlClient, type ControlServiceClient } from '@kvmservice/api';
import { configCandidates, loadConfig } from './config/config-file.js';
import { CliError, usageError, type CliIo } from './io.js';
import { parseDurationSeconds } from './options.js';

/** Flags every command accepts (defined on the program). */
export interface GlobalOptions {
  config?: string;
  context?: string;
  server?: string;
  token?: string;
  insecure?: boolean;
  certificateAuthority?: string;
  tlsServerName?: string;
  requestTimeout?: string;
}

export interface ResolvedConnection {
  address: string;
  caPem?: string;
  insecure: boolean;
  token?: string;
  serverName?: string;
  /** How the target was chosen, for error messages: `context "default" of /x/kvmctl.yaml`. */
  origin: string;
  timeoutMs: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

export function requestTimeoutMs(globals: GlobalOptions): number {
  if (globals.requestTimeout === undefined) return DEFAULT_TIMEOUT_MS;
  const seconds = parseDurationSeconds(globals.requestTimeout);
  if (seconds === undefined || seconds <= 0) throw usageError(`--request-timeout: ${JSON.stringify(globals.requestTimeout)} is not a duration (e.g. 30s, 2m)`);
  return seconds * 1000;
}

/** Applies flags over the chosen context of the config file. */
export function resolveConnection(globals: GlobalOptions, io: CliIo): ResolvedConnection {
  const loaded = loadConfig(globals.config, io, { mustExist: globals.config !== undefined || (io.env.KVMCTL_CONFIG !== undefined && globals.server === undefined) });
  const config = loaded?.config;
  const contextName = globals.context ?? config?.currentContext ?? '';
  let context = config?.contexts.find((c) => c.name === contextName);
  if (globals.context !== undefined && !context) {
    throw new CliError(`context "${globals.context}" not found in ${loaded?.path ?? 'any config file'} (kvmctl config get-contexts lists them)`);
  }
  if (!context && config && contextName === '' && config.contexts.length === 1) context = config.contexts[0];
  const address = globals.server ?? context?.server ?? '';
  if (address === '') {
    const looked = configCandidates(globals.config, io).map((c) => c.path).join(', ');
    throw new CliError(
      loaded
        ? `no server: ${loaded.path} has no current context with a server (kvmctl config use-context NAME, or --server HOST:PORT)`
        : `no server configured: pass --server HOST:PORT or create a config (kvmctl config set-context); looked for ${looked}`,
    );
  }
  const origin = globals.server !== undefined ? `--server ${globals.server}` : `context "${context!.name}" of ${loaded!.path}`;
  // As kubectl: a flag overrides one field; the rest still comes from the context.
  let caPem: string | undefined = context?.certificateAuthorityData;
  const caFile = globals.certificateAuthority ?? context?.certificateAuthority;
  if (caFile !== undefined) {
    // A path in the config file is relative to that file; a flag is relative to the working directory.
    const path = globals.certificateAuthority !== undefined ? resolve(io.cwd, caFile) : resolve(loaded!.path, '..', caFile);
    try {
      caPem = readFileSync(path, 'utf8');
    } catch (e) {
      throw new CliError(`certificate authority ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  }
  // A CA given on the command line means TLS, even over a context that says insecure.
  const insecure = globals.insecure ?? (globals.certificateAuthority !== undefined ? false : (context?.insecure ?? false));
  if (!insecure && caPem === undefined) {
    throw new CliError(`no certificate authority for ${address} (${origin}): set certificate-authority-data in the context, pass --certificate-authority FILE, or --insecure for a plain-text development server`);
  }
  const token = globals.token ?? context?.token;
  const serverName = globals.tlsServerName ?? context?.tlsServerName;
  return {
    address,
    ...(caPem !== undefined ? { caPem } : {}),
    insecure,
    ...(token ? { token } : {}),
    ...(serverName ? { serverName } : {}),
    origin,
    timeoutMs: requestTimeoutMs(globals),
  };
}

function isServiceError(e: unknown): e is ServiceError {
  return typeof e === 'object' && e !== null && typeof (e as ServiceError).code === 'number' && 'details' in e;
}

/** One line for a failed call, naming the server when the problem is reaching or trusting it. */
export function rpcErrorMessage(e: unknown, connection: Pick<ResolvedConnection, 'address' | 'origin' | 'timeoutMs'>): string {
  if (!isServiceError(e)) return (e as Error).message ?? String(e);
  const details = (e.details || e.message).replace(/\s*\n\s*/g, '; ');
  switch (e.code) {
    case GrpcStatus.UNAVAILABLE:
      // UNAVAILABLE is also what a running kvmservice answers when its store is down.
      return /^store unavailable/.test(details)
        ? `kvmservice at ${connection.address} cannot reach its store: ${details.replace(/^store unavailable:\s*/, '')}`
        : `cannot reach kvmservice at ${connection.address} (${connection.origin}): ${details}`;
    case GrpcStatus.UNAUTHENTICATED:
      return `kvmservice at ${connection.address} refused the credentials (${connection.origin}): ${details}`;
    case GrpcStatus.DEADLINE_EXCEEDED:
      return `kvmservice at ${connection.address} did not answer within ${connection.timeoutMs / 1000}s (--request-timeout)`;
    default:
      return details;
  }
}

/** A failed call: one line for the user, and the gRPC code for callers that handle some (NotFound). */
export class RpcError extends CliError {
  constructor(
    message: string,
    readonly grpcCode: GrpcStatus | undefined,
  ) {
    super(message);
  }

  get notFound(): boolean {
    return this.grpcCode === GrpcStatus.NOT_FOUND;
  }
}

/** A lazily opened connection for one command run. */
export class ServerSession {
  private client?: ControlServiceClient;
  private resolved?: ResolvedConnection;

  constructor(
    private readonly globals: GlobalOptions,
    private readonly io: CliIo,
  ) {}

  get connection(): ResolvedConnection {
    this.resolved ??= resolveConnection(this.globals, this.io);
    return this.resolved;
  }

  get control(): ControlServiceClient {
    if (!this.client) {
      const c = this.connection;
      this.client = createControlClient({
        address: c.address,
        ...(c.caPem !== undefined ? { caPem: c.caPem } : {}),
        insecure: c.insecure,
        ...(c.token ? { token: c.token } : {}),
        ...(c.serverName ? { serverName: c.serverName } : {}),
        // grpc-js accepts 4 MiB by default; a page of large policies or a big host status is more.
        channelOptions: { 'grpc.max_receive_message_length': MAX_RECEIVE_BYTES },
      });
    }
    return this.client;
  }

  /** Runs a unary call (given the client and the deadline budget); failures become RpcError. */
  async call<T>(run: (client: ControlServiceClient, timeoutMs: number) => Promise<T>): Promise<T> {
    const client = this.control;
    try {
      return await run(client, this.connection.timeoutMs);
    } catch (e) {
      throw new RpcError(rpcErrorMessage(e, this.connection), isServiceError(e) ? e.code : undefined);
    }
  }

  /**
   * Reads a server stream to its end, calling `onMessage` for each message (awaited, so a slow
   * stdout holds the stream back). Ends quietly when `signal` aborts.
   */
  async stream<T>(open: (client: ControlServiceClient) => ClientReadableStream<T>, onMessage: (message: T) => void | Promise<void>, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return;
    const call = open(this.control);
    const abort = () => call.cancel();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      for await (const message of call as AsyncIterable<T>) await onMessage(message);
    } catch (e) {
      if (signal?.aborted && isServiceError(e) && e.code === GrpcStatus.CANCELLED) return;
      throw new RpcError(rpcErrorMessage(e, this.connection), isServiceError(e) ? e.code : undefined);
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  close(): void {
    this.client?.close();
  }
}

/** Runs `fn` with a session and always closes the connection. */
export async function withSession<T>(globals: GlobalOptions, io: CliIo, fn: (session: ServerSession) => Promise<T>): Promise<T> {
  const session = new ServerSession(globals, io);
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}
