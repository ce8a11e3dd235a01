/**
 * kvmagent settings from flags, environment (`KVMAGENT_<FLAG>`) and a YAML file
 * (`/etc/kvmagent/config.yaml` or `--config`), in that order of precedence. Bad input gives one
 * ConfigError line naming the flag, variable or file and key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { LOG_LEVELS, type LogLevel } from './log.js';

export const DEFAULT_CONFIG_FILE = '/etc/kvmagent/config.yaml';
export const DEFAULT_STATE_DIR = '/var/lib/kvmagent';
export const DEFAULT_APPARMOR_DIR = '/etc/apparmor.d/kvmservice.d';

export type LsmChoice = 'auto' | 'apparmor' | 'selinux' | 'none';
export type VisibilityKind = 'process' | 'file' | 'network' | 'capabilities';
export const VISIBILITY_KINDS: readonly VisibilityKind[] = ['process', 'file', 'network', 'capabilities'];

export interface AgentConfig {
  /** `host:port` of kvmservice replicas, tried in turn. */
  servers: string[];
  /** Bootstrap token `<id>.<secret>`, used when there is no usable credential. */
  token?: string;
  /** Where the host credential is kept (default `<stateDir>/credential.json`). */
  credentialFile: string;
  stateDir: string;
  hostname: string;
  labels: Record<string, string>;
  lsm: LsmChoice;
  dryRun: boolean;
  /** CA certificate file; default: the CA the control plane gave at join (`<stateDir>/ca.crt`). */
  ca?: string;
  insecure: boolean;
  /** Audit sources: absolute paths, `journald`, `dmesg`; empty = chosen automatically; `none` = no collection. */
  logSources: string[];
  /** Visibility this host collects in addition to what the control plane asks for. */
  visibility: VisibilityKind[];
  spoolMaxBytes: number;
  heartbeatSeconds: number;
  maxBackoffSeconds: number;
  shutdownTimeoutSeconds: number;
  apparmorDir: string;
  logLevel: LogLevel;
  /** The file the settings came from, if any (re-read for a new token while waiting to join). */
  configFile?: string;
}

export class ConfigError extends Error {}

type Kind = 'string' | 'list' | 'boolean' | 'bytes' | 'seconds' | 'labels';

interface Setting {
  flag: string;
  key: keyof AgentConfig;
  kind: Kind;
  value: string;
  description: string;
}

const SETTINGS: Setting[] = [
  { flag: 'server', key: 'servers', kind: 'list', value: 'HOST:PORT', description: 'kvmservice gRPC address; repeatable or a comma list, tried in turn' },
  { flag: 'token', key: 'token', kind: 'string', value: 'TOKEN', description: 'bootstrap token <id>.<secret> to join with (kvmctl token create)' },
  { flag: 'credential', key: 'credentialFile', kind: 'string', value: 'FILE', description: 'host credential file (default <state-dir>/credential.json)' },
  { flag: 'state-dir', key: 'stateDir', kind: 'string', value: 'DIR', description: `state directory (default ${DEFAULT_STATE_DIR})` },
  { flag: 'hostname', key: 'hostname', kind: 'string', value: 'NAME', description: 'host name to join as (default: this machine\'s, lower case)' },
  { flag: 'labels', key: 'labels', kind: 'labels', value: 'K=V,...', description: 'labels asked for at join; the token\'s labels win' },
  { flag: 'lsm', key: 'lsm', kind: 'string', value: 'LSM', description: 'auto | apparmor | selinux | none (default auto)' },
  { flag: 'dry-run', key: 'dryRun', kind: 'boolean', value: '', description: 'write and compile artifacts into the state dir; never touch the kernel' },
  { flag: 'ca', key: 'ca', kind: 'string', value: 'FILE', description: 'CA certificate of kvmservice (default: the one received at join)' },
  { flag: 'insecure', key: 'insecure', kind: 'boolean', value: '', description: 'plain-text gRPC (development only)' },
  { flag: 'log-source', key: 'logSources', kind: 'list', value: 'SRC', description: 'audit source: PATH | journald | dmesg | none; repeatable (default: chosen automatically)' },
  { flag: 'visibility', key: 'visibility', kind: 'list', value: 'KINDS', description: 'process,file,network,capabilities collected in addition to the control plane\'s' },
  { flag: 'spool-max-bytes', key: 'spoolMaxBytes', kind: 'bytes', value: 'SIZE', description: 'bound of the on-disk event spool, e.g. 64Mi (default 64Mi)' },
  { flag: 'heartbeat-interval', key: 'heartbeatSeconds', kind: 'seconds', value: 'SECONDS', description: 'heartbeat period (default 15)' },
  { flag: 'max-backoff', key: 'maxBackoffSeconds', kind: 'seconds', value: 'SECONDS', description: 'longest wait between reconnects (default 30)' },
  { flag: 'shutdown-timeout', key: 'shutdownTimeoutSeconds', kind: 'seconds', value: 'SECONDS', description: 'on SIGTERM, how long to wait for the upload of the spool (default 5)' },
  { flag: 'apparmor-dir', key: 'apparmorDir', kind: 'string', value: 'DIR', description: `AppArmor profile directory (default ${DEFAULT_APPARMOR_DIR})` },
  { flag: 'log-level', key: 'logLevel', kind: 'string', value: 'LEVEL', description: 'error | warn | info | debug (default info)' },
];

