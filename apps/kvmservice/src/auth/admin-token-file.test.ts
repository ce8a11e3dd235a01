import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unary } from '@kvmservice/api';
import { startTestService } from '../testing/service-harness.js';

describe('--admin-token-file', () => {
  it('accepts the operator’s token, writes no kvmctl.yaml, and refuses a malformed one at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'admin-token-'));
    const token = `kvmadm.opsteam01.${'s3cr3t'.repeat(8)}`;
    writeFileSync(join(dir, 'token'), `${token}\n`, { mode: 0o600 });
    const svc = await startTestService({ dataDir: join(dir, 'data'), adminTokenFile: join(dir, 'token') });
    try {
      expect(existsSync(join(dir, 'data', 'kvmctl.yaml'))).toBe(false);
      const control = svc.control(token);
      const list = await unary(control.list.bind(control), { kind: 'kvm', labelSelector: '', limit: 0, continueToken: '' });
      expect(list.items).toEqual([]);
      const dump = (await svc.store.list('/')).items.map((kv) => kv.value.toString('utf8')).join('\n');
      expect(dump).not.toContain('s3cr3t');
    } finally {
      await svc.close();
    }
    // Rotation: old and new accepted, then only the new one; the first-start token is gone too.
    const next = `kvmadm.opsteam02.${'n3wt0k3n'.repeat(6)}`;
    writeFileSync(join(dir, 'token'), `# rotating\n${token}\n${next}\n`);
    const both = await startTestService({ dataDir: join(dir, 'data'), adminTokenFile: join(dir, 'token') });
    try {
      for (const t of [token, next]) await unary(both.control(t).list.bind(both.control(t)), { kind: 'kvm', labelSelector: '', limit: 0, continueToken: '' });
    } finally {
      await both.close();
    }
    writeFileSync(join(dir, 'token'), `${next}\n`);
    const rotated = await startTestService({ dataDir: join(dir, 'data'), adminTokenFile: join(dir, 'token') });
    try {
      await unary(rotated.control(next).list.bind(rotated.control(next)), { kind: 'kvm', labelSelector: '', limit: 0, continueToken: '' });
      await expect(unary(rotated.control(token).list.bind(rotated.control(token)), { kind: 'kvm', labelSelector: '', limit: 0, continueToken: '' })).rejects.toThrow(/UNAUTHENTICATED/);
    } finally {
      await rotated.close();
    }
    writeFileSync(join(dir, 'bad'), 'not-a-token');
    await expect(startTestService({ dataDir: join(dir, 'data2'), adminTokenFile: join(dir, 'bad') })).rejects.toThrow(/--admin-token-file .*bad: token 1: an admin token is kvmadm/);
  });
});
