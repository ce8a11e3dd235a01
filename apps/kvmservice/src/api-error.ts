import { status as GrpcStatus } from '@grpc/grpc-js';

export type ApiErrorCode =
  | 'InvalidArgument'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Unauthenticated'
  | 'PermissionDenied'
  | 'FailedPrecondition'
  | 'ResourceExhausted'
  | 'Unavailable';

const GRPC_CODES: Record<ApiErrorCode, GrpcStatus> = {
  InvalidArgument: GrpcStatus.INVALID_ARGUMENT,
  NotFound: GrpcStatus.NOT_FOUND,
  AlreadyExists: GrpcStatus.ALREADY_EXISTS,
  Conflict: GrpcStatus.ABORTED,
  Unauthenticated: GrpcStatus.UNAUTHENTICATED,
  PermissionDenied: GrpcStatus.PERMISSION_DENIED,
  FailedPrecondition: GrpcStatus.FAILED_PRECONDITION,
  ResourceExhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  Unavailable: GrpcStatus.UNAVAILABLE,
};

const HTTP_CODES: Record<ApiErrorCode, number> = {
  InvalidArgument: 422,
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Unauthenticated: 401,
  PermissionDenied: 403,
  FailedPrecondition: 412,
  ResourceExhausted: 429,
  Unavailable: 503,
};

/**
 * An error the API reports to its caller, with a message safe to show (never a secret, never a
 * stack). Services throw it; the gRPC and HTTP edges map it to their status codes.
 */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get grpcCode(): GrpcStatus {
    return GRPC_CODES[this.code];
  }

  get httpStatus(): number {
    return HTTP_CODES[this.code];
  }
}
