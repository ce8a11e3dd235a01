// State dir, credential and desired-state files: corruption is told apart from absence, the lock
// keeps a second agent out but takes over a stale pid file; facts parsing and the enforcement decision.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCredential, saveCredential } from './credential.js';
import { desiredProblem, loadDesired, saveDesired, type Desired } from './desired.js';
import { apparmorFeaturesSha256, decideEnforcement, parseLsmList, parseOsRelease } from './facts.js';
import type { DetectResult } from './loaders/lsm-operations.js';
import { quarantine, StateDir, StateDirError } from './state-dir.js';

const root = mkdtempSync(join(tmpdir(), 'kvmagent-state-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const s = new StateDir(join(root, `s${n++}`));
  s.ensure();
  return s;
};

describe('credential file', () => {
  it('round-trips with mode 0600 and tells missing, truncated and edited apart', () => {
    const s = fresh();
    const file = s.path('credential.json');
    expect(readCredential(file)).toEqual({ kind: 'missing' });
    saveCredential(file, 'web-1', 'kvmagt.abc.secret', 'tok123.0123456789abcdef');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const ok = readCredential(file);
    expect(ok.kind === 'ok' && ok.value.hostname).toBe('web-1');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, 30));
    expect(readCredential(file)).toMatchObject({ kind: 'corrupt', reason: expect.stringMatching(/^not valid JSON/) });
    writeFileSync(file, text.replace('kvmagt.abc.secret', 'kvmagt.abc.secreX'));
    expect(readCredential(file)).toEqual({ kind: 'corrupt', reason: 'credential: does not match its sha256 (truncated or edited)' });
    writeFileSync(file, '');
    expect(readCredential(file)).toEqual({ kind: 'corrupt', reason: 'the file is empty' });
  });
});

describe('desired state file', () => {
  const desired: Desired = { revision: 4, hostname: 'h', policies: [], artifacts: [], visibility: ['process'], learningBinaries: [], learningUntil: 0, problems: [] };
  it('round-trips and refuses what is not a desired state, naming the field', () => {
    const s = fresh();
    saveDesired(s.desiredFile, desired);
    expect(loadDesired(s.desiredFile)).toEqual({ kind: 'ok', value: desired });
    expect(desiredProblem({ ...desired, revision: -1 })).toBe('revision: must be a non-negative integer');
    expect(desiredProblem({ ...desired, artifacts: [{ name: 'a', lsm: 'apparmor', fileName: 'a', content: 'x', sha256: '00', policies: [], relabelPaths: [] }] })).toBe('artifacts[0] (a): content does not match its sha256');
    writeFileSync(s.desiredFile, '[1,2');
    expect(loadDesired(s.desiredFile).kind).toBe('corrupt');
    const aside = quarantine(s.desiredFile);
    expect(aside).toMatch(/desired\.json\.corrupt-/);
    expect(loadDesired(s.desiredFile)).toEqual({ kind: 'missing' });
  });
});

describe('state dir lock', () => {
  it('takes over a pid file whose process is gone or is not an agent (a live agent is kept out: e2e)', () => {
    const s = fresh();
    const unlock = s.lock(process.pid);
    // This test process stands in for a running agent: its command line is not kvmagent's…
    writeFileSync(s.path('agent.pid'), `${process.pid}\n`);
    expect(() => s.lock(process.pid + 1)).not.toThrow(); // …so its pid file is taken over.
    unlock();
    const gone = fresh();
    writeFileSync(gone.path('agent.pid'), '999999999\n');
    expect(() => gone.lock()).not.toThrow();
    expect(readFileSync(gone.path('agent.pid'), 'utf8').trim()).toBe(String(process.pid));
  });

  it('names the directory when it cannot be created', () => {
    writeFileSync(join(root, 'a-file'), '');
    expect(() => new StateDir(join(root, 'a-file', 'sub')).ensure()).toThrow(StateDirError);
    expect(() => new StateDir(join(root, 'a-file', 'sub')).ensure()).toThrow(/state dir .*a-file\/sub/);
  });
});

describe('facts', () => {
  it('parses os-release with quotes and escapes', () => {
    expect(parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian"\nVERSION_ID="12"\nID=debian\n# comment\n')).toEqual({ id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' });
    expect(parseOsRelease("ID='rocky'\nVERSION_ID=9.3\nPRETTY_NAME=\"Rocky \\\"Blue Onyx\\\"\"")).toEqual({ id: 'rocky', versionId: '9.3', prettyName: 'Rocky "Blue Onyx"' });
    expect(parseOsRelease('')).toEqual({ id: '', versionId: '', prettyName: '' });
  });

  it('reads the LSM list', () => {
    expect(parseLsmList('lockdown,capability,landlock,yama,apparmor\n')).toEqual(['lockdown', 'capability', 'landlock', 'yama', 'apparmor']);
    expect(parseLsmList('')).toEqual([]);
  });

  it('hashes the AppArmor features tree by path and content', () => {
    const a = join(root, 'features-a');
    mkdirSync(join(a, 'file'), { recursive: true });
    writeFileSync(join(a, 'file', 'mask'), 'create read write exec append mmap_exec link lock\n');
    writeFileSync(join(a, 'policy'), 'v8');
    const h = apparmorFeaturesSha256(a);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    writeFileSync(join(a, 'policy'), 'v9');
    expect(apparmorFeaturesSha256(a)).not.toBe(h);
    expect(apparmorFeaturesSha256(join(root, 'no-such-dir'))).toBe('');
  });

  const detected = (apparmor: boolean, selinux: 'enforcing' | 'disabled'): DetectResult => ({
    apparmor: { enabled: apparmor, securityfs: apparmor, usable: apparmor, apparmorfs: '/sys/kernel/security/apparmor', features: [], ...(apparmor ? {} : { reason: 'the kernel has no AppArmor module' }) },
    selinux: { enabled: selinux !== 'disabled', mode: selinux, ...(selinux === 'disabled' ? { reason: 'not mounted' } : { policyType: 'targeted' }) },
  });

  it('chooses the enforcer and says honestly when artifacts are only compiled', () => {
    expect(decideEnforcement('auto', false, detected(true, 'disabled'))).toEqual({ enforcer: 'apparmor', kernelMode: true });
    expect(decideEnforcement('auto', false, detected(false, 'enforcing'))).toEqual({ enforcer: 'selinux', kernelMode: true });
    expect(decideEnforcement('auto', false, detected(false, 'disabled'))).toMatchObject({ enforcer: 'none', kernelMode: false, compileOnlyReason: expect.stringContaining('no usable LSM') });
    expect(decideEnforcement('auto', true, detected(true, 'disabled'))).toMatchObject({ enforcer: 'apparmor', kernelMode: false, compileOnlyReason: expect.stringContaining('dry-run') });
    expect(decideEnforcement('apparmor', false, detected(false, 'disabled'))).toMatchObject({ enforcer: 'apparmor', kernelMode: false, compileOnlyReason: expect.stringContaining('AppArmor is not usable on this host (the kernel has no AppArmor module)') });
  });
});
