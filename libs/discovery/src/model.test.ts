import type { HostEvent } from '@kvmservice/auditlog';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHostModel, DEFAULT_LIMITS, observeEvents, observeFlows } from './model.js';
import { cloneModel, mergeModels, parseModel, serializeModel } from './model-json.js';
import { ACCESS_MAP, ACCESS_READ, ACCESS_WRITE } from './observation.js';
import type { HubbleFlow } from './hubble.js';

const T0 = 1_700_000_000_000;

function fileEvent(source: string, path: string, access: string[], extra: Partial<HostEvent> = {}): HostEvent {
  return {
    operation: 'File',
    action: 'Allow',
    result: 'Passed',
    enforcer: 'AppArmor',
    type: 'MatchedHostPolicy',
    timestampMs: T0,
    process: { exe: source },
    file: { path, access, fsuid: 0, ouid: 0 },
    ...extra,
  };
}

function execEvent(parent: string, path: string, extra: Partial<HostEvent> = {}): HostEvent {
  return { operation: 'Process', action: 'Allow', result: 'Passed', enforcer: 'Linux-audit', type: 'HostLog', timestampMs: T0, source: parent, processName: path, file: { path, access: ['exec'] }, ...extra };
}

describe('observeEvents', () => {
  it('keeps per binary what it touched, how, how often, and when', () => {
    const m = createHostModel('web1');
    observeEvents(
      m,
      [
        fileEvent('/usr/sbin/nginx', '/etc/nginx/nginx.conf', ['read']),
        fileEvent('/usr/sbin/nginx', '/etc/nginx/nginx.conf', ['read'], { timestampMs: T0 + 5000 }),
        fileEvent('/usr/sbin/nginx', '/var/log/nginx/access.log', ['write', 'append'], { file: { path: '/var/log/nginx/access.log', access: ['write'], fsuid: 33, ouid: 0 } }),
        fileEvent('/usr/sbin/nginx', '/usr/lib/libssl.so.3', ['mmap'], { action: 'Block' }),
        execEvent('/usr/sbin/nginx', '/usr/bin/id'),
      ],
      0,
    );
    const nginx = m.sources.get('/usr/sbin/nginx')!;
    expect(nginx.files.get('/etc/nginx/nginx.conf')).toEqual({ count: 2, first: T0 / 1000, last: T0 / 1000 + 5, blocked: 0, access: ACCESS_READ, notOwner: false });
    expect(nginx.files.get('/var/log/nginx/access.log')).toMatchObject({ access: ACCESS_WRITE, notOwner: true });
    expect(nginx.files.get('/usr/lib/libssl.so.3')).toMatchObject({ access: ACCESS_MAP, blocked: 1 });
    expect([...nginx.exec.keys()]).toEqual(['/usr/bin/id']);
    expect(m.stats).toMatchObject({ events: 5, observed: 5, blocked: 1, unattributed: 0 });
    expect(m.first).toBe(T0 / 1000);
    expect(m.last).toBe(T0 / 1000 + 5);
  });

  it('counts what it cannot use by reason and files events without a binary under ""', () => {
    const m = createHostModel('h');
    observeEvents(
      m,
      [
        fileEvent('/bin/x', 'relative/name', ['read']),
        fileEvent('/bin/x', '/etc/"quoted"', ['read']),
        { ...fileEvent('/bin/x', '/a', ['read']), process: { comm: 'x' } },
        { operation: 'Syscall', action: 'Block', result: 'Permission denied', enforcer: 'AppArmor', type: 'MatchedHostPolicy', lsm: { aaOperation: 'dbus_method_call' } },
        { operation: 'Network', action: 'Allow', result: 'Passed', enforcer: 'AppArmor', type: 'MatchedHostPolicy', network: { family: 'unix', sockType: 'stream' }, process: { exe: '/bin/x' } },
        { operation: 'Capabilities', action: 'Allow', result: 'Passed', enforcer: 'AppArmor', type: 'MatchedHostPolicy', capability: 'bpf', process: { exe: '/bin/x' } },
      ],
      T0,
    );
    expect(m.stats.skipped).toMatchObject({ relativePath: 1, unsafePath: 1, notMediated: 1, unixSocket: 1, unknownCapability: 1 });
    expect(m.stats.unattributed).toBe(1);
    expect(m.sources.get('')!.files.has('/a')).toBe(true);
  });

  it('keeps per-process /proc paths with the pid as *', () => {
    const m = createHostModel('h');
    observeEvents(m, ['/proc/1234/cmdline', '/proc/self/status', '/proc/99/task/100/stat', '/proc/meminfo', '/proc/1234'].map((p) => fileEvent('/bin/ps', p, ['read'])), T0);
    expect([...m.sources.get('/bin/ps')!.files.keys()].sort()).toEqual(['/proc/*', '/proc/*/cmdline', '/proc/*/status', '/proc/*/task/*/stat', '/proc/meminfo']);
  });

  it('attributes an exec to the program that called exec', () => {
    const m = createHostModel('h');
    observeEvents(m, [execEvent('/bin/bash', '/usr/bin/ls'), execEvent('/usr/bin/ls', '/usr/bin/ls')], T0);
    expect([...m.sources.get('/bin/bash')!.exec.keys()]).toEqual(['/usr/bin/ls']);
    // source == exec'd path says nothing about the caller
    expect(m.sources.get('')!.exec.has('/usr/bin/ls')).toBe(true);
  });

  it('records connections for the host firewall', () => {
    const m = createHostModel('h');
    const net = (direction: 'connect' | 'accept' | 'bind', extra: object): HostEvent => ({
      operation: 'Network',
      action: 'Allow',
      result: 'Passed',
      enforcer: 'Linux-audit',
      type: 'HostLog',
      process: { exe: '/usr/bin/curl' },
      network: { family: 'inet', sockType: 'stream', direction, ...extra },
    });
    observeEvents(m, [net('connect', { peerAddr: '::ffff:10.0.0.9', peerPort: 443 }), net('accept', { localPort: 22, peerAddr: '192.0.2.1' }), net('bind', { localPort: 0 })], T0);
    expect([...m.conns.keys()].sort()).toEqual(['egress|TCP|10.0.0.9|443', 'ingress|TCP|192.0.2.1|22']);
    expect([...m.sources.get('/usr/bin/curl')!.protocols.keys()]).toEqual(['tcp']);
  });
});

