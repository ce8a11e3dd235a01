import { CompareResult, CompareTarget, type IKeyValue, type ITxnResponse } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { checkCommit } from '../commit.js';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../errors.js';
import type { CommitOperation } from '../store.js';
import { commitTxn, committedResult, firstFailedPrecondition, ownCommitRevision, type EtcdOperation } from './etcd-commit.js';

const operations = (list: readonly CommitOperation[]): EtcdOperation[] =>
  checkCommit(list, undefined).map((op) => (op.type === 'delete' ? op : { ...op, leaseId: typeof op.lease === 'string' ? op.lease : '0' }));

const kv = (key: string, value: string, modRevision: number, extra: Partial<IKeyValue> = {}): IKeyValue => ({
  key: Buffer.from(key),
  value: Buffer.from(value),
  create_revision: String(extra.create_revision ?? modRevision),
  mod_revision: String(modRevision),
  version: extra.version ?? '1',
  lease: extra.lease ?? '0',
});

const header = (revision: number): ITxnResponse['header'] => ({ cluster_id: '1', member_id: '1', revision: String(revision), raft_term: '2' });

describe('etcd commit transaction', () => {
  const ops = operations([
    { type: 'create', key: '/c', value: 'c' },
    { type: 'update', key: '/u', value: 'u', expectRevision: 7 },
    { type: 'update', key: '/any', value: 'a' },
    { type: 'put', key: '/p', value: 'p', lease: '42' },
    { type: 'delete', key: '/d', expectRevision: 9 },
    { type: 'delete', key: '/gone' },
  ]);

  it('compares each conditional operation, writes all in order, and reads nothing back in the transaction', () => {
    const txn = commitTxn(ops);
    expect(txn.compare).toEqual([
      { key: Buffer.from('/c'), target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 },
      { key: Buffer.from('/u'), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: 7 },
      { key: Buffer.from('/any'), target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 },
      { key: Buffer.from('/d'), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: 9 },
      { key: Buffer.from('/gone'), target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 },
    ]);
    expect(txn.success?.map((op) => (op.request_put ? `put ${op.request_put.key?.toString()} lease ${op.request_put.lease}` : `delete ${op.request_delete_range?.key?.toString()}`))).toEqual([
      'put /c lease 0',
      'put /u lease 0',
      'put /any lease 0',
      'put /p lease 42',
      'delete /d',
      'delete /gone',
    ]);
    expect(txn.success?.every((op) => (op.request_put ?? op.request_delete_range)?.prev_kv === true)).toBe(true);
    expect(txn.failure).toEqual([]);
  });

  it('builds results from the answers: previous versions for updates, previous values for deletes', () => {
    const response: ITxnResponse = {
      header: header(20),
      succeeded: true,
      responses: [
        { response_put: { header: header(20), prev_kv: null } },
        { response_put: { header: header(20), prev_kv: kv('/u', 'u0', 7, { create_revision: '3', version: '4' }) } },
        { response_put: { header: header(20), prev_kv: kv('/any', 'a0', 8) } },
        { response_put: { header: header(20), prev_kv: null } },
        { response_delete_range: { header: header(20), deleted: '1', prev_kvs: [kv('/d', 'd0', 9)] } },
        { response_delete_range: { header: header(20), deleted: '1', prev_kvs: [kv('/gone', 'g0', 5)] } },
      ] as unknown as ITxnResponse['responses'],
    };
    const { revision, results } = committedResult(ops, response);
    expect(revision).toBe(20);
    expect(results[0]).toEqual({ key: '/c', value: Buffer.from('c'), createRevision: 20, modRevision: 20, version: 1, lease: undefined });
    expect(results[1]).toMatchObject({ createRevision: 3, modRevision: 20, version: 5 });
    expect(results[3]).toMatchObject({ key: '/p', version: 1, lease: '42' });
    expect(results[4]).toEqual({ revision: 20, prev: { key: '/d', value: Buffer.from('d0'), createRevision: 9, modRevision: 9, version: 1, lease: undefined } });
  });

  it('names the first operation whose precondition fails, in operation order', () => {
    const holding = [undefined, kv('/u', 'u', 7), kv('/any', 'a', 3), undefined, kv('/d', 'd', 9), kv('/gone', 'g', 2)];
    expect(firstFailedPrecondition(ops, holding)).toBeUndefined();
    const cases: Array<[number, IKeyValue | undefined, unknown]> = [
      [0, kv('/c', 'x', 11), new AlreadyExistsError('/c', 11)],
      [1, kv('/u', 'u', 8), new ConflictError('/u', 7, 8)],
      [1, undefined, new NotFoundError('/u')],
      [2, undefined, new NotFoundError('/any')],
      [4, kv('/d', 'd', 10), new ConflictError('/d', 9, 10)],
      [5, undefined, new NotFoundError('/gone')],
    ];
    for (const [index, state, error] of cases) {
      const current = [...holding];
      current[index] = state;
      expect(firstFailedPrecondition(ops, current)).toEqual(error);
    }
    const twoFailures = [...holding];
    twoFailures[5] = undefined;
    twoFailures[1] = undefined;
    expect(firstFailedPrecondition(ops, twoFailures)).toEqual(new NotFoundError('/u'));
  });

  it('recognises its own applied commit only when every written key holds its value and lease at one revision and deleted keys are gone', () => {
    const applied = [kv('/c', 'c', 30), kv('/u', 'u', 30), kv('/any', 'a', 30), kv('/p', 'p', 30, { lease: '42' }), undefined, undefined];
    expect(ownCommitRevision(ops, applied)).toBe(30);
    const variants: Array<[number, IKeyValue | undefined]> = [
      [0, kv('/c', 'other', 30)],
      [3, kv('/p', 'p', 30)],
      [2, kv('/any', 'a', 31)],
      [1, undefined],
      [4, kv('/d', 'd', 9)],
    ];
    for (const [index, state] of variants) {
      const current = [...applied];
      current[index] = state;
      expect(ownCommitRevision(ops, current), `variant at ${index}`).toBeUndefined();
    }
    // Deletions alone leave no trace of who made them.
    const deletesOnly = operations([{ type: 'delete', key: '/d' }]);
    expect(ownCommitRevision(deletesOnly, [undefined])).toBeUndefined();
  });
});
