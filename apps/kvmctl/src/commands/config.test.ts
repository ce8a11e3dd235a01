import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseClientConfig, stringifyClientConfig } from '@kvmservice/api';
import { kvmctl } from '../testing/run.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function config(name: string, server: string, extra: Record<string, unknown> = {}): string {
  return stringifyClientConfig({ currentContext: name, contexts: [{ name, server, token: `token-of-${name}`, certificateAuthorityData: CA, ...extra }] });
}

/** A HOME and a working directory, each with or without a config. */
function layout(files: { home?: string; data?: string }) {
  const root = mkdtempSync(join(tmpdir(), 'kvmctl-config-'));
  const home = join(root, 'home');
  const cwd = join(root, 'work');
  mkdirSync(join(home, '.kvmctl'), { recursive: true });
  mkdirSync(join(cwd, 'data'), { recursive: true });
  if (files.home) writeFileSync(join(home, '.kvmctl', 'config'), files.home);
  if (files.data) writeFileSync(join(cwd, 'data', 'kvmctl.yaml'), files.data);
  return { root, home, cwd };
}

describe('config lookup: --config, $KVMCTL_CONFIG, ~/.kvmctl/config, ./data/kvmctl.yaml', () => {
  it('uses the first that applies', async () => {
    const only = layout({ data: config('from-data', 'a:1') });
    expect((await kvmctl(['config', 'current-context'], { env: { HOME: only.home }, cwd: only.cwd })).stdout).toBe('from-data\n');

    const both = layout({ home: config('from-home', 'b:1'), data: config('from-data', 'a:1') });
    expect((await kvmctl(['config', 'current-context'], { env: { HOME: both.home }, cwd: both.cwd })).stdout).toBe('from-home\n');

    const explicit = join(both.root, 'explicit.yaml');
    writeFileSync(explicit, config('from-env', 'c:1'));
    expect((await kvmctl(['config', 'current-context'], { env: { HOME: both.home, KVMCTL_CONFIG: explicit }, cwd: both.cwd })).stdout).toBe('from-env\n');

    const flag = join(both.root, 'flag.yaml');
    writeFileSync(flag, config('from-flag', 'd:1'));
    expect((await kvmctl(['config', 'current-context', '--config', flag], { env: { HOME: both.home, KVMCTL_CONFIG: explicit }, cwd: both.cwd })).stdout).toBe('from-flag\n');
    // Relative to the working directory.
    expect((await kvmctl(['--config', '../flag.yaml', 'config', 'current-context'], { env: {}, cwd: both.cwd })).stdout).toBe('from-flag\n');
  });

  it('an explicit file that does not exist is an error; none at all says where it looked', async () => {
    const empty = layout({});
    const missing = await kvmctl(['get', 'kvm'], { env: { HOME: empty.home, KVMCTL_CONFIG: join(empty.root, 'nope.yaml') }, cwd: empty.cwd });
    expect(missing).toEqual({ code: 1, stdout: '', stderr: `error: ${join(empty.root, 'nope.yaml')} (from KVMCTL_CONFIG): no such file\n` });
    const none = await kvmctl(['get', 'kvm'], { env: { HOME: empty.home }, cwd: empty.cwd });
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      `error: no server configured: pass --server HOST:PORT or create a config (kvmctl config set-context); looked for ${join(empty.home, '.kvmctl', 'config')}, ${join(empty.cwd, 'data', 'kvmctl.yaml')}\n`,
    );
  });

  it('a broken config is one line naming the file and field', async () => {
    const bad = layout({ data: 'contexts:\n- name: x\n  context:\n    server: 1\n' });
    const r = await kvmctl(['get', 'kvm'], { env: { HOME: bad.home }, cwd: bad.cwd });
    expect(r).toEqual({ code: 1, stdout: '', stderr: `error: ${join(bad.cwd, 'data', 'kvmctl.yaml')}: contexts[0].context.server: must be a string\n` });
  });

  it('refuses a TLS context without a CA, and an unknown --context', async () => {
    const noCa = layout({ data: stringifyClientConfig({ currentContext: 'x', contexts: [{ name: 'x', server: 'h:1', token: 't' }] }) });
    const r = await kvmctl(['get', 'kvm'], { env: {}, cwd: noCa.cwd });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: no certificate authority for h:1 \(context "x" of .*\): set certificate-authority-data in the context, pass --certificate-authority FILE, or --insecure/);
    const unknown = await kvmctl(['get', 'kvm', '--context', 'nope'], { env: {}, cwd: noCa.cwd });
    expect(unknown.stderr).toMatch(/^error: context "nope" not found in .*kvmctl\.yaml \(kvmctl config get-contexts lists them\)\n$/);
    const caFile = await kvmctl(['get', 'kvm', '--certificate-authority', 'missing-ca.crt'], { env: {}, cwd: noCa.cwd });
    expect(caFile.stderr).toBe(`error: certificate authority ${join(noCa.cwd, 'missing-ca.crt')}: no such file\n`);
  });
});

