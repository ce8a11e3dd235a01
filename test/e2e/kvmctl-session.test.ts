/**
 * kvmctl against a real kvmservice (TLS gRPC on loopback, SQLite store), the way an operator uses
 * it: the config kvmservice wrote on first start, `vm add`, `token create`, an agent joining with
 * the token, `apply` of a directory of upstream example policies, the `get -o yaml | apply -f -`
 * round trip, `label` moving the host in and out of a policy, `describe`, `logs`, `get --watch`,
 * `delete`, and invalid input changing nothing.
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvmctl, type KvmctlRun } from '../../apps/kvmctl/src/testing/run.js';
import { kvmctlConfigPath } from '../../apps/kvmservice/src/auth/admin-bootstrap.service.js';
import { startTestService, type TestService } from '../../apps/kvmservice/src/testing/service-harness.js';
import { joinHost, TestAgentSession } from '../../apps/kvmservice/src/testing/test-agent.js';
import { conformanceDir, readConformanceFile } from '../support/conformance.js';

const HOST = 'kubearmor-dev'; // the host name the upstream examples select (kubernetes.io/hostname)
const HSP = 'kubearmorhostpolicy.security.kubearmor.com';
const KVM = 'kubearmorvirtualmachine.security.kubearmor.com';

/** The upstream example host policies (unique names), copied into a temporary directory. */
function upstreamExamples(): { dir: string; names: string[] } {
  const source = conformanceDir('kubearmor');
  const dir = mkdtempSync(join(tmpdir(), 'kvmctl-examples-'));
  const names: string[] = [];
  for (const file of readdirSync(source).filter((f) => f.startsWith('example-hsp__hsp-k8s-')).sort()) {
    const text = readConformanceFile(source, file);
    writeFileSync(join(dir, file.replace(/^example-hsp__/, '')), text);
    names.push(/^\s+name:\s*(\S+)/m.exec(text)![1]!);
  }
  return { dir, names: names.sort() };
}

const prodOnly = `apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: prod-only
spec:
  nodeSelector:
    matchLabels:
      env: prod
  file:
    matchPaths:
    - path: /etc/gshadow
  action: Block
`;

function lines(run: KvmctlRun): string[] {
  return run.stdout.split('\n').filter((l) => l !== '');
}

