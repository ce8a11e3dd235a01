import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parsePostures, renderAppArmorProfiles } from '@kvmservice/apparmor';
import { checkDocuments, HOST_POLICY, NAME_PATTERN, hostLabels, hostSelectorMatches, normalizeHostPolicy, type CheckedDocument, type KubeArmorHostPolicy } from '@kvmservice/resources';
import { renderSelinuxModule, type RenderedSelinuxModule } from '@kvmservice/selinux';
import { readInputs } from '../input.js';
import { CliError, usageError, type CliIo } from '../io.js';
import { collect, parseLabelList } from '../options.js';
import { validInputObjects } from './apply.js';

interface RenderOptions {
  filename: string[];
  recursive: boolean;
  lsm: string;
  hostname?: string;
  labels?: string;
  posture?: string;
  out?: string;
  allowNativeRules?: boolean;
}

/** One file of the render: its name and text. */
export interface RenderedFile {
  fileName: string;
  content: string;
  /** The comment syntax of the file, for the header printed before it on stdout. */
  comment: '#' | ';';
}

const DEFAULT_HOSTNAME = 'localhost';

/** The SELinux render as files: the CIL module and its file-context list (file_contexts syntax). */
export function selinuxFiles(module: RenderedSelinuxModule): RenderedFile[] {
  const contexts = module.fileContexts.map((fc) => `${fc.pathRegex}\t${fc.context}\n`).join('');
  const relabel = module.relabelPaths.length > 0 ? `# after installing: restorecon -R ${module.relabelPaths.join(' ')}\n` : '';
  return [
    { fileName: `${module.moduleName}.cil`, content: module.module, comment: ';' },
    { fileName: `${module.moduleName}.file_contexts`, content: `${relabel}${contexts}`, comment: '#' },
  ];
}

/** `kvmctl render -f PATH [--lsm apparmor|selinux] …`: offline, the LSM policy a host would get. */
export function registerRender(program: Command, io: CliIo): void {
  program
    .command('render')
    .description('Render host policies to AppArmor profiles or an SELinux CIL module, offline (no server needed)')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect, [])
    .option('-R, --recursive', 'process directories recursively', false)
    .option('--lsm <lsm>', 'apparmor or selinux', 'apparmor')
    .option('--hostname <name>', `the host to render for; only policies selecting it are rendered (default ${DEFAULT_HOSTNAME})`)
    .option('--labels <k=v,…>', "the host's labels; only policies selecting them are rendered")
    .option('--posture <class=value,…>', 'default postures: file, network, capabilities = allow|audit|block (default audit)')
    .option('--allow-native-rules', 'AppArmor: include spec.apparmor native rules as written (they bypass every check)')
    .option('--out <dir>', 'write one file per artifact into DIR instead of printing')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl render -f policy.yaml
  kvmctl render -f policies/ --hostname web-1 --labels env=prod --posture file=block
  kvmctl render -f policies/ --lsm selinux --hostname db-1 --out build/selinux/
  cat policy.yaml | kvmctl render -f - | apparmor_parser -Q -K

Without --hostname and --labels every policy in the input is rendered as if it selected the host.
Invalid input gives the same errors as kvmctl validate (exit 1, nothing on stdout). Rules the LSM
cannot express are reported on stderr: AppArmor renders the rest; SELinux renders nothing (exit 1),
since a partial module would look enforced while part of it is not.`,
    )
    .action(async (opts: RenderOptions) => {
      if (opts.lsm !== 'apparmor' && opts.lsm !== 'selinux') throw usageError(`--lsm: must be apparmor or selinux, not ${JSON.stringify(opts.lsm)}`);
      if (opts.hostname !== undefined && !NAME_PATTERN.test(opts.hostname)) throw usageError(`--hostname: ${JSON.stringify(opts.hostname)} is not a valid host name`);
      const labels = opts.labels ? parseLabelList(opts.labels) : undefined;
      let postures = {};
      if (opts.posture !== undefined) {
        const parsed = parsePostures(opts.posture);
        if ('error' in parsed) throw usageError(`--posture: ${parsed.error}`);
        postures = parsed.postures;
      }
      const hostname = opts.hostname ?? DEFAULT_HOSTNAME;
      const inputs = await readInputs(opts.filename, opts.recursive, io);
      const checked: CheckedDocument[] = inputs.flatMap((input) => checkDocuments(input.text, input.source));
      const objects = validInputObjects(checked, io);
      for (const o of objects) {
        if (o.kind !== HOST_POLICY) io.stderr(`${o.location} ${o.kind.kind}/${o.resource.metadata.name}: skipped (only KubeArmorHostPolicy renders to ${opts.lsm})\n`);
      }
      const policies = objects.filter((o) => o.kind === HOST_POLICY);
      if (policies.length === 0) throw new CliError('no KubeArmorHostPolicy in the input');
      const filtering = opts.hostname !== undefined || labels !== undefined;
      const hostLabelSet = hostLabels(hostname, labels);
      const selected = filtering
        ? policies.filter((o) => hostSelectorMatches((o.resource as unknown as KubeArmorHostPolicy).spec.nodeSelector?.matchLabels ?? {}, hostLabelSet))
        : policies;
      if (selected.length === 0) {
        io.stderr(`no policy in the input selects host ${hostname} (labels ${Object.entries(hostLabelSet).map(([k, v]) => `${k}=${v}`).join(',')})\n`);
        return;
      }
      const locationOf = new Map(selected.map((o) => [o.resource.metadata.name, `${o.location} ${o.kind.kind}/${o.resource.metadata.name}`]));
      const normalized = selected.map((o) => normalizeHostPolicy(o.resource as unknown as KubeArmorHostPolicy));
      const where = (policy: string) => locationOf.get(policy) ?? `KubeArmorHostPolicy/${policy}`;

      let files: RenderedFile[];
      if (opts.lsm === 'apparmor') {
        const r = renderAppArmorProfiles(normalized, { name: hostname }, { postures, allowNativeRules: opts.allowNativeRules === true });
        for (const u of r.unenforceable) io.stderr(`warning: ${where(u.policy)}: ${u.field}: ${u.reason} (not enforced by AppArmor)\n`);
        files = r.artifacts.map((a) => ({ fileName: a.fileName, content: a.content, comment: '#' }));
        if (files.length === 0) io.stderr('nothing to render: no rule of the selected policies renders for AppArmor\n');
      } else {
        const r = renderSelinuxModule(normalized, { name: hostname }, { posture: postures });
        if (r.problems.length > 0) {
          for (const p of r.problems) io.stderr(`${where(p.policy)}: ${p.field ? `${p.field}: ` : ''}${p.reason}\n`);
          throw new CliError('');
        }
        files = selinuxFiles(r);
      }

      if (opts.out === undefined) {
        for (const f of files) io.stdout(`${f.comment} kvmctl render: ${f.fileName}\n${f.content}${f.content.endsWith('\n') || f.content === '' ? '' : '\n'}`);
        return;
      }
      const dir = resolve(io.cwd, opts.out);
      try {
        mkdirSync(dir, { recursive: true });
        for (const f of files) writeFileSync(join(dir, f.fileName), f.content);
      } catch (e) {
        throw new CliError(`--out ${opts.out}: ${(e as Error).message}`);
      }
      for (const f of files) io.stdout(`${join(opts.out, f.fileName)}\n`);
    });
}
