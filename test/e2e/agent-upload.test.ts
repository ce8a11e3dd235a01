/**
 * Lossless upload: a kvmagent process tails a growing audit log while kvmservice is killed
 * (SIGKILL) and restarted twice; every record written arrives at the control plane exactly once —
 * the same count, the same content, no duplicate — read back with StreamEvents.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromWireEvent } from '@kvmservice/auditlog';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, ControlPlane, dumpOnFailure, killAll, requireBuilt, tempDir, waitFor } from './agent-harness.js';

const TOTAL = 3000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An AppArmor denial as auditd writes it, unique by its path and audit serial, and its end-of-event record. */
function record(n: number): string {
  const stamp = `${1_716_000_000 + Math.floor(n / 1000)}.${String(n % 1000).padStart(3, '0')}:${100_000 + n}`;
  return (
    `type=AVC msg=audit(${stamp}): apparmor="DENIED" operation="open" class="file" profile="kvms-upload-test" name="/srv/data/file-${n}" pid=${1000 + (n % 50)} comm="reader" requested_mask="r" denied_mask="r" fsuid=0 ouid=0\n` +
    `type=EOE msg=audit(${stamp}): \n`
  );
}

describe('kvmagent upload', () => {
  let cp: ControlPlane;
  let agent: Agent;

  beforeAll(async () => {
    requireBuilt();
    cp = await ControlPlane.start();
  });

  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await cp?.stop().catch(() => undefined);
    cp?.close();
    killAll();
  });

  it('delivers every record exactly once across two SIGKILLs of kvmservice', { timeout: 150_000 }, async () => {
    dumpOnFailure(() => [{ name: 'kvmservice', output: cp.output }, { name: 'agent', output: agent?.output ?? [] }]);
    const log = join(tempDir('kvmagent-e2e-log-'), 'audit.log');
    writeFileSync(log, '');
    agent = new Agent({ name: 'tail-1', server: cp, token: await cp.token('tail-1'), logSource: log });
    await agent.waitLog('reconciled');

    // The writer: a steady stream of records, while the control plane dies twice.
    let written = 0;
    const writer = (async () => {
      while (written < TOTAL) {
        let chunk = '';
        for (let i = 0; i < 15 && written < TOTAL; i++) chunk += record(++written);
        appendFileSync(log, chunk);
        await sleep(40);
      }
    })();
    for (const round of [1, 2]) {
      await waitFor(`${round * 900} records written`, () => written >= round * 900, 60_000, 20);
      await cp.kill();
      await sleep(1500); // records keep coming while nobody listens
      await cp.restart();
    }
    await writer;

    // Until everything arrived, or 40 s; then the count says what is missing or doubled.
    let events = await cp.events('tail-1');
    const deadline = Date.now() + 40_000;
    while (events.length < TOTAL && Date.now() < deadline) {
      await sleep(500);
      events = await cp.events('tail-1');
    }
    // Exactly once: the count, every record's content, no sequence number twice.
    expect(events.length).toBe(TOTAL);
    const paths = events.map((e) => e.resource);
    expect(new Set(paths).size).toBe(TOTAL);
    expect([...paths].sort()).toEqual(Array.from({ length: TOTAL }, (_, i) => `/srv/data/file-${i + 1}`).sort());
    expect(new Set(events.map((e) => Number(e.seq))).size).toBe(TOTAL);
    for (const e of events) {
      const n = Number(e.resource.slice('/srv/data/file-'.length));
      const h = fromWireEvent(e);
      expect(h).toMatchObject({ operation: 'File', action: 'Block', enforcer: 'AppArmor', hostPID: 1000 + (n % 50), lsm: { profile: 'kvms-upload-test' } });
      expect(h.audit?.serial).toBe(100_000 + n);
      expect(e.hostName).toBe('tail-1');
    }
    // The agent had to reconnect, and lost nothing to its spool bound.
    expect(agent.logs('disconnected from the control plane').length).toBeGreaterThanOrEqual(2);
    const host = await waitFor('a heartbeat with the counters', async () => {
      const h = await cp.host('tail-1');
      return h.status?.agent?.eventsSpooled === 0 ? h : undefined;
    });
    expect(host.status.agent).toMatchObject({ eventsDropped: 0, eventsSpooled: 0, linesUnparsed: 0 });
    expect(await agent.stop()).toBe(0);
  });

  it('keeps the spool across a restart while kvmservice is down, drops the oldest when full, and reports how many', { timeout: 150_000 }, async () => {
    let small: Agent | undefined = undefined;
    dumpOnFailure(() => [{ name: 'kvmservice', output: cp.output }, { name: 'agent', output: small?.output ?? [] }]);
    const log = join(tempDir('kvmagent-e2e-log-'), 'audit.log');
    writeFileSync(log, '');
    small = new Agent({ name: 'spool-1', server: cp, token: await cp.token('spool-1'), logSource: log, extra: ['--spool-max-bytes', '64Ki'] });
    await small.waitLog('reconciled');
    await cp.stop();
    let chunk = '';
    for (let n = 1; n <= 30; n++) chunk += record(n);
    appendFileSync(log, chunk);
    await sleep(500);
    // SIGTERM with the control plane away: what was read is flushed into the spool and kept.
    expect(await small.stop()).toBe(0);
    small.restart({ token: undefined });
    await small.waitLog('collecting');
    for (let n = 31; n <= 430; n += 10) {
      let more = '';
      for (let i = n; i < n + 10; i++) more += record(i);
      appendFileSync(log, more);
      await sleep(20);
    }
    await waitFor('drops', () => small.logs('spool full: dropped the oldest events').length > 0);
    await cp.restart();
    const host = await waitFor('the spool to drain', async () => {
      const h = await cp.host('spool-1');
      return h.status?.connected && h.status.agent?.eventsSpooled === 0 && h.status.agent.eventsDropped > 0 ? h : undefined;
    }, 60_000, 250);
    const dropped: number = host.status.agent.eventsDropped;
    const stored = (await cp.events('spool-1')).map((e) => Number(e.resource.slice('/srv/data/file-'.length))).sort((a, b) => a - b);
    // Nothing lost silently: what is stored and what was counted as dropped make up everything written,
    // and what was dropped is the oldest.
    expect(stored.length + dropped).toBe(430);
    expect(stored).toEqual(Array.from({ length: 430 - dropped }, (_, i) => dropped + 1 + i));
    const status = JSON.parse(readFileSync(join(small.stateDir, 'status.json'), 'utf8'));
    expect(status.events.dropped).toBe(dropped);
    expect(await small.stop()).toBe(0);
  });
});

