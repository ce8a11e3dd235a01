import { describe, expect, it } from 'vitest';
import { NotFoundError, StoreUnavailableError } from './errors.js';
import { retrying } from './retry.js';

const policy = { totalTimeoutMs: 300, initialBackoffMs: 10, maxBackoffMs: 50 };
const transient = (error: unknown): boolean => error instanceof Error && error.message === 'flaky';

describe('retrying', () => {
  it('retries transient failures until an attempt succeeds', async () => {
    const attempts: number[] = [];
    const result = await retrying('op', policy, transient, async (n) => {
      attempts.push(n);
      if (n < 3) throw new Error('flaky');
      return 'done';
    });
    expect(result).toBe('done');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('passes other errors through untouched, without retrying', async () => {
    let calls = 0;
    const error = await retrying('op', policy, transient, async () => {
      calls++;
      throw new NotFoundError('/k');
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(calls).toBe(1);
  });

  it('gives up with StoreUnavailableError once the budget is spent', async () => {
    const started = Date.now();
    const error = await retrying('put /k', policy, transient, async () => {
      throw new Error('flaky');
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/^put \/k: backend unavailable after \d+ attempt\(s\) in \d+ ms: flaky$/);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