describe('kvmctl config', () => {
  it('view hides tokens and CA data unless --raw; --minify keeps the current context', async () => {
    const two = stringifyClientConfig({
      currentContext: 'b',
      contexts: [
        { name: 'a', server: 'a:1', token: 'secret-a', certificateAuthorityData: CA },
        { name: 'b', server: 'b:1', token: 'secret-b', insecure: true },
      ],
    });
    const l = layout({ data: two });
    const io = { env: {}, cwd: l.cwd };
    const view = await kvmctl(['config', 'view'], io);
    expect(view.code).toBe(0);
    expect(view.stdout).not.toContain('secret-');
    expect(view.stdout).toContain('token: REDACTED');
    expect(view.stdout).toContain('certificate-authority-data: DATA+OMITTED');
    const raw = await kvmctl(['config', 'view', '--raw'], io);
    expect(parseClientConfig(raw.stdout, 'raw')).toEqual(parseClientConfig(two, 'two'));
    const minified = JSON.parse((await kvmctl(['config', 'view', '--minify', '-o', 'json'], io)).stdout);
    expect(minified.contexts.map((c: { name: string }) => c.name)).toEqual(['b']);
    expect(minified['current-context']).toBe('b');

    const contexts = await kvmctl(['config', 'get-contexts'], io);
    expect(contexts.stdout).toBe(
      'CURRENT   NAME   SERVER   SECURITY            TOKEN\n' + '          a      a:1      tls (embedded CA)   yes\n' + '*         b      b:1      insecure            yes\n',
    );
  });

  it('set-context creates ~/.kvmctl/config (owner-only), use-context and delete-context change it', async () => {
    const l = layout({});
    const io = { env: { HOME: l.home }, cwd: l.cwd };
    writeFileSync(join(l.cwd, 'ca.crt'), CA);
    const created = await kvmctl(['config', 'set-context', 'prod', '--server', 'kvm.example.com:32770', '--certificate-authority', 'ca.crt', '--embed-certs', '--token', 'abc'], io);
    const path = join(l.home, '.kvmctl', 'config');
    expect(created).toEqual({ code: 0, stdout: `Context "prod" created in ${path}.\n`, stderr: '' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(parseClientConfig(readFileSync(path, 'utf8'), path)).toEqual({
      currentContext: 'prod',
      contexts: [{ name: 'prod', server: 'kvm.example.com:32770', token: 'abc', certificateAuthorityData: CA }],
    });

    expect((await kvmctl(['config', 'set-context', 'dev', '--server', '127.0.0.1:32770', '--insecure'], io)).code).toBe(0);
    expect((await kvmctl(['config', 'current-context'], io)).stdout).toBe('prod\n');
    expect(await kvmctl(['config', 'use-context', 'dev'], io)).toEqual({ code: 0, stdout: 'Switched to context "dev".\n', stderr: '' });
    expect((await kvmctl(['config', 'current-context'], io)).stdout).toBe('dev\n');
    expect((await kvmctl(['config', 'use-context', 'nope'], io)).code).toBe(1);

    expect((await kvmctl(['config', 'set-context', '--current', '--token', 'new'], io)).stdout).toBe(`Context "dev" modified in ${path}.\n`);
    expect(parseClientConfig(readFileSync(path, 'utf8'), path).contexts.find((c) => c.name === 'dev')).toEqual({ name: 'dev', server: '127.0.0.1:32770', insecure: true, token: 'new' });

    expect((await kvmctl(['config', 'delete-context', 'prod'], io)).code).toBe(0);
    expect((await kvmctl(['config', 'get-contexts', '-o', 'name'], io)).stdout).toBe('dev\n');
    expect((await kvmctl(['config', 'set-context', 'x'], io)).code).toBe(2);
  });
});