describe('kvmctl scripted session against a real kvmservice', () => {
  let svc: TestService;
  let env: Record<string, string>;
  let agent: TestAgentSession | undefined;
  let credential: string;
  let examples: { dir: string; names: string[] };
  const k = (argv: string[], stdin = '') => kvmctl(argv, stdin, env);

  beforeAll(async () => {
    svc = await startTestService();
    // The config kvmservice wrote on its first start, used as is (no flags).
    env = { KVMCTL_CONFIG: kvmctlConfigPath(svc.config) };
    examples = upstreamExamples();
  });

  afterAll(async () => {
    agent?.close();
    await svc?.close();
  });

  it('vm add creates the host and a join token; a second add fails', async () => {
    const added = await k(['vm', 'add', HOST, '--labels', 'tier=web', '--ttl', '1h', '-o', 'json']);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const value = JSON.parse(added.stdout);
    expect(value.host).toMatchObject({ kind: 'KubeArmorVirtualMachine', metadata: { name: HOST, labels: { tier: 'web' } } });
    expect(value.token).toMatchObject({ hostname: HOST, labels: { tier: 'web' }, usedBy: '' });
    expect(value.token.token).toMatch(/^[^.\s]+\.[^.\s]+$/);
    credential = value.token.token;

    const again = await k(['vm', 'add', HOST]);
    expect(again).toMatchObject({ code: 1, stdout: '' });
    expect(again.stderr).toBe(`error: ${KVM} "${HOST}" already exists (kvmctl token create --hostname ${HOST} makes a new join token)\n`);

    const plain = await k(['vm', 'add', 'web-2']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(new RegExp(`^${KVM}/web-2 created\ntoken: \\S+\\.\\S+\n`));
  });

  it('token create prints only the secret; token list and get tokens show it without secrets', async () => {
    const created = await k(['token', 'create', '--hostname', 'web-3', '--labels', 'env=dev', '--ttl', '2h', '--description', 'for web-3']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^[^.\s]+\.[^.\s]+\n$/);
    const [id, secret] = created.stdout.trim().split('.');

    const list = await k(['token', 'list']);
    expect(list.code).toBe(0);
    expect(lines(list)[0]).toMatch(/^ID\s+HOSTNAME\s+TTL\s+USED-BY\s+DESCRIPTION\s+AGE$/);
    const row = lines(list).find((l) => l.startsWith(id!));
    expect(row).toMatch(new RegExp(`^${id}\\s+web-3\\s+(119m|120m)\\s+<none>\\s+for web-3\\s+\\d+s$`));
    expect(list.stdout).not.toContain(secret);

    const json = JSON.parse((await k(['get', 'tokens', '-o', 'json'])).stdout);
    expect(json.kind).toBe('List');
    expect(json.items.map((t: { id: string }) => t.id)).toContain(id);
    expect(JSON.stringify(json)).not.toContain(secret);

    const one = JSON.parse((await k(['get', 'token', id!, '-o', 'json'])).stdout);
    expect(one).toMatchObject({ id, hostname: 'web-3', labels: { env: 'dev' }, description: 'for web-3', usedBy: '' });
    expect(await k(['token', 'revoke', id!])).toEqual({ code: 0, stdout: `token "${id}" revoked\n`, stderr: '' });
    expect((await k(['token', 'list', '-o', 'name'])).stdout).not.toContain(id);
    expect((await k(['token', 'revoke', id!])).code).toBe(1);

    const bad = await k(['token', 'create', '--ttl', 'soon']);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr).toBe('error: --ttl: "soon" is not a duration (examples: 90s, 10m, 24h, 7d, 1h30m)\n');
  });

  it('an agent joins with the token from vm add', async () => {
    const joined = await joinHost(svc.agent(), credential, HOST);
    expect(joined.hostname).toBe(HOST);
    agent = new TestAgentSession(svc.agent(joined.credential));
    credential = joined.credential;
    await agent.waitFor((s) => s.latest !== undefined, 10_000, 'the first desired state');

    const hosts = await k(['get', 'kvm']);
    expect(hosts.code).toBe(0);
    expect(lines(hosts)[0]).toMatch(/^NAME\s+STATUS\s+POLICY\s+ENFORCER\s+POLICIES\s+AGE$/);
    expect(lines(hosts).find((l) => l.startsWith(HOST))).toMatch(new RegExp(`^${HOST}\\s+Connected\\s+\\S+\\s+apparmor\\(dry-run\\)\\s+0\\s+\\d+s$`));
    expect(lines(hosts).find((l) => l.startsWith('web-2'))).toMatch(/^web-2\s+NotJoined\s+Unknown\s+<none>\s+0\s+\d+s$/);
  });

  it('apply -f DIR creates the upstream examples; a second apply reports every one unchanged', async () => {
    expect(examples.names.length).toBeGreaterThanOrEqual(9);
    const first = await k(['apply', '-f', examples.dir]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(lines(first).sort()).toEqual(examples.names.map((n) => `${HSP}/${n} created`));

    const second = await k(['apply', '-f', examples.dir]);
    expect(second.code).toBe(0);
    expect(lines(second).sort()).toEqual(examples.names.map((n) => `${HSP}/${n} unchanged`));

    await agent!.waitFor((s) => s.policyNames().length === examples.names.length, 10_000, 'the examples to reach the host');
    expect(agent!.policyNames()).toEqual(examples.names);
  });

  it('get hsp -o yaml | apply -f - changes nothing', async () => {
    const yaml = await k(['get', 'hsp', '-o', 'yaml']);
    expect(yaml.code).toBe(0);
    expect(yaml.stdout).toMatch(/^apiVersion: v1\nitems:\n/);
    const before = JSON.parse((await k(['get', 'hsp', '-o', 'json'])).stdout);
    const round = await k(['apply', '-f', '-'], yaml.stdout);
    expect(round.stderr).toBe('');
    expect(round.code).toBe(0);
    expect(lines(round).sort()).toEqual(examples.names.map((n) => `${HSP}/${n} unchanged`));
    const after = JSON.parse((await k(['get', 'hsp', '-o', 'json'])).stdout);
    expect(after).toEqual(before);
  });

  it('get follows kubectl output conventions: table headers, -o name, -o json List, one object by name', async () => {
    const table = await k(['get', 'hsp']);
    expect(lines(table)[0]).toMatch(/^NAME\s+SELECTOR\s+ACTION\s+AGE$/);
    expect(lines(table)).toContainEqual(expect.stringMatching(/^hsp-kubearmor-dev-file-path-block\s+kubernetes\.io\/hostname=kubearmor-dev\s+Block\s+\d+s$/));
    // kubectl's tabwriter: columns padded to the widest cell plus three spaces.
    const header = lines(table)[0]!;
    const widest = Math.max(...lines(table).map((l) => l.split(/\s{3,}/)[0]!.length));
    expect(header.indexOf('SELECTOR')).toBe(widest + 3);

    const wide = await k(['get', 'hsp', '-o', 'wide']);
    expect(lines(wide)[0]).toMatch(/^NAME\s+SELECTOR\s+ACTION\s+AGE\s+SEVERITY\s+RULES$/);
    const labels = await k(['get', 'kvm', '--show-labels']);
    expect(lines(labels)[0]).toMatch(/AGE\s+LABELS$/);
    expect(lines(labels).find((l) => l.startsWith(HOST))).toMatch(/tier=web$/);

    const names = await k(['get', 'hsp', '-o', 'name']);
    expect(lines(names)).toEqual(examples.names.map((n) => `${HSP}/${n}`));
    expect((await k(['get', 'kvm', HOST, '-o', 'name'])).stdout).toBe(`${KVM}/${HOST}\n`);

    const list = JSON.parse((await k(['get', 'hsp', '-o', 'json'])).stdout);
    expect(list).toMatchObject({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' } });
    expect(list.items).toHaveLength(examples.names.length);
    const one = JSON.parse((await k(['get', 'hsp', examples.names[0]!, '-o', 'json'])).stdout);
    expect(one).toMatchObject({ kind: 'KubeArmorHostPolicy', metadata: { name: examples.names[0] } });
    expect(Number(one.metadata.resourceVersion)).toBeGreaterThan(0);

    const kinds = await k(['get', 'kvm,hsp']);
    // Several types: one table each, names qualified by kind, as kubectl does.
    expect(kinds.stdout).toMatch(new RegExp(`^NAME\\s+STATUS.*\\n${KVM}/${HOST}\\s`));
    expect(kinds.stdout).toMatch(new RegExp(`\\n\\nNAME\\s+SELECTOR\\s+ACTION\\s+AGE\\n${HSP}/`));
    const mixed = await k(['get', `hsp/${examples.names[0]}`, `kvm/${HOST}`, '-o', 'name']);
    expect(lines(mixed)).toEqual([`${HSP}/${examples.names[0]}`, `${KVM}/${HOST}`]);

    const selected = await k(['get', 'kvm', '-l', 'tier=web', '-o', 'name']);
    expect(lines(selected)).toEqual([`${KVM}/${HOST}`]);
    const none = await k(['get', 'kvm', '-l', 'tier=db']);
    expect(none).toEqual({ code: 0, stdout: '', stderr: 'No resources found.\n' });

    const missing = await k(['get', 'hsp', examples.names[0]!, 'nothere']);
    expect(missing.code).toBe(1);
    expect(lines(missing)).toHaveLength(2);
    expect(missing.stderr).toBe('error: kubearmorhostpolicy "nothere" not found\n');

    expect((await k(['get', 'hsp', '-o', 'xml'])).code).toBe(2);
    expect((await k(['get', 'bogus'])).stderr).toMatch(/^error: the server doesn't have a resource type "bogus"/);
    expect((await k(['get'])).code).toBe(2);
    expect((await k(['get', 'kvm', '-l', '=x'])).code).toBe(2);
  });

  it('label moves the host into and out of a policy', async () => {
    expect((await k(['apply', '-f', '-'], prodOnly)).stdout).toBe(`${HSP}/prod-only created\n`);
    expect(agent!.policyNames()).not.toContain('prod-only');

    const labeled = await k(['label', 'kvm', HOST, 'env=prod']);
    expect(labeled).toEqual({ code: 0, stdout: `${KVM}/${HOST} labeled\n`, stderr: '' });
    await agent!.waitFor((s) => s.policyNames().includes('prod-only'), 10_000, 'prod-only to select the host');
    expect((await k(['describe', 'hsp', 'prod-only'])).stdout).toMatch(new RegExp(`^Selected hosts:\\s+${HOST}$`, 'm'));

    const refused = await k(['label', 'kvm', HOST, 'env=staging']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: .*label "env" already has a value \(prod\); use --overwrite\n$/);
    expect((await k(['label', 'kvm', HOST, '--list'])).stdout).toBe('env=prod\ntier=web\n');

    const removed = await k(['label', `kvm/${HOST}`, 'env-']);
    expect(removed.code).toBe(0);
    await agent!.waitFor((s) => !s.policyNames().includes('prod-only'), 10_000, 'prod-only to leave the host');
    expect((await k(['describe', 'hsp', 'prod-only'])).stdout).toMatch(/^Selected hosts:\s+<none>$/m);

    expect((await k(['label', 'kvm', HOST, 'Bad Key=x'])).code).toBe(1);
    expect((await k(['label', 'kvm', HOST])).code).toBe(2);
  });

  it('describe kvm shows facts, connection, applied revision and the result of each policy', async () => {
    await agent!.waitFor(() => true, 10);
    // Wait until the agent's report of the latest state is visible.
    let text = '';
    for (let i = 0; i < 50; i++) {
      text = (await k(['describe', 'kvm', HOST])).stdout;
      if (/PolicyApplied\s+False\s+Unenforced/.test(text)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(text).toMatch(new RegExp(`^Name:\\s+${HOST}$`, 'm'));
    expect(text).toMatch(/^Labels:\s+tier=web$/m);
    expect(text).toMatch(/^ {2}Connected:\s+True/m);
    expect(text).toMatch(/^ {2}Kernel:\s+6\.1\.0-test$/m);
    expect(text).toMatch(/^ {2}Enforcer:\s+apparmor \(dry run: profiles are compiled, not loaded\)$/m);
    expect(text).toMatch(/^Applied revision:\s+\d+/m);
    // The test agent compiles without loading: every example is "Compiled", with the loader's message.
    for (const name of examples.names) {
      expect(text).toMatch(new RegExp(`^ {2}KubeArmorHostPolicy\\s+${name}\\s+\\d+\\s+Compiled\\s+compiled, not loaded: test agent$`, 'm'));
    }
    expect(text).not.toMatch(/prod-only/);
    expect(text).toMatch(/^ {2}kubearmor\.host\s+apparmor\s+COMPILED\s/m);
  });

  it('logs --operation File -o json shows the event the agent uploaded', async () => {
    const push = svc.agent(credential).pushEvents();
    const acked = new Promise<number>((resolve, reject) => {
      push.on('data', (m: { ackedUpToSeq: number }) => resolve(m.ackedUpToSeq));
      push.on('error', reject);
    });
    const now = Date.now();
    const base = { hostName: HOST, hostPid: 4242, pid: 4242, uid: 1000, source: '/usr/bin/cat', processName: '/usr/bin/cat', enforcer: 'AppArmor', timestamp: now * 1e6, updatedTime: new Date(now).toISOString() };
    push.write({
      firstSeq: 1,
      dropped: 0,
      events: [
        { ...base, type: 'MatchedHostPolicy', operation: 'File', resource: '/etc/hostname', action: 'Block', result: 'Permission denied', policyName: 'hsp-kubearmor-dev-file-path-block', severity: '5' },
        { ...base, type: 'HostLog', operation: 'Process', resource: '/usr/bin/cat /etc/hostname', action: 'Allow', result: 'Passed' },
      ],
    });
    expect(await acked).toBe(2);
    push.end();

    const json = await k(['logs', '--operation', 'File', '-o', 'json']);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    expect(lines(json)).toHaveLength(1);
    expect(JSON.parse(lines(json)[0]!)).toMatchObject({
      HostName: HOST,
      Type: 'MatchedHostPolicy',
      Operation: 'File',
      Resource: '/etc/hostname',
      Action: 'Block',
      Result: 'Permission denied',
      PolicyName: 'hsp-kubearmor-dev-file-path-block',
      Source: '/usr/bin/cat',
      Timestamp: Math.floor(now / 1000),
    });

    const text = await k(['logs', '--host', HOST]);
    expect(lines(text)).toEqual([
      `${new Date(now).toISOString()} ${HOST} Alert File Block "Permission denied" source=/usr/bin/cat resource=/etc/hostname policy=hsp-kubearmor-dev-file-path-block severity=5 pid=4242 uid=1000 enforcer=AppArmor`,
      `${new Date(now).toISOString()} ${HOST} Log Process Allow Passed source=/usr/bin/cat resource="/usr/bin/cat /etc/hostname" pid=4242 uid=1000 enforcer=AppArmor`,
    ]);
    expect(lines(await k(['logs', '--type', 'log']))).toHaveLength(1);
    expect(lines(await k(['logs', '--resource', '^/etc/', '--since', '1h']))).toHaveLength(1);
    expect((await k(['logs', '--operation', 'Files'])).code).toBe(2);

    const described = (await k(['describe', 'kvm', HOST])).stdout;
    expect(described).toMatch(/^Recent alerts \(last 10\):\n {2}TIME\s+TYPE\s+OPERATION.*\n {2}\S+\s+Alert\s+File\s+Block\s+Permission denied\s+\/usr\/bin\/cat\s+\/etc\/hostname\s+hsp-kubearmor-dev-file-path-block$/m);
  });

  it('get kvm --watch prints a change as it happens', async () => {
    const stop = new AbortController();
    let seen = '';
    let wake: () => void = () => undefined;
    const running = kvmctl(['get', 'kvm', '--watch'], {
      env,
      signal: stop.signal,
      onStdout: (s) => {
        seen = s;
        wake();
      },
    });
    const until = async (predicate: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output so far:\n${seen}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
    };
    await until(() => seen.split('\n').filter((l) => l.startsWith(HOST)).length === 1, 'the initial list');
    expect(seen.split('\n')[0]).toMatch(/^NAME\s+STATUS\s+POLICY\s+ENFORCER\s+POLICIES\s+AGE$/);
    expect((await k(['label', 'kvm', HOST, 'watched=yes'])).code).toBe(0);
    await until(() => seen.split('\n').filter((l) => l.startsWith(HOST)).length === 2, 'the change');
    stop.abort();
    const result = await running;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    // A header once, then one row per object and one per change.
    expect(result.stdout.split('\n').filter((l) => l.startsWith('NAME'))).toHaveLength(1);

    const events = new AbortController();
    let out = '';
    const watching = kvmctl(['get', 'kvm', HOST, '--watch-only', '--output-watch-events', '-o', 'json'], { env, signal: events.signal, onStdout: (s) => (out = s) });
    await new Promise((r) => setTimeout(r, 300));
    expect((await k(['label', 'kvm', HOST, 'watched-'])).code).toBe(0);
    const deadline = Date.now() + 10_000;
    while (!out.includes('MODIFIED') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    events.abort();
    expect((await watching).code).toBe(0);
    const change = JSON.parse(out);
    expect(change).toMatchObject({ type: 'MODIFIED', object: { metadata: { name: HOST, labels: { tier: 'web' } } } });
    expect(change.object.metadata.labels.watched).toBeUndefined();
  });

  it('invalid input to apply: exit 1, one line naming file, document, kind/name and field, nothing stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvmctl-invalid-'));
    writeFileSync(join(dir, 'a-good.yaml'), prodOnly.replace('prod-only', 'good-one'));
    writeFileSync(join(dir, 'b-mixed.yaml'), `${prodOnly.replace('prod-only', 'also-good')}---\n${prodOnly.replace('prod-only', 'bad-one').replace('/etc/gshadow', 'etc/gshadow')}`);
    const before = JSON.parse((await k(['get', 'hsp', '-o', 'json'])).stdout).items.length;

    const r = await k(['apply', '-f', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${join(dir, 'b-mixed.yaml')}#2 KubeArmorHostPolicy/bad-one: spec.file.matchPaths[0].path: must be an absolute path without a trailing '/'\n`);

    for (const name of ['good-one', 'also-good', 'bad-one']) {
      const got = await k(['get', 'hsp', name]);
      expect(got.code).toBe(1);
      expect(got.stderr).toBe(`error: kubearmorhostpolicy "${name}" not found\n`);
    }
    expect(JSON.parse((await k(['get', 'hsp', '-o', 'json'])).stdout).items).toHaveLength(before);

    // The same object twice is refused here too, naming both places.
    mkdirSync(join(dir, 'dup'));
    writeFileSync(join(dir, 'dup', '1.yaml'), prodOnly);
    writeFileSync(join(dir, 'dup', '2.yaml'), prodOnly);
    const dup = await k(['apply', '-f', join(dir, 'dup')]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe(`${join(dir, 'dup', '2.yaml')} KubeArmorHostPolicy/prod-only: appears more than once in one apply (also at ${join(dir, 'dup', '1.yaml')})\n`);

    // A stale resourceVersion is refused by the server, named by file.
    const stale = (await k(['get', 'hsp', 'prod-only', '-o', 'yaml'])).stdout.replace(/resourceVersion: "\d+"/, 'resourceVersion: "1"');
    const conflict = await k(['apply', '-f', '-'], stale);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/^error: - KubeArmorHostPolicy\/prod-only: the object has been modified/);
  });

  it('delete by name, by selector, by file, with --ignore-not-found', async () => {
    expect((await k(['apply', '-f', '-'], prodOnly.replace('prod-only', 'team-a'))).code).toBe(0);
    expect((await k(['label', 'hsp', 'team-a', 'team=a'])).code).toBe(0);
    expect(await k(['delete', 'hsp', '-l', 'team=a'])).toEqual({ code: 0, stdout: `${HSP} "team-a" deleted\n`, stderr: '' });

    const one = await k(['delete', 'hsp', 'prod-only']);
    expect(one).toEqual({ code: 0, stdout: `${HSP} "prod-only" deleted\n`, stderr: '' });
    expect((await k(['get', 'hsp', 'prod-only'])).code).toBe(1);

    const missing = await k(['delete', 'hsp', 'prod-only']);
    expect(missing).toEqual({ code: 1, stdout: '', stderr: 'error: kubearmorhostpolicy "prod-only" not found\n' });
    expect((await k(['delete', 'hsp', 'prod-only', '--ignore-not-found'])).code).toBe(0);

    const files = await k(['delete', '-f', examples.dir]);
    expect(files.code).toBe(0);
    expect(lines(files).sort()).toEqual(examples.names.map((n) => `${HSP} "${n}" deleted`));
    await agent!.waitFor((s) => s.policyNames().length === 0, 10_000, 'the host to have no policy');
    expect(await k(['get', 'hsp'])).toEqual({ code: 0, stdout: '', stderr: 'No resources found.\n' });

    expect((await k(['delete', 'hsp'])).code).toBe(2);
  });

  it('vm getscript prints the installer script for the host', async () => {
    const r = await k(['vm', 'getscript', HOST]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith('#!/')).toBe(true);
    expect(r.stdout).toContain(HOST);
    expect(r.stdout).toContain('BEGIN CERTIFICATE');
  });

  it('names what to check when the server or the token is wrong', async () => {
    const badToken = await kvmctl(['get', 'kvm', '--token', 'not-a-token'], '', env);
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(new RegExp(`^error: kvmservice at ${svc.address.replace(/\./g, '\\.')} refused the credentials \\(context "default" of .*kvmctl\\.yaml\\): .+\\n$`));

    const closed = await kvmctl(['get', 'kvm', '--server', '127.0.0.1:1'], '', env);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/^error: cannot reach kvmservice at 127\.0\.0\.1:1 \(--server 127\.0\.0\.1:1\): .+\n$/);

    const none = await kvmctl(['get', 'kvm'], '', {});
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error: no server configured: pass --server HOST:PORT/);
  });

  it('vm delete revokes the credential and removes the host', async () => {
    const r = await k(['vm', 'delete', HOST]);
    expect(r).toEqual({ code: 0, stdout: `${KVM} "${HOST}" deleted\n`, stderr: '' });
    await agent!.waitFor((s) => s.error !== undefined, 10_000, 'the agent stream to close');
    expect((await k(['get', 'kvm', HOST])).code).toBe(1);
  });
});
