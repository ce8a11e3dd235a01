/**
 * What every line of a rendered AppArmor profile may be, and where every quoted string in it may
 * come from: the checks the property corpus and the hostile-policy corpus apply to renders. A line
 * outside these shapes, the injection marker outside quotes, or a quoted string no policy asked for
 * is a problem line.
 */
import type { AppArmorRender } from '@kvmservice/apparmor';
import type { NormalizedHostPolicy } from '@kvmservice/resources';

/** The text the corpora plant in policy strings to detect injection. */
export const INJECTION_MARKER = 'kvm-injected-marker';

const FIXED = new Set(['include <tunables/global>', 'include <abstractions/base>', 'mount,', 'umount,', 'signal,', 'unix,', 'ptrace,', 'dbus,', 'file,', 'network,', 'capability,', '}', '/lib/x86_64-linux-gnu/{*,**} rm,']);
const SHAPES = [
  /^profile [A-Za-z0-9._]+ (\/\{usr\/,\}bin\/\*sh|"[^"]*") flags=\(attach_disconnected,mediate_deleted(,complain)?\) \{$/,
  /^(audit )?(deny )?(owner |other )?"[^"]*" [a-z]+( -> [A-Za-z0-9._]+)?,$/,
  /^(audit )?(deny )?network( [a-z0-9]+)?,$/,
  /^(audit )?(deny )?capability [a-z_]+,$/,
];

const escapeLiteral = (p: string) => p.replace(/[*?[\]{}]/g, (c) => `\\${c}`);

/**
 * The paths a glob without wildcards names: `{a,b}` alternations multiplied out (the renderer
 * writes exec rules of such patterns one path at a time). Undefined beyond `limit` paths.
 */
function braceExpansions(text: string, limit: number): string[] | undefined {
  let pos = 0;
  const sequence = (nested: boolean): string[] | undefined => {
    let acc = [''];
    while (pos < text.length) {
      const ch = text[pos]!;
      if (nested && (ch === ',' || ch === '}')) break;
      if (ch === '{') {
        pos++;
        const alternatives: string[] = [];
        for (;;) {
          const alt = sequence(true);
          if (!alt) return undefined;
          alternatives.push(...alt);
          if (text[pos++] !== ',') break;
        }
        acc = acc.flatMap((a) => alternatives.map((b) => a + b));
      } else {
        acc = acc.map((a) => a + ch);
        pos++;
      }
      if (acc.length > limit) return undefined;
    }
    return acc;
  };
  return sequence(false);
}

/** Every quoted string the policies (and learning binaries) may contribute to a profile. */
function derivedStrings(policies: readonly NormalizedHostPolicy[], binaries: readonly string[]): Set<string> {
  const exact = new Set<string>(binaries.map(escapeLiteral));
  for (const p of policies) {
    for (const r of p.rules) {
      if (r.class === 'process' || r.class === 'file' || r.class === 'network' || r.class === 'capability') for (const s of r.fromSource) exact.add(escapeLiteral(s));
      if (r.class !== 'process' && r.class !== 'file') continue;
      const t = r.target;
      if (t.kind === 'path') exact.add(escapeLiteral(t.path));
      if (t.kind === 'execname') exact.add(`/**${escapeLiteral(`/${t.name}`)}`);
      if (t.kind === 'dir') exact.add(`${escapeLiteral(t.dir)}${t.recursive ? '{,**}' : '{,*}'}`);
      if (t.kind === 'pattern') {
        exact.add(t.pattern);
        if (!/[*?[]/.test(t.pattern)) for (const e of braceExpansions(t.pattern, 4096) ?? []) exact.add(e);
      }
    }
  }
  return exact;
}

/**
 * Problem lines of a render. `native`: spec.apparmor text was opted in (allowNativeRules), so the
 * lines of a `# native rules of` section are the policy's own and not checked.
 */
export function appArmorRenderProblems(
  render: AppArmorRender,
  policies: readonly NormalizedHostPolicy[],
  options: { binaries?: readonly string[]; native?: boolean; where: string },
): string[] {
  const { where } = options;
  const exact = derivedStrings(policies, options.binaries ?? []);
  const out: string[] = [];
  for (const artifact of render.artifacts) {
    // What the agent writes is UTF-8: check the text as it will be read back from disk.
    const content = Buffer.from(artifact.content, 'utf8').toString('utf8');
    if (!/^[A-Za-z0-9._-]+$/.test(artifact.fileName)) out.push(`${where}: profile file name ${JSON.stringify(artifact.fileName)}`);
    let inNative = false;
    for (const raw of content.split('\n')) {
      const trimmed = raw.trim();
      if (trimmed.startsWith('# native rules of ')) inNative = true;
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      if (inNative && options.native && !FIXED.has(trimmed)) continue;
      inNative = false;
      // Outside quoted strings and comments, nothing from a policy: the marker never shows.
      const code = raw.replace(/"[^"]*"/g, '""').replace(/ {2}# .*$/, '');
      if (code.includes(INJECTION_MARKER)) out.push(`${where}: marker outside quotes in ${artifact.name}: ${raw.slice(0, 200)}`);
      const line = raw.replace(/ {2}# [^"]*$/, '').trim();
      if (!FIXED.has(line) && !SHAPES.some((s) => s.test(line))) out.push(`${where}: unexpected line in ${artifact.name}: ${JSON.stringify(raw.slice(0, 200))}`);
      for (const [, q] of line.matchAll(/"([^"]*)"/g)) {
        if (!exact.has(q!)) out.push(`${where}: quoted string not derived from the policy in ${artifact.name}: ${JSON.stringify(q!.slice(0, 200))}`);
      }
    }
  }
  return out;
}
