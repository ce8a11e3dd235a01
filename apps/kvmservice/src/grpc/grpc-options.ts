/**
 * The gRPC server: kvmservice.v1 (ControlService, AgentService), grpc.health.v1 and reflection, on
 * TLS unless --insecure, with bounded message sizes.
 */
import { ServerCredentials, type Server } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { LOADER_OPTIONS, PROTO_FILES, protoDir } from '@kvmservice/api';
import { Transport, type GrpcOptions } from '@nestjs/microservices';
import type { PackageDefinition } from '@grpc/proto-loader';
import type { TlsMaterial } from '../auth/certificates.js';
import { addHealthService } from './health-service.js';

/** Largest message a client may send (a big Apply); larger ones are refused with RESOURCE_EXHAUSTED. */
export const MAX_RECEIVE_MESSAGE_BYTES = 16 * 1024 * 1024;

export function grpcOptions(address: string, tls: TlsMaterial | undefined): GrpcOptions {
  return {
    transport: Transport.GRPC,
    options: {
      package: 'kvmservice.v1',
      protoPath: [...PROTO_FILES],
      url: address,
      loader: { ...LOADER_OPTIONS, includeDirs: [protoDir()] },
      credentials: tls ? ServerCredentials.createSsl(Buffer.from(tls.caCertPem), [{ cert_chain: Buffer.from(tls.serverCertPem), private_key: Buffer.from(tls.serverKeyPem) }], false) : ServerCredentials.createInsecure(),
      maxReceiveMessageLength: MAX_RECEIVE_MESSAGE_BYTES,
      maxSendMessageLength: 64 * 1024 * 1024,
      channelOptions: {
        'grpc.keepalive_time_ms': 30_000,
        'grpc.keepalive_timeout_ms': 10_000,
        'grpc.keepalive_permit_without_calls': 1,
        'grpc.http2.min_ping_interval_without_data_ms': 10_000,
      },
      onLoadPackageDefinition: (pkg: PackageDefinition, server: Pick<Server, 'addService'>) => {
        new ReflectionService(pkg).addToServer(server);
        addHealthService(server);
      },
      // Agent streams are closed first (AgentSessions); then no caller waits for idle clients to leave.
      gracefulShutdown: false,
    },
  } as GrpcOptions;
}