describe('limits', () => {
  it('stops at maxEntries and counts what did not fit', () => {
    const m = createHostModel('h', { maxEntries: 10 });
    observeEvents(m, Array.from({ length: 25 }, (_, i) => fileEvent('/bin/x', `/data/f${i}`, ['read'])), T0);
    expect(m.sources.get('/bin/x')!.files.size).toBe(10);
    expect(m.stats.overflow.files).toBe(15);
    // known entries still count
    observeEvents(m, [fileEvent('/bin/x', '/data/f0', ['read'])], T0);
    expect(m.sources.get('/bin/x')!.files.get('/data/f0')!.count).toBe(2);
    expect(m.stats.overflow.files).toBe(15);
  });

  it('stops at maxSources', () => {
    const m = createHostModel('h', { maxSources: 2 });
    observeEvents(m, [1, 2, 3, 4].map((i) => fileEvent(`/bin/p${i}`, '/etc/x', ['read'])), T0);
    expect(m.sources.size).toBe(2);
    expect(m.stats.overflow.sources).toBe(2);
  });

  it('keeps the serialised model within maxBytes whatever the paths', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('/bin/a', '/usr/lib/very/long/binary/name/for/testing'), fc.string({ minLength: 1, maxLength: 300, unit: 'binary' })), { minLength: 1, maxLength: 400 }),
        fc.integer({ min: 4096, max: 60_000 }),
        (items, maxBytes) => {
          const m = createHostModel('host-with-a-name', { maxBytes });
          observeEvents(m, items.map(([src, p]) => fileEvent(src, `/${p.replace(/\//g, '_')}`, ['read', 'write'])), T0);
          const bytes = new TextEncoder().encode(serializeModel(m)).length;
          expect(bytes).toBeLessThanOrEqual(maxBytes);
          expect(m.bytes).toBeGreaterThanOrEqual(bytes - 64);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('one host with the default limits stays well under 1 MiB serialised', () => {
    const m = createHostModel('h');
    const events = Array.from({ length: 100_000 }, (_, i) => fileEvent(`/usr/bin/prog${i % 50}`, `/var/lib/app/${'d'.repeat(40)}/${i}/data-file-name.bin`, ['read']));
    observeEvents(m, events, T0);
    const size = new TextEncoder().encode(serializeModel(m)).length;
    expect(m.stats.overflow.files).toBeGreaterThan(0);
    expect(size).toBeLessThanOrEqual(DEFAULT_LIMITS.maxBytes);
    expect(DEFAULT_LIMITS.maxBytes).toBeLessThanOrEqual(768 * 1024);
  });
});

