/** The HTTP port: health, readiness, and metrics that promtool accepts. */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unary } from '@kvmservice/api';
import { startTestService, type TestService } from '../../apps/kvmservice/src/testing/service-harness.js';
import { TestAgentSession, joinHost } from '../../apps/kvmservice/src/testing/test-agent.js';
import { requireTool } from '../support/tools.js';

function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const p = spawn(requireTool('promtool', 'prometheus'), ['check', 'metrics']);
    let output = '';
    p.stdout.on('data', (d) => (output += d));
    p.stderr.on('data', (d) => (output += d));
    p.on('close', (code) => resolve({ code: code ?? 1, output }));
    p.stdin.end(text);
  });
}

describe('HTTP endpoints', () => {
  let svc: TestService;
  const url = (path: string) => `http://127.0.0.1:${svc.config.httpPort}${path}`;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('answers /healthz and /readyz', async () => {
    expect((await fetch(url('/healthz'))).status).toBe(200);
    const ready = await fetch(url('/readyz'));
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('ok\n');
  });

  it('exposes metrics that promtool check metrics accepts, reflecting activity', async () => {
    const control = svc.control();
    const t = await unary(control.createToken.bind(control), { hostname: 'm-1', labels: {}, ttlSeconds: 600, description: '' });
    const joined = await joinHost(svc.agent(), t.secret, 'm-1');
    const session = new TestAgentSession(svc.agent(joined.credential));
    await session.waitFor((s) => s.latest !== undefined, 10_000, 'a desired state');
    const text = await (await fetch(url('/metrics'))).text();
    expect(text).toMatch(/^kvmservice_agents_connected 1$/m);
    expect(text).toMatch(/^kvmservice_agent_joins_total\{result="ok"\} 1$/m);
    expect(text).toMatch(/^kvmservice_desired_state_pushes_total [1-9]/m);
    expect(text).toMatch(/^kvmservice_grpc_request_duration_seconds_count\{method="CreateToken"\} 1$/m);
    const check = await promtoolCheck(text);
    expect(check.output).toBe('');
    expect(check.code).toBe(0);
    session.close();
  });

  it('reports not ready when the store is gone', async () => {
    await svc.store.close();
    const ready = await fetch(url('/readyz'));
    expect(ready.status).toBe(503);
  });
});
