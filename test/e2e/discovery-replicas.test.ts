/**
 * Discovery across replicas: two kvmservice replicas on one etcd, each serving one host's agent.
 * One replica leads discovery and models both hosts (the events of both replicas' agents are in
 * the store); Discover answers the same on either replica; when the leader stops, the other takes
 * over and continues from the stored models — each event in a model exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unary, type AgentServiceClient, type ControlServiceClient } from '@kvmservice/api';
import { parseLine, toWireEvent } from '@kvmservice/auditlog';
import { createHostModel, observeEvents, parseModel, serializeModel } from '@kvmservice/discovery';
import { DiscoveryLeaderService } from '../../apps/kvmservice/src/discovery/discovery-leader.service.js';
import { startTestService, type TestService } from '../../apps/kvmservice/src/testing/service-harness.js';
import { joinHost } from '../../apps/kvmservice/src/testing/test-agent.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

/** curl (its own path-named profile) reading file n. */
function line(n: number): string {
  return `type=AVC msg=audit(${1716000000 + n}.000:${n}): apparmor="ALLOWED" operation="open" profile="/usr/bin/curl" name="/srv/files/f${n % 13}" pid=${100 + n} comm="curl" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`;
}
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function push(agent: AgentServiceClient, from: number, to: number): Promise<void> {
  const stream = agent.pushEvents();
  const acked = new Promise<void>((resolve, reject) => {
    stream.on('data', (m: { ackedUpToSeq: number }) => m.ackedUpToSeq >= to && resolve());
    stream.on('error', reject);
  });
  stream.write({ firstSeq: from, events: range(from, to).map((n) => toWireEvent(parseLine(line(n)).event!, n)), dropped: 0 });
  await acked;
  stream.end();
}

describe('discovery across two replicas on one etcd', () => {
  let etcd: EtcdCluster;
  let a: TestService;
  let b: TestService;
  const credentials: Record<string, string> = {};
  /** The replica whose store handle reads the models (the one still running). */
  let reader: () => TestService = () => b;

  beforeAll(async () => {
    etcd = await startEtcd({ members: 1 });
    a = await startTestService({ store: etcd.storeUrl });
    b = await startTestService({ store: etcd.storeUrl, tlsDir: a.config.tlsDir });
    for (const [host, svc] of [['h1', a], ['h2', b]] as const) {
      const control = svc.control(a.adminToken);
      const token = await unary(control.createToken.bind(control), { hostname: host, labels: {}, ttlSeconds: 600, description: '' });
      credentials[host] = (await joinHost(svc.agent(), token.secret, host)).credential;
    }
  }, 60_000);
  afterAll(async () => {
    // One of them is closed already (the leader that stopped).
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    await etcd?.stop();
  }, 60_000);

  const stored = async (host: string) => {
    const text = (await reader().store.get(`/kvmservice/discovery/models/${host}`))?.value.toString('utf8');
    if (!text) return undefined;
    const newline = text.indexOf('\n');
    const parsed = parseModel(text.slice(newline + 1));
    return { position: JSON.parse(text.slice(0, newline)) as { lastSeq: number; events: number }, model: parsed.ok ? parsed.model : undefined };
  };
  const reference = (host: string, seqs: number[]) => {
    const model = createHostModel(host);
    observeEvents(model, seqs.map((n) => parseLine(line(n)).event!), Date.now());
    return serializeModel(model);
  };

  it('one leader models every replica\'s hosts; Discover answers alike on both; the other takes over', { timeout: 90_000 }, async () => {
    await push(a.agent(credentials.h1), 1, 20);
    await push(b.agent(credentials.h2), 1, 30);
    const leaders = () => [a, b].filter((s) => s.app.get(DiscoveryLeaderService).leading);
    await expect.poll(() => leaders().length, { timeout: 20_000 }).toBe(1);
    const first = leaders()[0]!;
    const other = first === a ? b : a;
    await expect.poll(async () => [(await stored('h1'))?.position.lastSeq, (await stored('h2'))?.position.lastSeq], { timeout: 20_000 }).toEqual([20, 30]);

    const discover = (control: ControlServiceClient, host: string) => unary(control.discover.bind(control), { host, kinds: ['KubeArmorHostPolicy'], single: false, binaries: [], directoryThreshold: 0, save: false });
    for (const host of ['h1', 'h2']) {
      const onA = await discover(a.control(a.adminToken), host);
      const onB = await discover(b.control(a.adminToken), host);
      expect(onA.objects).toHaveLength(1);
      expect(onB.objects).toEqual(onA.objects);
      expect(onA.objects[0]).toContain('/usr/bin/curl');
    }

    // The leader stops (writing what it has, resigning); events keep coming to the other replica.
    reader = () => other;
    await first.close();
    const survivorAgent = other.agent.bind(other);
    await push(survivorAgent(credentials.h1), 21, 35);
    await push(survivorAgent(credentials.h2), 31, 40);
    await expect.poll(() => other.app.get(DiscoveryLeaderService).leading, { timeout: 30_000 }).toBe(true);
    await expect.poll(async () => [(await stored('h1'))?.position.lastSeq, (await stored('h2'))?.position.lastSeq], { timeout: 20_000 }).toEqual([35, 40]);
    for (const [host, total] of [['h1', 35], ['h2', 40]] as const) {
      const s = (await stored(host))!;
      expect(s.position.events).toBe(total);
      // Times of first/last sight come from the records, so the models compare exactly.
      expect(serializeModel(s.model!)).toBe(reference(host, range(1, total)));
    }
  });
});
