import { describe, expect, it } from 'vitest';
import { globMatches, hostLabels, hostSelectorMatches, labelSelectorMatches, parseLabelSelector } from './selector.js';

describe('hostSelectorMatches (KubeArmorHostPolicy nodeSelector)', () => {
  const web1 = hostLabels('web-1', { env: 'prod', role: 'web' });
  const db1 = hostLabels('db-1', { env: 'prod' });

  it('requires every label: a policy with two labels does not select a host with only one of them', () => {
    const selector = { env: 'prod', role: 'web' };
    expect(hostSelectorMatches(selector, web1)).toBe(true);
    expect(hostSelectorMatches(selector, db1)).toBe(false);
  });

  it('matches exact values only', () => {
    expect(hostSelectorMatches({ env: 'staging' }, web1)).toBe(false);
    expect(hostSelectorMatches({ env: 'prod' }, web1)).toBe(true);
  });

  it('knows every host by its name', () => {
    expect(hostSelectorMatches({ 'kubearmor.io/hostname': 'web-1' }, web1)).toBe(true);
    expect(hostSelectorMatches({ 'kubernetes.io/hostname': 'web-1' }, web1)).toBe(true);
    expect(hostSelectorMatches({ 'kubearmor.io/hostname': 'db-1' }, web1)).toBe(false);
  });

  it('supports upstream forms: "*", comma lists, hostnamereg globs', () => {
    expect(hostSelectorMatches({ 'kubearmor.io/hostname': '*' }, web1)).toBe(true);
    expect(hostSelectorMatches({ role: '*' }, db1)).toBe(false);
    expect(hostSelectorMatches({ 'kubearmor.io/hostname': 'db-1,web-1' }, web1)).toBe(true);
    expect(hostSelectorMatches({ 'kubearmor.io/hostname': 'db-1, web-1' }, web1)).toBe(true);
    expect(hostSelectorMatches({ 'kubearmor.io/hostname': 'db-1,db-2' }, web1)).toBe(false);
    expect(hostSelectorMatches({ 'kubearmor.io/hostnamereg': 'web-*' }, web1)).toBe(true);
    expect(hostSelectorMatches({ 'kubearmor.io/hostnamereg': 'web-*' }, db1)).toBe(false);
    // Anchored, and `.` is literal.
    expect(hostSelectorMatches({ 'kubearmor.io/hostnamereg': 'eb-*' }, web1)).toBe(false);
    expect(hostSelectorMatches({ 'kubearmor.io/hostnamereg': 'web.1' }, web1)).toBe(false);
    // Forms combine with the intersection rule.
    expect(hostSelectorMatches({ 'kubearmor.io/hostname': '*', role: 'db' }, web1)).toBe(false);
  });

  it('selects nothing with an empty selector (upstream MatchIdentities)', () => {
    expect(hostSelectorMatches({}, web1)).toBe(false);
  });
});

describe('labelSelectorMatches (Kubernetes semantics, Cilium nodeSelector)', () => {
  const labels = { env: 'prod', tier: 'web' };
  it('selects everything when empty', () => expect(labelSelectorMatches({}, labels)).toBe(true));
  it('ands matchLabels and expressions', () => {
    expect(labelSelectorMatches({ matchLabels: { env: 'prod' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] }, labels)).toBe(true);
    expect(labelSelectorMatches({ matchLabels: { env: 'prod' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, labels)).toBe(false);
    expect(labelSelectorMatches({ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, labels)).toBe(true);
    expect(labelSelectorMatches({ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, labels)).toBe(false);
  });
});

describe('parseLabelSelector (kubectl -l)', () => {
  it('parses every form', () => {
    expect(parseLabelSelector('a=b,c!=d,e,!f,g in (x, y),h notin (z)')).toEqual({
      matchLabels: { a: 'b' },
      matchExpressions: [
        { key: 'c', operator: 'NotIn', values: ['d'] },
        { key: 'e', operator: 'Exists' },
        { key: 'f', operator: 'DoesNotExist' },
        { key: 'g', operator: 'In', values: ['x', 'y'] },
        { key: 'h', operator: 'NotIn', values: ['z'] },
      ],
    });
    expect(parseLabelSelector('a==b')).toEqual({ matchLabels: { a: 'b' }, matchExpressions: [] });
  });
  it('reports a bad term', () => expect(parseLabelSelector('a=b=c')).toEqual({ error: 'invalid label selector term "a=b=c"' }));
});

describe('globMatches', () => {
  it('matches like an anchored glob', () => {
    expect(globMatches('web-*', 'web-1')).toBe(true);
    expect(globMatches('*-1', 'web-1')).toBe(true);
    expect(globMatches('w*b*1', 'web-1')).toBe(true);
    expect(globMatches('w*x*1', 'web-1')).toBe(false);
    expect(globMatches('web', 'web-1')).toBe(false);
    expect(globMatches('*', '')).toBe(true);
    expect(globMatches('a.b', 'axb')).toBe(false);
  });

  it('stays fast on patterns that make regular expressions backtrack', () => {
    const started = process.hrtime.bigint();
    expect(globMatches('*a'.repeat(30) + 'b', 'a'.repeat(253))).toBe(false);
    // Not a timing assertion on the machine's speed: a backtracking matcher takes years here.
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(5);
  });
});
