import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { installerTemplatePath } from './agent-bundle.js';
import { InstallerTemplateError, renderInstallerScript, shellQuote, type InstallerValues } from './render-installer.js';

const template = readFileSync(installerTemplatePath(), 'utf8');
const NAMES = ['KVM_SERVER', 'KVM_BUNDLE_URL', 'KVM_BUNDLE_SHA256', 'KVM_HOSTNAME', 'KVM_TOKEN', 'KVM_CA_PEM'] as const;

/** What bash makes of the filled-in assignments: the values block only, run with `set -u`. */
function bashValues(script: string): Record<string, string> {
  const block = script.slice(script.indexOf('KVM_SERVER='), script.indexOf('# ----', script.indexOf('KVM_SERVER=')));
  const print = NAMES.map((n) => `printf '%s\\0' "$${n}"`).join('\n');
  const run = spawnSync('bash', ['-c', `set -euo pipefail\n${block}\n${print}`], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const parts = run.stdout.split('\0');
  return Object.fromEntries(NAMES.map((n, i) => [n, parts[i]!]));
}

const base: InstallerValues = {
  servers: ['kvm.example.internal:32770', '10.0.0.2:32770'],
  bundleUrl: 'http://kvm.example.internal:9090/agent/kvmagent.tgz',
  bundleSha256: 'a'.repeat(64),
  caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  token: 'abcdef.0123456789abcdef',
  hostname: 'vm1',
};

describe('renderInstallerScript', () => {
  it('fills every value in as one shell word that bash reads back exactly', () => {
    const values = bashValues(renderInstallerScript(template, base));
    expect(values).toEqual({
      KVM_SERVER: 'kvm.example.internal:32770,10.0.0.2:32770',
      KVM_BUNDLE_URL: base.bundleUrl,
      KVM_BUNDLE_SHA256: base.bundleSha256,
      KVM_HOSTNAME: 'vm1',
      KVM_TOKEN: base.token,
      KVM_CA_PEM: base.caPem.trimEnd(),
    });
  });

  it('keeps hostile values inert: quotes, $(…), backticks, newlines, replacement patterns', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')), fc.string({ unit: 'grapheme-ascii' }), (anything, ascii) => {
        const hostile = `'$(touch /tmp/pwned)\`id\`"\n'\\''$&$'${anything}`;
        const values = bashValues(renderInstallerScript(template, { ...base, bundleUrl: hostile, hostname: ascii, token: `${ascii}'` }));
        expect(values.KVM_BUNDLE_URL).toBe(hostile);
        expect(values.KVM_HOSTNAME).toBe(ascii);
        expect(values.KVM_TOKEN).toBe(`${ascii}'`);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses NUL, a template without a placeholder, and an unknown placeholder', () => {
    expect(() => shellQuote('a\0b')).toThrow(InstallerTemplateError);
    expect(() => renderInstallerScript(template.replace('KVM_TOKEN=@KVM_TOKEN@', 'KVM_TOKEN='), base)).toThrow('expected one line KVM_TOKEN=@KVM_TOKEN@, found 0');
    expect(() => renderInstallerScript(`${template}\nKVM_NEW=@KVM_NEW@\n`, base)).toThrow('unknown placeholder @KVM_NEW@');
  });

  it('the unfilled template is a valid script that asks for what is missing', () => {
    const run = spawnSync('bash', [installerTemplatePath(), '--root', join('/tmp', 'kvmagent-never'), '--no-systemd'], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(
      'kvmagent-install: error: no control plane address: use the installer kvmservice serves (GET /install.sh, kvmctl vm getscript) or --server HOST:PORT',
    );
  });
});
