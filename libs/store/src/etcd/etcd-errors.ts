import { isBrokenCircuitError } from 'cockatiel';
import { castGrpcError, ClientClosedError, EtcdLeaseInvalidError, isRecoverableError } from 'etcd3';
import { CompactedError, InvalidArgumentError, LeaseNotFoundError, StoreError, StoreUnavailableError } from '../errors.js';

const TRANSIENT_MESSAGES = [
  'etcdserver: leader changed',
  'etcdserver: no leader',
  'etcdserver: request timed out',
  'etcdserver: too many requests',
  'etcdserver: server stopped',
  'etcdserver: not capable',
];

/** Network failures, deadlines, open circuits and leader elections: worth another attempt. */
export function isTransientEtcdError(raw: unknown): boolean {
  if (!(raw instanceof Error) || raw instanceof StoreError || raw instanceof ClientClosedError) return false;
  // Errors from streams arrive as plain gRPC errors (status code only); give them etcd3's types.
  const error = castGrpcError(raw);
  if (isBrokenCircuitError(error) || isRecoverableError(error)) return true;
  return TRANSIENT_MESSAGES.some((message) => error.message.includes(message));
}

export function isCompactedEtcdError(error: unknown): boolean {
  return error instanceof Error && error.message.includes('required revision has been compacted');
}

/** Maps an etcd3/gRPC failure to the store's typed errors. */
export function toStoreError(raw: unknown, context: { readonly revision?: number; readonly leaseId?: string } = {}): StoreError {
  if (raw instanceof StoreError) return raw;
  const error = raw instanceof Error ? castGrpcError(raw) : raw;
  const message = error instanceof Error ? error.message : String(error);
  if (isCompactedEtcdError(error)) return new CompactedError(context.revision ?? 0, undefined);
  if (message.includes('required revision is a future revision')) {
    return new InvalidArgumentError(`revision ${context.revision ?? '?'} is in the future`);
  }
  if (message.includes('request is too large')) return new InvalidArgumentError(`etcd refused the request as too large: ${message}`);
  if (error instanceof EtcdLeaseInvalidError || message.includes('requested lease not found')) {
    return new LeaseNotFoundError(context.leaseId ?? '?');
  }
  if (error instanceof ClientClosedError) return new StoreUnavailableError('store closed', { cause: error });
  return new StoreUnavailableError(`etcd: ${message}`, { cause: error });
}
