/**
 * gRPC calls with raw bytes as the request, on the real paths of a kvmservice (TLS, loopback): to
 * send what no generated client would — malformed protobuf, oversize messages — and to call every
 * method of a service generically, each with an empty (all-default) request. Every call ends with
 * its gRPC status.
 */
import * as grpc from '@grpc/grpc-js';
import { loadKvmServiceProto } from '@kvmservice/api';
import type { MethodDefinition } from '@grpc/proto-loader';

export interface CallOutcome {
  code: grpc.status;
  details: string;
  /** Messages the server answered before the status. */
  responses: number;
}

export interface RpcMethod {
  service: string;
  name: string;
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  /** The request encoded from a plain object (proto3 defaults for what is missing). */
  encode(request: object): Buffer;
  /** What the server's decoder (the same package definition) makes of these bytes; throws when it refuses them. */
  decode(bytes: Buffer): object;
}

/** Every method of kvmservice.v1, from the package definition the server loads too. */
export function kvmServiceMethods(): RpcMethod[] {
  const pkg = loadKvmServiceProto();
  const out: RpcMethod[] = [];
  for (const [service, definition] of Object.entries(pkg)) {
    if (!service.startsWith('kvmservice.v1.') || typeof definition !== 'object' || 'format' in definition) continue;
    for (const [name, m] of Object.entries(definition as Record<string, MethodDefinition<object, object>>)) {
      out.push({ service: service.slice('kvmservice.v1.'.length), name, path: m.path, requestStream: m.requestStream, responseStream: m.responseStream, encode: (r) => m.requestSerialize(r), decode: (b) => m.requestDeserialize(b) });
    }
  }
  return out;
}

const identity = (b: Buffer) => b;

export class RawClient {
  private readonly client: grpc.Client;

  constructor(address: string, caPem: Buffer) {
    this.client = new grpc.Client(address, grpc.credentials.createSsl(caPem), {
      'grpc.ssl_target_name_override': 'localhost',
      'grpc.max_send_message_length': -1,
      'grpc.max_receive_message_length': -1,
    });
  }

  /**
   * Sends `messages` (raw bytes) on `method` with an optional bearer token; resolves with the
   * status. A stream that answers and stays open (Sync, a following Watch) is cancelled
   * `cancelAfterAnswerMs` after its first answer (CANCELLED then means: accepted); `null`
   * waits for the server to end it, or for the deadline.
   */
  call(method: Pick<RpcMethod, 'path' | 'requestStream' | 'responseStream'>, messages: Buffer[], token?: string, timeoutMs = 15_000, cancelAfterAnswerMs: number | null = 200): Promise<CallOutcome> {
    const metadata = new grpc.Metadata();
    if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
    const options: grpc.CallOptions = { deadline: Date.now() + timeoutMs };
    return new Promise((resolve) => {
      let responses = 0;
      let done = false;
      const finish = (code: grpc.status, details: string) => {
        if (done) return;
        done = true;
        resolve({ code, details, responses });
      };
      if (!method.requestStream && !method.responseStream) {
        this.client.makeUnaryRequest(method.path, identity, identity, messages[0]!, metadata, options, (error) => {
          if (error) finish(error.code, error.details);
          else finish(grpc.status.OK, '');
        });
        return;
      }
      let call: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer> | grpc.ClientWritableStream<Buffer>;
      if (!method.requestStream) {
        call = this.client.makeServerStreamRequest(method.path, identity, identity, messages[0]!, metadata, options);
      } else if (method.responseStream) {
        const duplex = this.client.makeBidiStreamRequest(method.path, identity, identity, metadata, options);
        for (const m of messages) duplex.write(m);
        duplex.end();
        call = duplex;
      } else {
        const writable = this.client.makeClientStreamRequest(method.path, identity, identity, metadata, options, (error) => {
          if (error) finish(error.code, error.details);
          else finish(grpc.status.OK, '');
        });
        for (const m of messages) writable.write(m);
        writable.end();
        return;
      }
      call.on('data', () => {
        responses++;
        if (responses === 1 && cancelAfterAnswerMs !== null) setTimeout(() => (call as grpc.ClientReadableStream<Buffer>).cancel(), cancelAfterAnswerMs);
      });
      call.on('status', (s: grpc.StatusObject) => finish(s.code, s.details));
      call.on('error', (e: grpc.ServiceError) => finish(e.code, e.details));
    });
  }

  close(): void {
    this.client.close();
  }
}
