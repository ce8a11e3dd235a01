import { status as GrpcStatus, type ServerErrorResponse } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { ApiError } from '../api-error.js';
import { toApiError } from '../objects/object-service.js';

/**
 * The gRPC status for an error: API errors keep their code and message; anything else is logged
 * and reported as INTERNAL without details (no stack or internal state reaches a caller).
 */
/**
 * The most a refusal carries: gRPC sends the details in a trailer, and a trailer larger than the
 * client accepts ends the call without the status. The first lines and a count of the rest.
 */
const MAX_DETAILS = 16 * 1024;

function capped(message: string): string {
  if (message.length <= MAX_DETAILS) return message;
  const cut = message.lastIndexOf('\n', MAX_DETAILS);
  const kept = message.slice(0, cut > 0 ? cut : MAX_DETAILS);
  const more = message.slice(kept.length).split('\n').filter((l) => l !== '').length;
  return `${kept}\n… and ${more} more problem lines`;
}

export function grpcStatusOf(e: unknown, log: Logger): { code: GrpcStatus; details: string } {
  const mapped = toApiError(e);
  if (mapped instanceof ApiError) return { code: mapped.grpcCode, details: capped(mapped.message) };
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
