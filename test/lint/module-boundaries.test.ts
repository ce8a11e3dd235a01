// The Nx module-boundary rule, run as `npm test` runs it: it must be active (it silently skips
// itself, with a warning, when Nx has not computed the project graph) and refuse imports across
// the tags of docs/development.md while allowing the ones the table allows.
import { execFileSync } from 'node:child_process';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;

async function boundaryMessages(file: string, from: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(`import * as imported from '${from}';\nexport const used = imported;\n`, { filePath: `${root}${file}` });
  return result!.messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries' || /ProjectGraph/.test(m.message)).map((m) => m.message);
}

describe('module boundaries', () => {
  beforeAll(() => {
    // What scripts/test.sh does before eslint: compute the project graph the rule reads.
    execFileSync('npx', ['nx', 'show', 'projects'], { cwd: root, env: { ...process.env, NX_DAEMON: 'false' }, stdio: 'ignore', timeout: 120_000 });
  }, 150_000);

  it.each([
    ['libs/resources/src/canary.ts', '@kvmservice/store', 'type:model'],
    ['libs/apparmor/src/canary.ts', '@kvmservice/auditlog', 'type:lsm'],
    ['libs/auditlog/src/canary.ts', '@kvmservice/store', 'type:parser'],
    ['libs/store/src/canary.ts', '@kvmservice/apparmor', 'type:store'],
  ])('refuses %s importing %s', async (file, from, tag) => {
    const messages = await boundaryMessages(file, from);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`tagged with "${tag}"`);
  });

  // Apps export nothing (their package.json has no "exports"), so `@kvmservice/kvmctl` does not
  // resolve at all (tsc fails); a path into an app is what a lib could try, and is refused.
  it('refuses a lib importing an app by path', async () => {
    expect(await boundaryMessages('libs/discovery/src/canary.ts', '../../../apps/kvmctl/src/main.js')).toEqual([
      'Projects cannot be imported by a relative or absolute path, and must begin with a npm scope',
    ]);
  });

  it.each([
    ['libs/apparmor/src/canary.ts', '@kvmservice/resources'],
    ['libs/discovery/src/canary.ts', '@kvmservice/auditlog'],
    ['apps/kvmservice/src/canary.ts', '@kvmservice/store'],
    ['apps/kvmctl/src/canary.ts', '@kvmservice/discovery'],
  ])('allows %s importing %s', async (file, from) => {
    expect(await boundaryMessages(file, from)).toEqual([]);
  });
});
