/**
 * R3: agents tail their audit logs while a known stream of records is appended to them; meanwhile
 * kvmservice is SIGKILLed and restarted twice, and one agent process is SIGKILLed and restarted
 * once. Afterwards, read back through StreamEvents: for every host, received == sent — the same
 * count and the same records, each exactly once (no sequence number and no record twice) — and
 * every spool is drained (the agents' status files and the heartbeats the control plane stored
 * say 0 spooled, 0 dropped, 0 unparsed).
 * Agents: three kvmagent processes and twelve instances of the built agent in one fleet process.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unary, type Event__Output, type StreamEventsResponse__Output } from '@kvmservice/api';
import { fromWireEvent } from '@kvmservice/auditlog';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { listHosts } from '../support/desired-oracle.js';
import { FleetHost } from '../support/fleet-agents.js';
import { AgentProcess, killAllProcesses, mapLimit, requireBuilt, ServiceProcess, sleep, tempDir, waitEach, waitFor } from '../support/fleet-processes.js';

const REAL_PROCESSES = 3;
const FLEET_AGENTS = 12;
const RECORDS_PER_HOST = 600;
/** Records appended to every log per round (a round every ~100 ms: ~20 s of writing). */
const CHUNK = 3;

const host = (i: number) => `tail-${String(i).padStart(2, '0')}`;

/** Record n of host h: an AppArmor denial as auditd writes it (unique path and serial), and its EOE. */
function record(h: number, n: number): string {
  const serial = 1_000_000 * (h + 1) + n;
  const stamp = `${1_716_000_000 + Math.floor(n / 100)}.${String(n % 1000).padStart(3, '0')}:${serial}`;
  return (
    `type=AVC msg=audit(${stamp}): apparmor="DENIED" operation="open" class="file" profile="kvms-r3" name="/srv/r3/h${h}/f-${n}" pid=${2000 + (n % 40)} comm="reader" requested_mask="r" denied_mask="r" fsuid=0 ouid=0\n` +
    `type=EOE msg=audit(${stamp}): \n`
  );
}

function streamEvents(cp: ServiceProcess, hostName: string): Promise<Event__Output[]> {
  return new Promise((resolve, reject) => {
    const out: Event__Output[] = [];
    const control = cp.control();
    const stream = control.streamEvents({ follow: false, host: hostName, type: '', operation: '', source: '', resource: '', policy: '', since: 0, limit: 0 });
    stream.on('data', (r: StreamEventsResponse__Output) => r.event && out.push(r.event));
    stream.on('error', reject);
    stream.on('end', () => resolve(out));
  });
}

