import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unary } from '@kvmservice/api';
import { startTestService, type TestService } from '../testing/service-harness.js';
import { joinHost } from '../testing/test-agent.js';
import { HousekeepingService } from './housekeeping.service.js';

describe('housekeeping', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('deletes expired tokens and trims each host to its newest events', async () => {
    const control = svc.control();
    const expired = await unary(control.createToken.bind(control), { hostname: '', labels: {}, ttlSeconds: 1, description: '' });
    const live = await unary(control.createToken.bind(control), { hostname: 'hk-1', labels: {}, ttlSeconds: 600, description: '' });
    const joined = await joinHost(svc.agent(), live.secret, 'hk-1');
    const push = svc.agent(joined.credential).pushEvents();
    const acks: number[] = [];
    push.on('data', (m: { ackedUpToSeq: number }) => acks.push(m.ackedUpToSeq));
    for (let batch = 0; batch < 3; batch++) {
      push.write({ firstSeq: batch * 10 + 1, events: Array.from({ length: 10 }, (_, i) => ({ operation: 'File', resource: `/tmp/${batch * 10 + i + 1}`, type: 'HostLog' })), dropped: 0 });
    }
    await expect.poll(() => acks[acks.length - 1], { timeout: 5000 }).toBe(30);
    const ended = new Promise<void>((resolve, reject) => {
      push.on('status', () => resolve());
      push.on('error', reject);
    });
    push.end();
    await ended;

    const result = await svc.app.get(HousekeepingService).sweep(Date.now() + 2000, 15);
    expect(result.tokensDeleted).toBe(1);
    expect(result.eventsTrimmed).toBe(10);
    const tokens = await unary(control.listTokens.bind(control), {});
    expect(tokens.tokens.map((t) => t.id)).toEqual([live.token!.id]);
    expect(tokens.tokens.map((t) => t.id)).not.toContain(expired.token!.id);

    const remaining: string[] = [];
    const stream = control.streamEvents({ host: 'hk-1', follow: false, type: '', operation: '', source: '', resource: '', policy: '', since: 0, limit: 0 });
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (m: { event: { resource: string } }) => remaining.push(m.event.resource));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    expect(remaining).toEqual(Array.from({ length: 20 }, (_, i) => `/tmp/${i + 11}`));
  });
});
