import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unary } from '@kvmservice/api';
import { startTestService, type TestService } from '../testing/service-harness.js';

describe('ControlService smoke', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('applies and lists a policy over TLS with the admin token', async () => {
    const control = svc.control();
    const policy = { apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorHostPolicy', metadata: { name: 'p1' }, spec: { nodeSelector: { matchLabels: { env: 'prod' } }, file: { matchPaths: [{ path: '/etc/shadow' }] } } };
    const applied = await unary(control.apply.bind(control), { objects: [JSON.stringify(policy)] });
    expect(applied.results[0]).toMatchObject({ name: 'p1', outcome: 'APPLY_OUTCOME_CREATED' });
    const again = await unary(control.apply.bind(control), { objects: [JSON.stringify(policy)] });
    expect(again.results[0]!.outcome).toBe('APPLY_OUTCOME_UNCHANGED');
    const list = await unary(control.list.bind(control), { kind: 'hsp' });
    expect(list.items.map((i) => JSON.parse(i).metadata.name)).toEqual(['p1']);
  });
});
