import { status as GrpcStatus } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { rpcErrorMessage } from './connection.js';

const at = { address: '10.0.0.1:32770', origin: '--server 10.0.0.1:32770', timeoutMs: 30_000 };
const err = (code: number, details: string) => Object.assign(new Error(details), { code, details, metadata: undefined });

describe('rpcErrorMessage', () => {
  it('tells an unreachable server from a server whose store is down', () => {
    expect(rpcErrorMessage(err(GrpcStatus.UNAVAILABLE, 'No connection established'), at)).toBe('cannot reach kvmservice at 10.0.0.1:32770 (--server 10.0.0.1:32770): No connection established');
    expect(rpcErrorMessage(err(GrpcStatus.UNAVAILABLE, 'store unavailable: etcd: no leader'), at)).toBe('kvmservice at 10.0.0.1:32770 cannot reach its store: etcd: no leader');
  });
  it('names the credentials and the timeout', () => {
    expect(rpcErrorMessage(err(GrpcStatus.UNAUTHENTICATED, 'invalid admin token'), at)).toMatch(/^kvmservice at 10\.0\.0\.1:32770 refused the credentials/);
    expect(rpcErrorMessage(err(GrpcStatus.DEADLINE_EXCEEDED, 'x'), at)).toBe('kvmservice at 10.0.0.1:32770 did not answer within 30s (--request-timeout)');
  });
});
