/**
 * etcd3 attaches an 'error' listener to every stream it opens that reports the error to its
 * connection pool, which then closes every channel to that member (and trips its circuit breaker).
 * A stream we cancel ourselves ends with CANCELLED, which must not count as a member failure, or
 * closing one watch would break every other stream to the same member.
 */
interface ListenerOwner {
  removeAllListeners(event: string): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

function ownsListeners(stream: object): stream is ListenerOwner {
  return typeof (stream as Partial<ListenerOwner>).removeAllListeners === 'function';
}

export function cancelQuietly(stream: { cancel(): void; on(event: 'error', listener: (error: Error) => void): unknown }): void {
  if (ownsListeners(stream)) stream.removeAllListeners('error');
  stream.on('error', () => undefined);
  stream.cancel();
}
