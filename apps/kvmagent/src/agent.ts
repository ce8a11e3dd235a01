/**
 * The composition root: state dir, host facts, reconciler with its loader adapters, collectors,
 * spool, uploader and connection, wired together; and the orderly stop.
 */
import { readFileSync } from 'node:fs';
import { type AgentConfig } from './config.js';
import { Connection, caProblem } from './connection.js';
import { Collector } from './collect/collector.js';
import { CommandFollower, dmesgSpec, journaldSpec } from './collect/command-follower.js';
import { FileFollower } from './collect/file-follower.js';
import type { LogSource } from './collect/log-source.js';
import { chooseSources } from './collect/source-selection.js';
import { visibilitySet } from './collect/visibility.js';
import { readCredential } from './credential.js';
import { loadApplied, loadDesired, type ArtifactResult, type Desired } from './desired.js';
import { buildHostProfile, hostAddresses, type HostProfile } from './facts.js';
import type { Logger } from './log.js';
import { reconcileAppArmor } from './loaders/apparmor.js';
import { applyAuditRules, auditRulesFor } from './loaders/audit-rules.js';
import { reconcileCilium } from './loaders/cilium.js';
import type { Enforcement } from './loaders/enforcement.js';
import { createLsmRunner, type LsmRunner } from './loaders/lsm-runner.js';
import { reconcileSelinux } from './loaders/selinux.js';
import { Reconciler } from './reconciler.js';
import { EventSpool } from './spool.js';
import { quarantine, StateDir, writeJsonAtomic } from './state-dir.js';
import { Uploader } from './uploader.js';

export class StartupError extends Error {}

export interface RunningAgent {
  stop(): Promise<void>;
  /** SIGHUP: retry joining/connecting now, re-reading the token. */
  retryNow(): void;
  readonly done: Promise<void>;
}

export interface AgentOptions {
  runner?: LsmRunner;
  env?: Record<string, string | undefined>;
}

export async function startAgent(config: AgentConfig, log: Logger, options: AgentOptions = {}): Promise<RunningAgent> {
  const stateDir = new StateDir(config.stateDir);
  stateDir.ensure();
  const unlock = stateDir.lock();
  try {
    const ca = caProblem(config, stateDir);
    if (ca) throw new StartupError(ca);
    const credential = readCredential(config.credentialFile);
    if (credential.kind === 'missing' && !config.token) {
      throw new StartupError(`no credential (${config.credentialFile}) and no bootstrap token: pass --token TOKEN (kvmctl token create) to join`);
    }
    return await assemble(config, log, stateDir, unlock, options);
  } catch (e) {
    unlock();
    throw e;
  }
}

