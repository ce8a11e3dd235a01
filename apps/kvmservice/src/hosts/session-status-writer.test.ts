import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@kvmservice/store';
import type { DesiredStateView } from '../desired/desired-state.js';
import { ServiceKeys } from '../store/service-keys.js';
import { HostStatusService } from './host-status.service.js';
import type { ReplicaService } from './replica.service.js';
import { SessionStatusWriter } from './session-status-writer.js';

const desired = (revision: number) => ({ revision, hash: `h${revision}`, policies: [], problems: [] }) as unknown as DesiredStateView;

describe('SessionStatusWriter', () => {
  let dir: string;
  let store: Store;
  let status: HostStatusService;
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'status-writer-'));
    store = await openStore(`sqlite:${join(dir, 'store.db')}`);
    status = new HostStatusService(store, new ServiceKeys('/kvmservice'), {} as ReplicaService);
    warnings.length = 0;
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('survives a burst of desired states between applied reports: no write fails, the newest desired state wins', async () => {
    const writer = new SessionStatusWriter(status, 'web-1', log);
    const applied: Promise<unknown>[] = [];
    for (let r = 1; r <= 300; r++) {
      writer.desired(desired(r));
      if (r % 10 === 0) applied.push(writer.write((s) => ({ ...s, applied: { revision: r, hash: `h${r}`, artifacts: [], at: '' } })));
    }
    await Promise.all(applied);
    await writer.write((s) => s);
    const final = await status.get('web-1');
    expect(final?.desired?.revision).toBe(300);
    expect(final?.applied?.revision).toBe(300);
    expect(warnings).toEqual([]);
  });

  it('never puts an older desired state back over a newer one written by another session', async () => {
    const older = new SessionStatusWriter(status, 'web-1', log);
    const newer = new SessionStatusWriter(status, 'web-1', log);
    newer.desired(desired(20));
    await newer.write((s) => s);
    older.desired(desired(10));
    await older.write((s) => ({ ...s, agent: { eventsDropped: 1 } }));
    const final = await status.get('web-1');
    expect(final?.desired?.revision).toBe(20);
    expect(final?.agent?.eventsDropped).toBe(1);
  });

  it('keeps writing after a failed write, and the next write carries the desired state the failed one lost', async () => {
    const writer = new SessionStatusWriter(status, 'web-1', log);
    const failing = writer.write(() => {
      throw new Error('boom');
    });
    writer.desired(desired(5));
    await expect(failing).rejects.toThrow('boom');
    await writer.write((s) => s);
    expect((await status.get('web-1'))?.desired?.revision).toBe(5);
  });
});
