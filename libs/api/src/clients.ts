import * as grpc from '@grpc/grpc-js';
import type { ProtoGrpcType as AgentProto } from './generated/agent.js';
import type { ProtoGrpcType as ControlProto } from './generated/control.js';
import type { AgentServiceClient } from './generated/kvmservice/v1/AgentService.js';
import type { ControlServiceClient } from './generated/kvmservice/v1/ControlService.js';
import { loadKvmServiceProto } from './proto.js';

export interface ConnectionOptions {
  /** `host:port`. */
  address: string;
  /** PEM of the CA that signed the server's certificate; required unless `insecure`. */
  caPem?: string | Buffer;
  /** Plain-text gRPC (local development only). */
  insecure?: boolean;
  /** Bearer token sent with every call (admin token or agent credential). */
  token?: string;
  /** Name the server certificate is checked against (default: the address's host). */
  serverName?: string;
  channelOptions?: grpc.ChannelOptions;
}

let cached: (AgentProto & ControlProto) | undefined;

function proto(): AgentProto & ControlProto {
  cached ??= grpc.loadPackageDefinition(loadKvmServiceProto()) as unknown as AgentProto & ControlProto;
  return cached;
}

/**
 * Adds `authorization: Bearer <token>` to every call. An interceptor rather than call credentials,
 * so that the same code works on an insecure channel (grpc-js refuses call credentials there).
 */
function bearerInterceptor(token: string): grpc.Interceptor {
  return (options, next) =>
    new grpc.InterceptingCall(next(options), {
      start(metadata, listener, nextStart) {
        metadata.set('authorization', `Bearer ${token}`);
        nextStart(metadata, listener);
      },
    });
}

function channel(options: ConnectionOptions): { credentials: grpc.ChannelCredentials; clientOptions: grpc.ClientOptions } {
  if (!options.insecure && options.caPem === undefined) throw new Error('a CA certificate is required for TLS (or choose insecure)');
  const credentials = options.insecure ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(Buffer.from(options.caPem!));
  const clientOptions: grpc.ClientOptions = {
    ...options.channelOptions,
    interceptors: options.token ? [bearerInterceptor(options.token)] : [],
  };
  // Node refuses an IP address as a TLS server name (RFC 6066); on loopback, check the name the
  // server certificate always carries instead.
  const host = options.address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const serverName = options.serverName ?? (host === '::1' || host.startsWith('127.') ? 'localhost' : undefined);
  if (!options.insecure && serverName) clientOptions['grpc.ssl_target_name_override'] = serverName;
  return { credentials, clientOptions };
}

export function createControlClient(options: ConnectionOptions): ControlServiceClient {
  const { credentials, clientOptions } = channel(options);
  return new (proto().kvmservice.v1.ControlService)(options.address, credentials, clientOptions);
}

export function createAgentClient(options: ConnectionOptions): AgentServiceClient {
  const { credentials, clientOptions } = channel(options);
  return new (proto().kvmservice.v1.AgentService)(options.address, credentials, clientOptions);
}

/**
 * A generated unary method. Typed by its last overload `(request, callback)`, the one TypeScript
 * infers from; it is called with a deadline through the `(request, options, callback)` overload.
 */
type UnaryMethod<Req, Res> = (request: Req, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;

/** Calls a unary method as a promise, with a deadline: `unary(client.get.bind(client), request)`. */
export function unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, timeoutMs = 30_000): Promise<Res> {
  const withOptions = method as unknown as (request: Req, options: grpc.CallOptions, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;
  return new Promise((resolve, reject) => {
    withOptions(request, { deadline: Date.now() + timeoutMs }, (error, response) => {
      if (error) reject(error);
      else resolve(response as Res);
    });
  });
}
