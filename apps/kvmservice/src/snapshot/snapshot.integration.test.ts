/**
 * ControlService.Snapshot on a real kvmservice (TLS gRPC on loopback, SQLite store): admin token
 * required, the stream's first message describes the file, the bytes make a store that opens, one
 * snapshot at a time, a caller that goes away stops it, and no file stays in the data directory.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as GrpcStatus, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { ControlServiceClient, SnapshotResponse__Output } from '@kvmservice/api';
import { openStore } from '@kvmservice/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsService } from '../metrics/metrics.service.js';
import { startTestService, type TestService } from '../testing/service-harness.js';

async function readAll(call: ClientReadableStream<SnapshotResponse__Output>): Promise<SnapshotResponse__Output[]> {
  const messages: SnapshotResponse__Output[] = [];
  for await (const message of call as AsyncIterable<SnapshotResponse__Output>) messages.push(message);
  return messages;
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('ControlService.Snapshot', () => {
  let svc: TestService;
  let control: ControlServiceClient;
  const snapshotDir = () => join(svc.config.dataDir, 'snapshots');
  const metric = async (result: string): Promise<number> => {
    const counter = await svc.app.get(MetricsService).registry.getSingleMetric('kvmservice_snapshots_total')!.get();
    return counter.values.find((v) => v.labels.result === result)?.value ?? 0;
  };

  beforeAll(async () => {
    svc = await startTestService();
    control = svc.control();
    // ~6 MiB of data, so that a caller that stops reading holds the stream back.
    const filler = 'z'.repeat(1000);
    for (let batch = 0; batch < 48; batch++) {
      await svc.store.commit(Array.from({ length: 128 }, (_, i) => ({ type: 'put' as const, key: `/snapshot-test/${batch}/${i}`, value: filler })));
    }
  });
  afterAll(async () => {
    control?.close();
    await svc?.close();
  });

  it('refuses callers without an admin token, before any work', async () => {
    for (const client of [svc.control(''), svc.control('kvmadm.nobody.notasecret')]) {
      const error = await readAll(client.snapshot({})).catch((e: unknown) => e);
      expect((error as ServiceError).code).toBe(GrpcStatus.UNAUTHENTICATED);
      client.close();
    }
    expect(readdirSync(svc.config.dataDir)).not.toContain('snapshots');
  });

  it('streams the store file: info first, then chunks adding up to it; the file opens as the store', async () => {
    const revision = await svc.store.currentRevision();
    const messages = await readAll(control.snapshot({}));
    const info = messages[0]!.info!;
    expect(info).toEqual({ backend: 'sqlite', revision, totalBytes: expect.any(Number) });
    expect(messages.slice(1).every((m) => m.info === null)).toBe(true);
    const bytes = Buffer.concat(messages.map((m) => m.chunk));
    expect(bytes.length).toBe(info.totalBytes);
    expect(messages.length).toBeGreaterThan(10);
    const file = join(mkdtempSync(join(tmpdir(), 'kvmservice-snapshot-')), 'kvmservice.db');
    writeFileSync(file, bytes);
    const restored = await openStore(`sqlite:${file}`);
    expect(await restored.currentRevision()).toBe(revision);
    expect((await restored.list('/snapshot-test/')).items).toHaveLength(48 * 128);
    await restored.close();
    expect(readdirSync(snapshotDir())).toEqual([]);
    expect(await metric('ok')).toBe(1);
  });

  it('takes one snapshot at a time; a caller that goes away ends it and its file is removed', async () => {
    const slow = control.snapshot({});
    await new Promise<void>((resolve) => slow.once('data', () => resolve()));
    slow.pause(); // the server now waits for flow control
    slow.on('error', () => undefined);
    const busy = await readAll(control.snapshot({})).catch((e: unknown) => e);
    expect((busy as ServiceError).code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect((busy as ServiceError).details).toBe('another snapshot is being taken on this replica; try again when it has finished');
    expect(await metric('busy')).toBe(1);
    expect(readdirSync(snapshotDir())).toHaveLength(1);
    slow.cancel();
    await until('the cancelled snapshot to be cleaned up', async () => readdirSync(snapshotDir()).length === 0 && (await metric('cancelled')) === 1);
    // The next one runs.
    const next = await readAll(control.snapshot({}));
    expect(next[0]!.info!.backend).toBe('sqlite');
    expect(await metric('ok')).toBe(2);
  });
});
