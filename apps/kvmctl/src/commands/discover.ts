import { closeSync, openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Option, type Command } from 'commander';
import { unary } from '@kvmservice/api';
import { splitLines } from '@kvmservice/auditlog';
import { sourceProfileNames } from '@kvmservice/apparmor';
import { createHostModel, discoverPolicies, observeHubbleText, observeLogLines, type DiscoveryOptions, type SourceResolver } from '@kvmservice/discovery';
import {
  CLUSTERWIDE_NETWORK_POLICY,
  HOST_POLICY,
  NAME_PATTERN,
  NETWORK_POLICY,
  VIRTUAL_MACHINE,
  findKind,
  learningBinaryReason,
  toYaml,
  type Resource,
} from '@kvmservice/resources';
import { RpcError, withSession, type GlobalOptions, type ServerSession } from '../connection.js';
import { CliError, usageError, type CliIo } from '../io.js';
import { readLinesSync } from '../line-reader.js';
import { getObject } from '../objects.js';
import { collect, countFlag, durationFlag } from '../options.js';
import { jsonText, listOf, ordered, parseOutputFormat } from '../output/printers.js';
import { objectRef } from '../resource-types.js';
import { applyOutcomeText } from './apply.js';

interface DiscoverOptions {
  host?: string;
  fromLog: string[];
  hostname?: string;
  hubble?: string;
  kind: string[];
  single?: boolean;
  binary: string[];
  directoryThreshold?: string;
  output?: string;
  apply?: boolean;
}

type Kinds = { hostPolicies: boolean; hostNetwork: boolean; workloads: boolean };

const OFFLINE_HOSTNAME = 'localhost';
/** Offline there is no store value to fit: room for a big log (the server keeps 768 KiB per host). */
const OFFLINE_LIMITS = { maxSources: 10_000, maxEntries: 1_000_000, maxBytes: 256 * 1024 * 1024 };
const MAX_LEARNING_SECONDS = 30 * 24 * 3600;

/** `--kind` values: KubeArmorHostPolicy, CiliumClusterwideNetworkPolicy, (offline) CiliumNetworkPolicy, all. */
function kindsOf(values: readonly string[], offline: boolean): Kinds {
  const items = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  if (items.length === 0) return { hostPolicies: true, hostNetwork: true, workloads: offline };
  const out: Kinds = { hostPolicies: false, hostNetwork: false, workloads: false };
  for (const item of items) {
    if (item.toLowerCase() === 'all') {
      out.hostPolicies = out.hostNetwork = true;
      out.workloads = offline;
      continue;
    }
    const kind = findKind(item);
    if (kind === HOST_POLICY) out.hostPolicies = true;
    else if (kind === CLUSTERWIDE_NETWORK_POLICY) out.hostNetwork = true;
    else if (kind === NETWORK_POLICY && offline) out.workloads = true;
    else {
      const allowed = offline ? 'KubeArmorHostPolicy, CiliumClusterwideNetworkPolicy, CiliumNetworkPolicy or all' : 'KubeArmorHostPolicy, CiliumClusterwideNetworkPolicy or all';
      throw usageError(`--kind: ${JSON.stringify(item)} is not ${allowed}`);
    }
  }
  return out;
}

function checkBinaries(binaries: readonly string[]): void {
  for (const b of binaries) {
    const reason = learningBinaryReason(b) ?? (/[*?[\]{}\s]/.test(b) ? 'must name one binary (no glob characters or spaces)' : undefined);
    if (reason) throw usageError(`--binary ${JSON.stringify(b)}: ${reason}`);
  }
}

function checkHost(flag: string, host: string): void {
  if (!NAME_PATTERN.test(host)) throw usageError(`${flag}: ${JSON.stringify(host)} is not a valid host name`);
}

function printObjects(objects: readonly unknown[], format: 'yaml' | 'json', io: CliIo): void {
  if (format === 'json') io.stdout(jsonText(listOf(objects)));
  else if (objects.length > 0) io.stdout(toYaml(objects.map(ordered)));
}