describe('R3: events uploaded while kvmservice and an agent are killed', () => {
  let cp: ServiceProcess;
  const processes: AgentProcess[] = [];
  let fleet: FleetHost | undefined;

  beforeAll(async () => {
    requireBuilt();
    cp = await ServiceProcess.start();
  });

  afterAll(async () => {
    await fleet?.stop().catch(() => undefined);
    await Promise.all(processes.map((p) => p.kill()));
    await cp?.kill();
    cp?.close();
    killAllProcesses();
  });

  it('delivers every record exactly once and drains every spool', { timeout: 240_000 }, async () => {
    onTestFailed(() => {
      console.error(`--- kvmservice (last 20 lines)\n${cp.output.slice(-20).join('\n')}`);
      for (const p of processes) console.error(`--- ${p.options.name} (last 10 lines)\n${p.output.slice(-10).join('\n')}`);
      const first = fleet?.agents[0];
      if (first) console.error(`--- ${first.name} (last 10 lines)\n${fleet!.tail(first.name, 10)}`);
    });
    const total = REAL_PROCESSES + FLEET_AGENTS;
    const indexes = Array.from({ length: total }, (_, i) => i);
    const logDir = tempDir('kvm-faults-r3-logs-');
    const logOf = (i: number) => join(logDir, `${host(i)}.audit.log`);
    for (const i of indexes) writeFileSync(logOf(i), '');
    const tokens = await mapLimit(indexes, 8, async (i) => (await unary(cp.control().createToken.bind(cp.control()), { hostname: host(i), labels: {}, ttlSeconds: 3600, description: 'R3' })).secret);
    for (const i of indexes.slice(0, REAL_PROCESSES)) processes.push(new AgentProcess({ name: host(i), servers: [cp.address], caFile: cp.caFile, token: tokens[i]!, logSources: [logOf(i)] }));
    fleet = await FleetHost.start(indexes.slice(REAL_PROCESSES).map((i) => ({ name: host(i), servers: [cp.address], caFile: cp.caFile, token: tokens[i]!, logSources: [logOf(i)] })));
    await waitFor(`${total} hosts connected`, async () => {
      const hosts = await listHosts(cp.control());
      return hosts.length === total && hosts.every((h) => h.status?.connected && h.status.applied) ? true : undefined;
    }, 60_000, 300);

    // The writer: every host's log grows by CHUNK records a round.
    const written = new Array<number>(total).fill(0);
    let writing = true;
    const writer = (async () => {
      while (written.some((n) => n < RECORDS_PER_HOST)) {
        for (const i of indexes) {
          let chunk = '';
          for (let k = 0; k < CHUNK && written[i]! < RECORDS_PER_HOST; k++) chunk += record(i, ++written[i]!);
          if (chunk) appendFileSync(logOf(i), chunk);
        }
        await sleep(80 + Math.floor(Math.random() * 40));
      }
      writing = false;
    })();
    const progress = () => Math.min(...written) / RECORDS_PER_HOST;

    // Faults while writing: kvmservice SIGKILLed twice (down ~1 s each time, records keep coming),
    // and the first agent process SIGKILLed once and restarted.
    const outages: number[] = [];
    for (const at of [0.25, 0.6]) {
      await waitFor(`${at * 100}% written`, () => progress() >= at, 60_000, 20);
      const killed = Date.now();
      await cp.kill();
      await sleep(1000);
      await cp.restart();
      outages.push(Date.now() - killed);
      if (at === 0.25) {
        await processes[0]!.kill();
        await sleep(500);
        processes[0]!.restart();
      }
    }
    await writer;
    const writtenEnd = Date.now();
    expect(writing).toBe(false);

    // Every record arrives exactly once.
    const names = indexes.map(host);
    const received = new Map<string, Event__Output[]>();
    const arrived = await waitEach(
      names,
      async (name) => {
        const events = await streamEvents(cp, name);
        received.set(name, events);
        return events.length >= RECORDS_PER_HOST;
      },
      writtenEnd,
      90_000,
      500,
    );
    expect(arrived.missing.map((n) => `${n}: ${received.get(n)?.length ?? 0}/${RECORDS_PER_HOST}`), 'hosts missing events').toEqual([]);
    let duplicates = 0;
    for (const i of indexes) {
      const events = received.get(host(i))!;
      const seqs = new Set(events.map((e) => Number(e.seq)));
      const resources = events.map((e) => e.resource);
      const serials = new Set(events.map((e) => fromWireEvent(e).audit?.serial));
      duplicates += events.length - seqs.size + (events.length - new Set(resources).size);
      expect(events.length, `${host(i)}: received == sent`).toBe(RECORDS_PER_HOST);
      expect(seqs.size, `${host(i)}: no sequence number twice`).toBe(RECORDS_PER_HOST);
      expect(serials.size, `${host(i)}: no record twice`).toBe(RECORDS_PER_HOST);
      expect([...resources].sort(), `${host(i)}: the records written`).toEqual(Array.from({ length: RECORDS_PER_HOST }, (_, n) => `/srv/r3/h${i}/f-${n + 1}`).sort());
      for (const e of events) expect(e.hostName).toBe(host(i));
    }

    // Every spool drained: the agents' own status files, and the heartbeats the control plane stored.
    const stateDirs = [...processes.map((p) => ({ name: p.options.name, dir: p.stateDir })), ...fleet.agents.map((f) => ({ name: f.name, dir: f.stateDir }))];
    const drained = await waitEach(
      names,
      (name) => {
        const file = join(stateDirs.find((s) => s.name === name)!.dir, 'status.json');
        if (!existsSync(file)) return false;
        try {
          const status = JSON.parse(readFileSync(file, 'utf8')) as { events: { spooled: number; dropped: number; ackedUpTo: number; nextSeq: number } };
          return status.events.spooled === 0 && status.events.dropped === 0 && status.events.ackedUpTo === status.events.nextSeq - 1;
        } catch {
          return false; // being replaced
        }
      },
      writtenEnd,
      30_000,
      200,
    );
    expect(drained.missing, 'agents whose spool is not drained').toEqual([]);
    const heartbeats = await waitFor(
      'heartbeats with empty spools',
      async () => {
        const hosts = await listHosts(cp.control());
        return hosts.every((h) => h.status?.agent?.eventsSpooled === 0) ? hosts : undefined;
      },
      30_000,
      300,
    );
    for (const h of heartbeats) expect(h.status?.agent, h.metadata.name).toMatchObject({ eventsSpooled: 0, eventsDropped: 0, linesUnparsed: 0 });
    const reconnects = processes.reduce((n, p) => n + p.logs('disconnected from the control plane').length, 0);

    const sent = total * RECORDS_PER_HOST;
    const receivedTotal = [...received.values()].reduce((n, e) => n + e.length, 0);
    console.log(
      `R3 summary: hosts=${total} (agent processes=${REAL_PROCESSES}, fleet agents=${FLEET_AGENTS}); sent=${sent}, received=${receivedTotal}, duplicates after de-duplication=${duplicates}; ` +
        `kvmservice SIGKILLed 2× (outage ${outages.join('/')} ms), agent ${processes[0]!.options.name} SIGKILLed 1×, agent-process reconnects=${reconnects}; ` +
        `all events stored ${Math.max(...arrived.times.values())} ms and all spools drained ${Math.max(...drained.times.values())} ms after the last record was written`,
    );
  });
});
