import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliReference } from './reference.js';

const docPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'cli.md');

describe('docs/cli.md', () => {
  it('is the reference generated from the command tree (KVMCTL_UPDATE_DOCS=1 regenerates it)', () => {
    const generated = cliReference();
    if (process.env.KVMCTL_UPDATE_DOCS) writeFileSync(docPath, generated);
    expect(readFileSync(docPath, 'utf8')).toBe(generated);
    for (const c of ['kvmctl get', 'kvmctl apply', 'kvmctl vm getscript', 'kvmctl logs', 'kvmctl render', 'kvmctl parse-log', 'kvmctl completion']) {
      expect(generated).toContain(`### ${c}\n`);
    }
  });
});