export function usage(): string {
  const lines = SETTINGS.map((s) => `  --${s.flag}${s.value ? ` ${s.value}` : ''}`.padEnd(34) + s.description);
  return [
    'Usage: kvmagent [run] [flags]      run the agent',
    '       kvmagent status [--state-dir DIR]   print the agent\'s last recorded status',
    '       kvmagent --version',
    '',
    'Flags (also KVMAGENT_<FLAG> variables and keys of the config file):',
    '  --config FILE                   YAML settings (default /etc/kvmagent/config.yaml when it exists)',
    ...lines,
    '',
  ].join('\n');
}

const MULTIPLIERS: Record<string, number> = { '': 1, k: 1e3, ki: 1024, m: 1e6, mi: 1024 ** 2, g: 1e9, gi: 1024 ** 3 };

function coerce(kind: Kind, value: unknown, source: string): unknown {
  switch (kind) {
    case 'string':
      if (typeof value !== 'string') throw new ConfigError(`${source}: must be a string`);
      return value;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0' || value === '') return false;
      throw new ConfigError(`${source}: must be true or false, got ${JSON.stringify(value)}`);
    case 'list': {
      const items = Array.isArray(value) ? value : [value];
      if (!items.every((v) => typeof v === 'string')) throw new ConfigError(`${source}: must be a string or a list of strings`);
      return items.flatMap((v: string) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
    }
    case 'labels': {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        const entries = Object.entries(value as Record<string, unknown>);
        for (const [k, v] of entries) if (typeof v !== 'string') throw new ConfigError(`${source}.${k}: must be a string`);
        return Object.fromEntries(entries);
      }
      const items = coerce('list', value, source) as string[];
      const labels: Record<string, string> = {};
      for (const item of items) {
        const eq = item.indexOf('=');
        if (eq <= 0) throw new ConfigError(`${source}: ${JSON.stringify(item)} is not key=value`);
        labels[item.slice(0, eq)] = item.slice(eq + 1);
      }
      return labels;
    }
    case 'bytes': {
      const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?)?b?$/i.exec(String(value).trim());
      const n = m ? Math.floor(Number(m[1]) * MULTIPLIERS[(m[2] ?? '').toLowerCase()]!) : NaN;
      if (!Number.isFinite(n) || n < 64 * 1024) throw new ConfigError(`${source}: must be a size of at least 64Ki (e.g. 64Mi), got ${JSON.stringify(value)}`);
      return n;
    }
    case 'seconds': {
      const n = typeof value === 'number' ? value : Number(value);
      if (!Number.isFinite(n) || n <= 0 || n > 86_400) throw new ConfigError(`${source}: must be a number of seconds (0 < n <= 86400), got ${JSON.stringify(value)}`);
      return n;
    }
  }
}

