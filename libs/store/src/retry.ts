import { StoreUnavailableError } from './errors.js';

export interface RetryPolicy {
  /** Give up (StoreUnavailableError) once this much time has passed since the first attempt. */
  readonly totalTimeoutMs: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { totalTimeoutMs: 10_000, initialBackoffMs: 50, maxBackoffMs: 1_000 };

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `attempt(n)` (n = 1, 2, …) until it succeeds, fails with an error `isTransient` rejects, or the
 * time budget is spent. Backoff is exponential with full jitter, so replicas that lost the same
 * member do not retry in lockstep.
 */
export async function retrying<T>(
  what: string,
  policy: RetryPolicy,
  isTransient: (error: unknown) => boolean,
  attempt: (n: number) => Promise<T>,
  stopped: () => boolean = () => false,
): Promise<T> {
  const started = Date.now();
  let backoff = policy.initialBackoffMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (!isTransient(error)) throw error;
      const wait = Math.random() * backoff;
      const elapsed = Date.now() - started;
      if (stopped() || elapsed + wait >= policy.totalTimeoutMs) {
        throw new StoreUnavailableError(
          `${what}: backend unavailable after ${n} attempt(s) in ${elapsed} ms: ${(error as Error).message}`,
          { cause: error },
        );
      }
      await sleep(wait);
      backoff = Math.min(policy.maxBackoffMs, backoff * 2);
    }
  }
}
