import { describe, expect, it } from 'vitest';
import { validateResource } from '../validation/validate-resource.js';
import { isRfc3339, MAX_LEARNING_BINARIES, type KubeArmorVirtualMachine } from './kubearmor-virtual-machine.js';

const vm = (spec: unknown) => ({ apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorVirtualMachine', metadata: { name: 'web-1' }, spec });
const errorsOf = (o: unknown) => {
  const r = validateResource(o);
  return r.valid ? [] : r.errors.map((e) => `${e.field}: ${e.reason}`);
};

describe('KubeArmorVirtualMachine spec.learning', () => {
  it('accepts binaries and an RFC 3339 end, and keeps them typed', () => {
    const r = validateResource(vm({ learning: { binaries: ['/usr/sbin/nginx', '/usr/bin/curl'], until: '2030-01-02T03:04:05.123+02:00' } }));
    expect(r.valid).toBe(true);
    if (!r.valid) return;
    const learning = (r.resource as unknown as KubeArmorVirtualMachine).spec?.learning;
    expect(learning).toEqual({ binaries: ['/usr/sbin/nginx', '/usr/bin/curl'], until: '2030-01-02T03:04:05.123+02:00' });
    expect(errorsOf(vm({ learning: { binaries: [], until: '2030-01-02T03:04:05Z' } }))).toEqual([]);
  });

  it('names each bad binary by index, with the fromSource path rules', () => {
    expect(errorsOf(vm({ learning: { binaries: ['/usr/bin/ok', 'relative', '/dir/', '/x"y', `/${'a'.repeat(200)}`, '/usr/bin/ok'], until: '2030-01-01T00:00:00Z' } }))).toEqual([
      "spec.learning.binaries[1]: must be an absolute path without a trailing '/'",
      "spec.learning.binaries[2]: must be an absolute path without a trailing '/'",
      'spec.learning.binaries[3]: must not contain a double quote (")',
      'spec.learning.binaries[4]: must be at most 200 characters',
      'spec.learning.binaries[5]: /usr/bin/ok is listed twice',
    ]);
    expect(errorsOf(vm({ learning: { binaries: ['/tmp/\u0001'], until: '2030-01-01T00:00:00Z' } }))).toEqual(['spec.learning.binaries[0]: must not contain control characters (found U+0001)']);
  });

  it('requires both fields, refuses other shapes and unknown fields', () => {
    expect(errorsOf(vm({ learning: { binaries: ['/bin/x'] } }))).toEqual(['spec.learning.until: is required']);
    expect(errorsOf(vm({ learning: { until: '2030-01-01T00:00:00Z' } }))).toEqual(['spec.learning.binaries: is required']);
    expect(errorsOf(vm({ learning: { binaries: '/bin/x', until: '2030-01-01T00:00:00Z' } }))[0]).toMatch(/^spec\.learning\.binaries: must be a list/);
    expect(errorsOf(vm({ learning: { binaries: [1], until: '2030-01-01T00:00:00Z' } }))).toEqual(['spec.learning.binaries: must be a list of strings']);
    expect(errorsOf(vm({ learning: { binaries: [], until: '2030-01-01T00:00:00Z', mode: 'x' } }))).toEqual(['spec.learning.mode: unknown field']);
    const many = Array.from({ length: MAX_LEARNING_BINARIES + 1 }, (_, i) => `/bin/b${i}`);
    expect(errorsOf(vm({ learning: { binaries: many, until: '2030-01-01T00:00:00Z' } }))).toEqual([`spec.learning.binaries: must have at most ${MAX_LEARNING_BINARIES} items`]);
  });

  it('accepts only RFC 3339 date-times for until', () => {
    for (const bad of ['tomorrow', '2030-01-01', '2030-01-01 00:00:00Z', '2030-13-01T00:00:00Z', '2030-01-01T00:00:00', 1893456000, '']) {
      expect(errorsOf(vm({ learning: { binaries: [], until: bad } })), String(bad)).toEqual(['spec.learning.until: must be an RFC 3339 date-time, e.g. 2024-05-01T12:00:00Z']);
    }
    expect(isRfc3339('2030-01-01t00:00:00z')).toBe(true);
    expect(isRfc3339('2030-01-01T00:00:00.5-05:30')).toBe(true);
  });
});