function readConfigFile(path: string, readFile: (p: string) => string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parse(readFile(path));
  } catch (e) {
    throw new ConfigError(`${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`${path}: must be a YAML map of settings`);
  const file = parsed as Record<string, unknown>;
  const known = new Set(SETTINGS.flatMap((s) => [s.flag, s.key]));
  for (const k of Object.keys(file)) if (!known.has(k)) throw new ConfigError(`${path}: unknown setting ${JSON.stringify(k)}`);
  return file;
}

export interface ParsedCommand {
  command: 'run' | 'status' | 'version' | 'help';
  config: AgentConfig;
}

/** Host names the control plane accepts: lower-case RFC 1123. */
export function defaultHostname(raw = osHostname()): string {
  return raw.toLowerCase();
}

/**
 * Parses argv (without node and the script); `env` is the process environment; `readFile` and
 * `fileExists` reach the config file (injectable for tests).
 */
export function resolveAgentConfig(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
  fileExists: (path: string) => boolean = existsSync,
): ParsedCommand {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    config: { type: 'string' },
    help: { type: 'boolean' },
    version: { type: 'boolean' },
  };
  for (const s of SETTINGS) options[s.flag] = s.kind === 'boolean' ? { type: 'boolean' } : { type: 'string', multiple: s.kind === 'list' || s.kind === 'labels' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new ConfigError((e as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, ''));
  }
  const flags = parsed.values as Record<string, unknown>;
  const positionals = parsed.positionals;
  if (positionals.length > 1) throw new ConfigError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  const word = positionals[0] ?? 'run';
  if (!['run', 'status', 'version', 'help'].includes(word)) throw new ConfigError(`unknown command ${JSON.stringify(word)} (run, status, version)`);
  const command = flags.help ? 'help' : flags.version ? 'version' : (word as ParsedCommand['command']);

  const explicitFile = (flags.config as string | undefined) ?? env.KVMAGENT_CONFIG;
  const configFile = explicitFile ?? (fileExists(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  const file = configFile ? readConfigFile(configFile, readFile) : {};

  const values: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const envName = `KVMAGENT_${s.flag.toUpperCase().replace(/-/g, '_')}`;
    const fromFlag = flags[s.flag];
    const fromFile = file[s.flag] ?? file[s.key];
    let value: unknown;
    let source: string;
    if (fromFlag !== undefined) {
      value = fromFlag;
      source = `--${s.flag}`;
    } else if (env[envName] !== undefined) {
      value = env[envName];
      source = envName;
    } else if (fromFile !== undefined && fromFile !== null) {
      value = fromFile;
      source = `${configFile}: ${s.flag}`;
    } else continue;
    values[s.key] = coerce(s.kind, value, source);
  }

  const stateDir = resolve((values.stateDir as string | undefined) ?? DEFAULT_STATE_DIR);
  const config: AgentConfig = {
    servers: (values.servers as string[] | undefined) ?? [],
    credentialFile: resolve((values.credentialFile as string | undefined) ?? `${stateDir}/credential.json`),
    stateDir,
    hostname: (values.hostname as string | undefined) ?? defaultHostname(),
    labels: (values.labels as Record<string, string> | undefined) ?? {},
    lsm: ((values.lsm as string | undefined) ?? 'auto') as LsmChoice,
    dryRun: (values.dryRun as boolean | undefined) ?? false,
    insecure: (values.insecure as boolean | undefined) ?? false,
    logSources: (values.logSources as string[] | undefined) ?? [],
    visibility: ((values.visibility as string[] | undefined) ?? []) as VisibilityKind[],
    spoolMaxBytes: (values.spoolMaxBytes as number | undefined) ?? 64 * 1024 * 1024,
    heartbeatSeconds: (values.heartbeatSeconds as number | undefined) ?? 15,
    maxBackoffSeconds: (values.maxBackoffSeconds as number | undefined) ?? 30,
    shutdownTimeoutSeconds: (values.shutdownTimeoutSeconds as number | undefined) ?? 5,
    apparmorDir: resolve((values.apparmorDir as string | undefined) ?? DEFAULT_APPARMOR_DIR),
    logLevel: ((values.logLevel as string | undefined) ?? 'info') as LogLevel,
    ...(values.token !== undefined ? { token: values.token as string } : {}),
    ...(values.ca !== undefined ? { ca: resolve(values.ca as string) } : {}),
    ...(configFile ? { configFile } : {}),
  };
  if (command === 'run') validate(config);
  return { command, config };
}

function validate(c: AgentConfig): void {
  if (c.servers.length === 0) throw new ConfigError('--server is required (HOST:PORT of kvmservice, repeatable)');
  for (const s of c.servers) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(s) || Number(s.slice(s.lastIndexOf(':') + 1)) > 65535) {
      throw new ConfigError(`--server: ${JSON.stringify(s)} is not HOST:PORT`);
    }
  }
  if (!['auto', 'apparmor', 'selinux', 'none'].includes(c.lsm)) throw new ConfigError(`--lsm: must be auto, apparmor, selinux or none, got ${JSON.stringify(c.lsm)}`);
  for (const v of c.visibility) {
    if (!VISIBILITY_KINDS.includes(v)) throw new ConfigError(`--visibility: ${JSON.stringify(v)} is not one of ${VISIBILITY_KINDS.join(', ')}`);
  }
  for (const src of c.logSources) {
    if (!['journald', 'dmesg', 'none'].includes(src) && !src.startsWith('/')) {
      throw new ConfigError(`--log-source: ${JSON.stringify(src)} must be an absolute path, journald, dmesg or none`);
    }
  }
  if (c.logSources.includes('none') && c.logSources.length > 1) throw new ConfigError('--log-source: none excludes other sources');
  if (!LOG_LEVELS.includes(c.logLevel)) throw new ConfigError(`--log-level: must be one of ${LOG_LEVELS.join(', ')}`);
  if (c.insecure && c.ca) throw new ConfigError('--ca and --insecure exclude each other');
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(c.hostname) || c.hostname.length > 253) {
    throw new ConfigError(`--hostname: ${JSON.stringify(c.hostname)} is not a lower-case RFC 1123 host name`);
  }
  if (c.token !== undefined && c.token.trim() === '') throw new ConfigError('--token: is empty');
}

/** The bootstrap token as the config file or environment says now (a new token may have been put there). */
export function currentToken(config: AgentConfig, env: Record<string, string | undefined>, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): string | undefined {
  if (env.KVMAGENT_TOKEN) return env.KVMAGENT_TOKEN;
  if (config.configFile) {
    try {
      const file = readConfigFile(config.configFile, readFile);
      if (typeof file.token === 'string' && file.token !== '') return file.token;
    } catch {
      // The agent keeps what it started with; the file is reported when the agent restarts.
    }
  }
  return config.token;
}