describe('serialisation', () => {
  const sample = () => {
    const m = createHostModel('web1');
    observeEvents(m, [fileEvent('/usr/sbin/nginx', '/etc/nginx/nginx.conf', ['read']), execEvent('/bin/sh', '/usr/bin/id'), fileEvent('/bin/sh', '/tmp/x', ['write'], { action: 'Block' })], 0);
    const flow: HubbleFlow = {
      verdict: 'FORWARDED',
      source: { namespace: 'ns', labels: ['k8s:app=a'] },
      destination: { namespace: 'ns', labels: ['k8s:app=b'] },
      destinationNames: [],
      reply: false,
      l4: { protocol: 'TCP', sourcePort: 40000, destinationPort: 8080 },
      l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://b:8080/x?y=1' } },
    };
    observeFlows(m, [flow], T0);
    return m;
  };

  it('round-trips to identical text', () => {
    const m = sample();
    const text = serializeModel(m);
    const parsed = parseModel(text);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(serializeModel(parsed.model)).toBe(text);
      expect(parsed.model.entries).toBe(m.entries);
      expect(parsed.model.bytes).toBe(m.bytes);
    }
  });

  it('names the bad field and never throws', () => {
    const text = serializeModel(sample());
    const bad = text.replace('"seen":[', '"seen":["x",');
    expect(parseModel(bad)).toEqual({ ok: false, error: expect.stringMatching(/^model\.sources\["\/bin\/sh"\]\.seen: must be an array/) });
    expect(parseModel('{')).toMatchObject({ ok: false, error: expect.stringMatching(/^model: not JSON/) });
    expect(parseModel(text.replace('"version":1', '"version":2'))).toMatchObject({ ok: false, error: expect.stringContaining('model.version') });
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = parseModel(JSON.stringify(v));
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
    // mutations of a real model: a result or an error line, never an exception
    fc.assert(
      fc.property(fc.nat(text.length - 1), fc.string({ maxLength: 3 }), (at, insert) => {
        const r = parseModel(text.slice(0, at) + insert + text.slice(at + 1));
        if (!r.ok) expect(r.error).toMatch(/^model/);
      }),
      { numRuns: 300 },
    );
  });
});

describe('mergeModels', () => {
  it('merging the models of two halves of the events gives the model of all of them', () => {
    const events = fc.array(
      fc.tuple(fc.constantFrom('/bin/a', '/bin/b', '/bin/c'), fc.constantFrom('/etc/x', '/etc/y', '/var/z', '/usr/lib/l.so'), fc.constantFrom<string[]>(['read'], ['write'], ['mmap']), fc.integer({ min: 0, max: 100 }), fc.boolean(), fc.boolean()),
      { maxLength: 60 },
    );
    fc.assert(
      fc.property(events, fc.nat(60), (items, split) => {
        const evs = items.map(([s, p, a, dt, owner, blocked]) =>
          fileEvent(s, p, a, { timestampMs: T0 + dt * 1000, action: blocked ? 'Block' : 'Allow', file: { path: p, access: a, fsuid: 1, ouid: owner ? 1 : 2 } }),
        );
        const all = createHostModel('h');
        observeEvents(all, evs, T0);
        const left = createHostModel('h');
        const right = createHostModel('h');
        observeEvents(left, evs.slice(0, split), T0);
        observeEvents(right, evs.slice(split), T0);
        const merged = mergeModels(left, right);
        expect(merged.ok).toBe(true);
        if (merged.ok) expect(serializeModel(merged.model)).toBe(serializeModel(all));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses models of different hosts and respects the limits', () => {
    expect(mergeModels(createHostModel('a'), createHostModel('b'))).toMatchObject({ ok: false, error: expect.stringContaining('different hosts') });
    const a = createHostModel('h', { maxEntries: 3 });
    const b = createHostModel('h');
    observeEvents(b, Array.from({ length: 5 }, (_, i) => fileEvent('/bin/x', `/f${i}`, ['read'])), T0);
    const merged = mergeModels(a, b);
    expect(merged.ok && merged.model.sources.get('/bin/x')!.files.size).toBe(3);
    expect(merged.ok && merged.model.stats.overflow.files).toBe(2);
    // the inputs are unchanged
    expect(a.sources.size).toBe(0);
    expect(serializeModel(cloneModel(b))).toBe(serializeModel(b));
  });
});
