import { status as GrpcStatus, type ServerErrorResponse } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { ApiError } from '../api-error.js';
import { toApiError } from '../objects/object-service.js';

/**
 * The gRPC status for an error: API errors keep their code and message; anything else is logged
 * and reported as INTERNAL without details (no stack or internal state reaches a caller).
 */
export function grpcStatusOf(e: unknown, log: Logger): { code: GrpcStatus; details: string } {
  const mapped = toApiError(e);
  if (mapped instanceof ApiError) return { code: mapped.grpcCode, details: mapped.message };
  log.error({ err: e }, 'internal error');
  return { code: GrpcStatus.INTERNAL, details: 'internal error (see the kvmservice log)' };
}

export function rpcException(e: unknown, log: Logger): RpcException {
  const { code, details } = grpcStatusOf(e, log);
  return new RpcException({ code, message: details, details });
}

/** Ends a stream call with a status. */
export function failStream(call: { emit(event: 'error', error: Partial<ServerErrorResponse>): boolean }, e: unknown, log: Logger): void {
  const { code, details } = grpcStatusOf(e, log);
  call.emit('error', { code, details, message: details });
}
