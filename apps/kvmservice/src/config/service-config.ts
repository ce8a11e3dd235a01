/**
 * kvmservice settings from flags, environment (`KVMSERVICE_<FLAG>`) and a YAML config file, in that
 * order of precedence.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { parse } from 'yaml';

export interface ServiceConfig {
  /** `sqlite:PATH` or `etcd://h1:2379,h2:2379`. */
  store: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  bindAddress: string;
  grpcPort: number;
  httpPort: number;
  dataDir: string;
  /** CA and server certificate; default: `dataDir`. */
  tlsDir: string;
  /** Extra names the server certificate is valid for. */
  tlsSans: string[];
  /** Plain-text gRPC and no tokens: local development only. */
  insecure: boolean;
  /** Prefix of every store key, so that several installations can share an etcd cluster. */
  storePrefix: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Address agents use to reach this service (for installer scripts); default: this host. */
  advertiseAddress?: string;
  /** The admin tokens to accept, one per line (`kvmadm.<id>.<secret>`), e.g. from a Kubernetes Secret; any other is removed. */
  adminTokenFile?: string;
}

const DEFAULTS = {
  store: 'sqlite:./data/kvmservice.db',
  bindAddress: '0.0.0.0',
  grpcPort: 32770,
  httpPort: 9090,
  dataDir: './data',
  storePrefix: '/kvmservice',
  logLevel: 'info',
} as const;

const FLAGS: { flag: string; key: keyof ServiceConfig; description: string; kind: 'string' | 'number' | 'boolean' | 'list' }[] = [
  { flag: 'store', key: 'store', description: `store URL (default ${DEFAULTS.store})`, kind: 'string' },
  { flag: 'etcd-ca', key: 'etcdCa', description: 'CA certificate for etcd client TLS', kind: 'string' },
  { flag: 'etcd-cert', key: 'etcdCert', description: 'client certificate for etcd', kind: 'string' },
  { flag: 'etcd-key', key: 'etcdKey', description: 'client key for etcd', kind: 'string' },
  { flag: 'bind-address', key: 'bindAddress', description: `address to listen on (default ${DEFAULTS.bindAddress})`, kind: 'string' },
  { flag: 'grpc-port', key: 'grpcPort', description: `gRPC port for agents and kvmctl (default ${DEFAULTS.grpcPort})`, kind: 'number' },
  { flag: 'http-port', key: 'httpPort', description: `HTTP port for /metrics, /healthz, /readyz, /install.sh (default ${DEFAULTS.httpPort})`, kind: 'number' },
  { flag: 'data-dir', key: 'dataDir', description: `data directory (default ${DEFAULTS.dataDir})`, kind: 'string' },
  { flag: 'tls-dir', key: 'tlsDir', description: 'directory of ca.crt/ca.key and the server certificate (default: data dir)', kind: 'string' },
  { flag: 'tls-san', key: 'tlsSans', description: 'extra DNS name or IP for the server certificate (repeatable)', kind: 'list' },
  { flag: 'insecure', key: 'insecure', description: 'plain-text gRPC without authentication (development only)', kind: 'boolean' },
  { flag: 'store-prefix', key: 'storePrefix', description: `prefix of every store key (default ${DEFAULTS.storePrefix})`, kind: 'string' },
  { flag: 'log-level', key: 'logLevel', description: `log level (default ${DEFAULTS.logLevel})`, kind: 'string' },
  { flag: 'advertise-address', key: 'advertiseAddress', description: 'host:port agents use to reach this service', kind: 'string' },
  { flag: 'admin-token-file', key: 'adminTokenFile', description: 'file of the admin tokens to accept, one per line (kvmadm.<id>.<secret>); all others are removed; no kvmctl.yaml is written', kind: 'string' },
];

export class ConfigError extends Error {}

function coerce(kind: string, value: unknown, name: string): unknown {
  if (value === undefined) return undefined;
  switch (kind) {
    case 'number': {
      const n = typeof value === 'number' ? value : Number(value);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name}: must be a port number, got ${JSON.stringify(value)}`);
      return n;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0' || value === '') return false;
      throw new ConfigError(`${name}: must be true or false, got ${JSON.stringify(value)}`);
    case 'list':
      return Array.isArray(value) ? value.map(String) : String(value).split(',').map((s) => s.trim()).filter(Boolean);
    default:
      if (typeof value !== 'string') throw new ConfigError(`${name}: must be a string`);
      return value;
  }
}

/** Resolves the configuration; throws ConfigError with one clear line on bad input. */
export function resolveServiceConfig(argv: readonly string[], env: Record<string, string | undefined>, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): ServiceConfig {
  const program = new Command('kvmservice')
    .description('KVMService control plane')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined })
    .allowExcessArguments(false)
    .option('--config <file>', 'YAML file with the same settings (camelCase or flag names)');
  for (const f of FLAGS) {
    const opt = f.kind === 'boolean' ? new Option(`--${f.flag}`, f.description) : new Option(`--${f.flag} <value>`, f.description);
    if (f.kind === 'list') opt.argParser((v: string, prev: string[] = []) => [...prev, v]);
    program.addOption(opt);
  }
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    throw new ConfigError((e as CommanderError).message.replace(/^error: /, ''));
  }
  const flags = program.opts<Record<string, unknown>>();
  let file: Record<string, unknown> = {};
  const configPath = (flags.config as string | undefined) ?? env.KVMSERVICE_CONFIG;
  if (configPath) {
    try {
      const parsed: unknown = parse(readFile(configPath));
      if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new ConfigError(`${configPath}: must be a YAML map`);
      file = (parsed ?? {}) as Record<string, unknown>;
    } catch (e) {
      throw e instanceof ConfigError ? e : new ConfigError(`${configPath}: ${(e as Error).message.split('\n')[0]}`);
    }
    const known = new Set(FLAGS.flatMap((f) => [f.key, f.flag]));
    for (const k of Object.keys(file)) if (!known.has(k)) throw new ConfigError(`${configPath}: unknown setting ${k}`);
  }
  const config: Record<string, unknown> = { ...DEFAULTS };
  for (const f of FLAGS) {
    const envName = `KVMSERVICE_${f.flag.toUpperCase().replace(/-/g, '_')}`;
    const fromFile = file[f.key] ?? file[f.flag];
    const value = flags[f.key] ?? env[envName] ?? fromFile;
    const source = flags[f.key] !== undefined ? `--${f.flag}` : env[envName] !== undefined ? envName : `${configPath}: ${f.key}`;
    const coerced = coerce(f.kind, value, source);
    if (coerced !== undefined) config[f.key] = coerced;
  }
  config.tlsSans ??= [];
  config.insecure ??= false;
  config.dataDir = resolve(config.dataDir as string);
  config.tlsDir = resolve((config.tlsDir as string | undefined) ?? (config.dataDir as string));
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(config.logLevel as string)) throw new ConfigError(`log level must be one of ${levels.join(', ')}`);
  if (!/^\/[^/]/.test(config.storePrefix as string) || (config.storePrefix as string).endsWith('/')) {
    throw new ConfigError('store prefix must start with / and not end with /');
  }
  return config as unknown as ServiceConfig;
}