/** `kvmctl discover`: policies from what a host did, from the server (`--host`) or from logs (`--from-log`). */
export function registerDiscover(program: Command, io: CliIo): void {
  const discover = program
    .command('discover')
    .description('Discover KubeArmorHostPolicy and Cilium host policies from what a host did: from kvmservice (--host) or offline from audit logs (--from-log)')
    .option('--host <name>', 'the host (kvmservice computes from its uploaded records)')
    .option('--from-log <file>', 'offline: an audit log (auditd, syslog, kern.log, journald JSON; - for stdin); repeatable', collect, [])
    .option('--hostname <name>', `offline: the host the logs are from (nodeSelector; default ${OFFLINE_HOSTNAME})`)
    .option('--hubble <file>', 'offline: Hubble flows (hubble observe -o json) for the host firewall and workload L7 rules')
    .addOption(new Option('--kind <kind>', 'KubeArmorHostPolicy, CiliumClusterwideNetworkPolicy, CiliumNetworkPolicy (offline) or all; repeatable').argParser(collect).default([], 'all'))
    .option('--single', 'one KubeArmorHostPolicy for the host instead of one per binary')
    .option('--binary <path>', 'only these binaries (repeatable)', collect, [])
    .option('--directory-threshold <n>', 'a directory with more distinct children becomes a recursive matchDirectories (default 3)')
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .option('--apply', 'server: save the policies as DiscoveredPolicies and put them in force (Active)')
    .addHelpText(
      'after',
      `
Examples:
  # What web-1 did (uploaded by its agent), as policies to review
  kvmctl discover --host web-1 > web-1-policies.yaml
  # One policy for nginx only, and put it in force
  kvmctl discover --host web-1 --binary /usr/sbin/nginx --apply
  # A learning run: nginx's profile in complain mode for 30 minutes, then the policy
  kvmctl discover start --host web-1 --binary /usr/sbin/nginx --duration 30m
  kvmctl discover --host web-1 --binary /usr/sbin/nginx
  kvmctl discover stop --host web-1
  # Offline, like aa-logprof or audit2allow, but KubeArmor and Cilium policies
  kvmctl discover --from-log /var/log/audit/audit.log --hostname web-1 --kind KubeArmorHostPolicy
  kvmctl discover --from-log kern.log --hubble flows.json --hostname web-1 -o json

Server: kvmservice builds a model of each host from the records its agent uploads (AppArmor,
SELinux, Linux audit); the answer covers every record stored. --apply saves each object as a
DiscoveredPolicy and applies it Active, which puts the policy in force in the same commit
(kvmctl get dsp lists them; applying a DiscoveredPolicy Inactive takes its policy out again).
Warnings (model full, unattributed records, ports opened to all) go to stderr.
YAML output is a multi-document stream that kvmctl apply -f reads.`,
    )
    .action(async (opts: DiscoverOptions, command: Command) => {
      const format = parseOutputFormat(opts.output, ['yaml', 'json'] as const, 'yaml');
      const offline = opts.fromLog.length > 0;
      if (offline === (opts.host !== undefined)) throw usageError('give --host HOST (server) or --from-log FILE (offline)');
      if (!offline && (opts.hubble !== undefined || opts.hostname !== undefined)) throw usageError('--hubble and --hostname are for --from-log; the server knows the host');
      if (offline && opts.apply) throw usageError('--apply needs a server (--host), not --from-log');
      if (opts.apply && opts.output !== 'yaml' && command.getOptionValueSource('output') === 'cli') throw usageError('--apply prints what it applied; leave out -o');
      const kinds = kindsOf(opts.kind, offline);
      checkBinaries(opts.binary);
      const threshold = opts.directoryThreshold === undefined ? 0 : countFlag('--directory-threshold', opts.directoryThreshold);
      if (opts.directoryThreshold !== undefined && threshold < 1) throw usageError('--directory-threshold: must be at least 1');
      if (offline) return discoverOffline(opts, kinds, threshold, format, io);
      checkHost('--host', opts.host!);
      await withSession(command.optsWithGlobals<GlobalOptions>(), io, async (session) => {
        const kindNames = [...(kinds.hostPolicies ? [HOST_POLICY.kind] : []), ...(kinds.hostNetwork ? [CLUSTERWIDE_NETWORK_POLICY.kind] : [])];
        const reply = await session.call((c, t) =>
          unary(c.discover.bind(c), { host: opts.host!, kinds: kindNames, single: opts.single === true, binaries: opts.binary, directoryThreshold: threshold, save: opts.apply === true }, t),
        );
        for (const w of reply.warnings) io.stderr(`warning: ${w}\n`);
        const objects = reply.objects.map((o) => JSON.parse(o) as Resource);
        if (objects.length === 0) {
          io.stderr(`no policies discovered for host ${opts.host} (${reply.events} records observed)\n`);
          if (format === 'json') printObjects([], format, io);
          return;
        }
        if (!opts.apply) return printObjects(objects, format, io);
        await activate(session, reply.discoveredPolicies, io);
      });
    });

  discover
    .command('start')
    .description("Start learning mode on a host: the binaries' profiles in complain mode (AppArmor) or their domains permissive (SELinux), visibility on")
    .option('--duration <duration>', 'how long learning lasts (e.g. 10m, 2h; at most 30d)', '10m')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl discover start --host web-1 --binary /usr/sbin/nginx --duration 30m
  kvmctl discover start --host web-1 --binary /usr/bin/python3.11 --binary /usr/bin/curl
  kvmctl discover start --host web-1            # visibility only, no binary in complain mode

Sets spec.learning {binaries, until} of the host (with optimistic concurrency). Until then the
binaries are recorded, not blocked (their Block rules are not enforced either, as with
aa-genprof); when it passes, the control plane renders their profiles as before by itself.
Then: kvmctl discover --host web-1 --binary /usr/sbin/nginx [--apply].`,
    )
    .action(async (_opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<DiscoverOptions & GlobalOptions & { duration: string }>();
      if (opts.host === undefined) throw usageError('--host is required');
      checkHost('--host', opts.host);
      checkBinaries(opts.binary);
      if (new Set(opts.binary).size !== opts.binary.length) throw usageError('--binary: a binary is given twice');
      const seconds = durationFlag('--duration', opts.duration);
      if (seconds > MAX_LEARNING_SECONDS) throw usageError('--duration: at most 30d');
      const until = new Date(Date.now() + seconds * 1000).toISOString();
      await withSession(opts, io, (session) =>
        updateLearning(session, opts.host!, () => ({ binaries: opts.binary, until })).then(() => {
          const what = opts.binary.length > 0 ? `${opts.binary.join(', ')} recorded in complain mode (AppArmor) / permissive (SELinux)` : 'visibility only';
          io.stdout(`${objectRef(VIRTUAL_MACHINE, opts.host!)} learning until ${until}: ${what}\n`);
        }),
      );
    });

  discover
    .command('stop')
    .description('End learning mode on a host now (its profiles are enforced again)')
    .addHelpText(
      'after',
      `
Examples:
  kvmctl discover stop --host web-1

Clears spec.learning of the host (with optimistic concurrency).`,
    )
    .action(async (_opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<DiscoverOptions & GlobalOptions>();
      if (opts.host === undefined) throw usageError('--host is required');
      checkHost('--host', opts.host);
      await withSession(opts, io, async (session) => {
        const changed = await updateLearning(session, opts.host!, () => undefined);
        io.stdout(`${objectRef(VIRTUAL_MACHINE, opts.host!)} ${changed ? 'learning stopped' : 'was not learning'}\n`);
      });
    });
}

/**
 * Sets or clears `spec.learning` of a host: read, change, apply with the resourceVersion read, and
 * again if someone else changed the host in between. Returns whether anything changed.
 */
async function updateLearning(session: ServerSession, host: string, learning: () => { binaries: string[]; until: string } | undefined): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const vm = await getObject(session, VIRTUAL_MACHINE, host);
    const spec = { ...((vm as { spec?: Record<string, unknown> }).spec ?? {}) };
    const wanted = learning();
    if (wanted === undefined && spec.learning === undefined) return false;
    if (wanted === undefined) delete spec.learning;
    else spec.learning = wanted;
    const updated = { apiVersion: vm.apiVersion, kind: vm.kind, metadata: vm.metadata, spec };
    try {
      await session.call((c, t) => unary(c.apply.bind(c), { objects: [JSON.stringify(updated)], dryRun: false }, t));
      return true;
    } catch (e) {
      if (e instanceof RpcError && e.grpcCode === GrpcStatus.ABORTED && attempt < 4) continue;
      throw e;
    }
  }
}

/** `--apply`: every saved DiscoveredPolicy applied Active, with the resourceVersion the server gave. */
async function activate(session: ServerSession, saved: readonly string[], io: CliIo): Promise<void> {
  const active = saved.map((text) => {
    const dsp = JSON.parse(text) as { spec: Record<string, unknown> } & Record<string, unknown>;
    const { status: _status, ...rest } = dsp;
    return JSON.stringify({ ...rest, spec: { ...dsp.spec, status: 'Active' } });
  });
  const response = await session.call((c, t) => unary(c.apply.bind(c), { objects: active, dryRun: false }, t));
  for (const r of response.results) {
    const kind = findKind(r.kind);
    io.stdout(`${kind ? objectRef(kind, r.name) : `${r.kind}/${r.name}`} ${applyOutcomeText(r.outcome)}\n`);
  }
}

/**
 * Offline, records of KVMService's own profiles (`kubearmor_usrsbinnginx`) are mapped back to
 * binaries: those given with --binary (exact names, collisions included), and executables the log
 * shows (`exe=`) under the name the renderer would give them.
 */
export function offlineSourceResolver(binaries: readonly string[]): SourceResolver {
  const byProfile = new Map<string, string>();
  for (const [source, name] of sourceProfileNames(binaries)) byProfile.set(name, source);
  const given = byProfile.size;
  return (event) => {
    const exe = event.process?.exe;
    if (exe !== undefined && exe.startsWith('/') && byProfile.size < given + 10_000) {
      const name = `kubearmor_${exe.replace(/[^A-Za-z0-9]/g, '')}`;
      if (!byProfile.has(name)) byProfile.set(name, exe);
    }
    const profile = event.lsm?.profile;
    return profile !== undefined ? byProfile.get(profile) : undefined;
  };
}

/** `--from-log`: the whole engine on log files, no server. */
function discoverOffline(opts: DiscoverOptions, kinds: Kinds, threshold: number, format: 'yaml' | 'json', io: CliIo): Promise<void> | void {
  const hostname = opts.hostname ?? OFFLINE_HOSTNAME;
  checkHost('--hostname', hostname);
  const model = createHostModel(hostname, OFFLINE_LIMITS);
  const now = Date.now();
  const resolver = offlineSourceResolver(opts.binary);
  return (async () => {
    let lines = 0;
    let unparsed = 0;
    for (const file of opts.fromLog) {
      let fd: number | undefined;
      try {
        const source = file === '-' ? (io.stdinLines ? io.stdinLines() : splitLines(await io.readStdin())) : readLinesSync((fd = open(file, io)));
        const read = observeLogLines(model, source, now, { hostName: hostname, sourceResolver: resolver });
        lines += read.lines;
        unparsed += read.unparsed;
      } catch (e) {
        if (e instanceof CliError) throw e;
        throw new CliError(`${file}: ${(e as Error).message}`);
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
    if (opts.hubble !== undefined) {
      let text: string;
      try {
        text = readFileSync(resolve(io.cwd, opts.hubble), 'utf8');
      } catch (e) {
        throw new CliError(`--hubble ${opts.hubble}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
      }
      const flows = observeHubbleText(model, text, now);
      if (flows.unparsed.length > 0) io.stderr(`warning: ${opts.hubble}: ${flows.unparsed.length} lines are not Hubble flows (first: line ${flows.unparsed[0]!.line}: ${flows.unparsed[0]!.reason})\n`);
    }
    if (unparsed > 0) io.stderr(`${unparsed} of ${lines} log lines unparsed (not audit records)\n`);
    const options: DiscoveryOptions = {
      hostPolicies: kinds.hostPolicies && {
        policyPer: opts.single ? 'host' : 'binary',
        ...(opts.binary.length > 0 ? { sources: opts.binary } : {}),
        ...(threshold > 0 ? { directoryThreshold: threshold } : {}),
      },
      hostNetwork: kinds.hostNetwork && {},
      workloads: kinds.workloads && {},
    };
    const result = discoverPolicies(model, options);
    for (const w of result.report.warnings) io.stderr(`warning: ${w}\n`);
    if (result.objects.length === 0) io.stderr(`no policies discovered (${model.stats.events} events in ${lines} log lines)\n`);
    if (result.objects.length > 0 || format === 'json') printObjects(result.objects, format, io);
  })();
}

function open(file: string, io: CliIo): number {
  try {
    return openSync(resolve(io.cwd, file), 'r');
  } catch (e) {
    throw new CliError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
}