async function assemble(config: AgentConfig, log: Logger, stateDir: StateDir, unlock: () => void, options: AgentOptions): Promise<RunningAgent> {
  const runner = options.runner ?? createLsmRunner();
  const detected = await runner.run({ op: 'detect' });
  const profile: HostProfile = buildHostProfile(config.lsm, config.dryRun, detected);
  log.info('host', {
    os: profile.facts.osPrettyName,
    kernel: profile.facts.kernel,
    lsms: profile.facts.lsms,
    enforcer: profile.enforcer,
    mode: profile.kernelMode ? 'kernel' : 'compile-only',
    reason: profile.compileOnlyReason,
    stateDir: config.stateDir,
  });

  const enforcement: Enforcement = {
    enforcer: profile.enforcer,
    kernelMode: profile.kernelMode,
    compileOnlyReason: profile.compileOnlyReason ?? '',
    stateDir,
    apparmorDir: config.apparmorDir,
    runner,
  };

  const spool = EventSpool.open({ dir: stateDir.spoolDir, maxBytes: config.spoolMaxBytes, log });
  const stored = readCredential(config.credentialFile);
  let hostname = stored.kind === 'ok' ? stored.value.hostname : config.hostname;
  const collector = new Collector({ spool, hostName: hostname, visibility: visibilitySet(config.visibility), log });

  const applyDesired = async (desired: Desired): Promise<ArtifactResult[]> => {
    const byLsm = (lsm: string) => desired.artifacts.filter((a) => a.lsm === lsm);
    const known = new Set(['apparmor', 'selinux', 'cilium']);
    const results: ArtifactResult[] = [
      ...(await reconcileAppArmor(byLsm('apparmor'), enforcement)),
      ...(await reconcileSelinux(byLsm('selinux'), enforcement)),
      ...reconcileCilium(byLsm('cilium'), stateDir),
      ...desired.artifacts
        .filter((a) => !known.has(a.lsm))
        .map((a): ArtifactResult => ({ name: a.name, lsm: a.lsm, sha256: a.sha256, state: 'FAILED', message: `unknown LSM ${JSON.stringify(a.lsm)}: this agent cannot apply it`, policies: a.policies })),
    ];
    const visibility = visibilitySet(desired.visibility, config.visibility);
    collector.setVisibility(visibility);
    const rules = await applyAuditRules(auditRulesFor(visibility), {
      stateFile: stateDir.path('audit-rules.txt'),
      dryRun: config.dryRun,
      dryRunReason: profile.compileOnlyReason ?? 'dry-run',
    });
    if (rules) results.push(rules);
    if (desired.learningBinaries.length > 0 && desired.learningUntil > Date.now()) {
      // The control plane renders learning into the artifacts (complain-mode profiles, permissive
      // domains); the agent applies them like any other.
      log.info('learning mode: the artifacts run these binaries unenforced, recording what they do', { binaries: desired.learningBinaries, until: new Date(desired.learningUntil).toISOString() });
    }
    return results;
  };

  const applied = loadApplied(stateDir.appliedFile);
  if (applied.kind === 'corrupt') log.warn(`${stateDir.appliedFile} is corrupt (${applied.reason}); moved to ${quarantine(stateDir.appliedFile)}`);
  const reconciler = new Reconciler(stateDir, applyDesired, log, applied.kind === 'ok' ? applied.value : undefined);

  // The last desired state is enforced before (and whether or not) the control plane answers.
  const desired = loadDesired(stateDir.desiredFile);
  if (desired.kind === 'ok') {
    log.info('re-applying the last desired state from disk', { revision: desired.value.revision, file: stateDir.desiredFile });
    void reconciler.submit(desired.value, 'disk');
  } else if (desired.kind === 'corrupt') {
    const aside = quarantine(stateDir.desiredFile);
    log.error(`desired state file ${stateDir.desiredFile} is corrupt (${desired.reason}); moved to ${aside}; waiting for the control plane's`);
  }

  // Collection.
  const choice = chooseSources(config.logSources);
  const positions = spool.positions();
  const sources: LogSource[] = choice.sources.map((s) => {
    if (s.type === 'file') return new FileFollower(s.path, positions[`file:${s.path}`], { log });
    if (s.type === 'journald') return new CommandFollower(journaldSpec(), positions.journald, log);
    return new CommandFollower(dmesgSpec(), positions.dmesg, log);
  });
  for (const s of sources) collector.add(s);
  if (sources.length === 0) log.warn('no audit source: events are not collected', { reason: choice.reason });
  else log.info('collecting', { sources: sources.map((s) => s.key), reason: choice.reason });

  const uploader = new Uploader(spool, log);
  const counters = () => ({ eventsDropped: spool.droppedTotal, eventsSpooled: spool.pendingCount, linesUnparsed: collector.counters.linesUnparsed });
  const connection = new Connection({
    config,
    stateDir,
    log,
    reconciler,
    uploader,
    counters,
    heartbeatMs: config.heartbeatSeconds * 1000,
    facts: () => ({ ...profile.facts, ipAddresses: hostAddresses() }),
    onHostname: (name) => {
      hostname = name;
      collector.setHostName(name);
    },
    ...(options.env ? { env: options.env } : {}),
  });

  // Rewritten when something in it changed (and every 5 minutes), not on every tick.
  let lastStatus = '';
  let lastStatusAt = 0;
  const writeStatus = (force = false) => {
    const body = {
      pid: process.pid,
      hostname,
      enforcer: profile.enforcer,
      mode: profile.kernelMode ? 'kernel' : 'compile-only',
      connection: connection.state,
      applied: reconciler.applied ? { revision: reconciler.applied.revision, at: reconciler.applied.at, failed: reconciler.applied.artifacts.filter((a) => a.state === 'FAILED').length } : null,
      sources: sources.map((s) => ({ key: s.key, linesTruncated: s.linesTruncated })),
      lines: { read: collector.counters.linesRead, unparsed: collector.counters.linesUnparsed, ignored: collector.counters.linesIgnored },
      events: {
        parsed: collector.counters.eventsParsed,
        filtered: collector.counters.eventsFiltered,
        spooled: spool.pendingCount,
        acked: uploader.acked,
        dropped: spool.droppedTotal,
        nextSeq: spool.nextSeq,
        ackedUpTo: spool.ackedUpTo,
        spoolBytes: spool.bytes,
        corruptRecords: spool.corruptRecords,
      },
    };
    const text = JSON.stringify(body);
    if (!force && text === lastStatus && Date.now() - lastStatusAt < 300_000) return;
    lastStatus = text;
    lastStatusAt = Date.now();
    try {
      writeJsonAtomic(stateDir.statusFile, { time: new Date().toISOString(), ...body });
    } catch (e) {
      log.warn('could not write the status file', { file: stateDir.statusFile, err: e as Error });
    }
  };
  writeStatus(true);
  const statusTimer = setInterval(writeStatus, config.heartbeatSeconds * 1000);

  const stopConnection = new AbortController();
  const running = connection.run(stopConnection.signal).catch((e: unknown) => {
    log.error('connection loop failed', { err: e as Error });
  });

  let stopping: Promise<void> | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const stop = () =>
    (stopping ??= (async () => {
      log.info('stopping: flushing collected events');
      await collector.stop();
      if (connection.state.connected && !uploader.drained) {
        const flushed = await uploader.waitDrained(config.shutdownTimeoutSeconds * 1000);
        log.info(flushed ? 'every collected event was uploaded' : 'events left in the spool for the next start', { pending: spool.pendingCount });
      }
      stopConnection.abort();
      await running;
      await Promise.race([reconciler.idle(), new Promise((r) => setTimeout(r, 60_000).unref())]);
      clearInterval(statusTimer);
      spool.close();
      writeStatus(true);
      unlock();
      log.info('stopped', { spooled: spool.pendingCount });
      resolveDone();
    })());

  return { stop, retryNow: () => connection.retryNow(), done };
}

/** For `kvmagent status`. */
export function readStatusFile(stateDirPath: string): string {
  return readFileSync(new StateDir(stateDirPath).statusFile, 'utf8');
}
