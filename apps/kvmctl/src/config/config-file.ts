/**
 * Where kvmctl finds its configuration (kubeconfig-like contexts) and how it saves changes.
 * Lookup order, first match wins:
 *   1. `--config FILE`
 *   2. `$KVMCTL_CONFIG`
 *   3. `~/.kvmctl/config`
 *   4. `./data/kvmctl.yaml`, written by `kvmservice` (`npm start`) on its first start.
 * 1 and 2 name the file even when it does not exist yet (`config set-context` creates it);
 * 3 and 4 are used only when they exist. Changes go back to the file that was read, or to
 * `~/.kvmctl/config` when none exists.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ClientConfigError, parseClientConfig, stringifyClientConfig, type KvmctlConfig } from '@kvmservice/api';
import { CliError, type CliIo } from '../io.js';

export type ConfigOrigin = '--config' | 'KVMCTL_CONFIG' | '~/.kvmctl/config' | './data/kvmctl.yaml';

export interface LocatedConfig {
  path: string;
  origin: ConfigOrigin;
  exists: boolean;
}

export interface LoadedConfig extends LocatedConfig {
  config: KvmctlConfig;
}

function homeConfig(io: CliIo): string | undefined {
  const home = io.env.HOME;
  return home ? join(home, '.kvmctl', 'config') : undefined;
}

/** The candidates in lookup order (for messages). */
export function configCandidates(explicit: string | undefined, io: CliIo): LocatedConfig[] {
  const at = (path: string, origin: ConfigOrigin): LocatedConfig => {
    const full = resolve(io.cwd, path);
    return { path: full, origin, exists: existsSync(full) };
  };
  if (explicit) return [at(explicit, '--config')];
  if (io.env.KVMCTL_CONFIG) return [at(io.env.KVMCTL_CONFIG, 'KVMCTL_CONFIG')];
  const home = homeConfig(io);
  return [...(home ? [at(home, '~/.kvmctl/config')] : []), at(join('data', 'kvmctl.yaml'), './data/kvmctl.yaml')];
}

/** The config file to read: the first candidate that exists, or the one named explicitly. */
export function locateConfig(explicit: string | undefined, io: CliIo): LocatedConfig | undefined {
  const candidates = configCandidates(explicit, io);
  if (candidates[0]?.origin === '--config' || candidates[0]?.origin === 'KVMCTL_CONFIG') return candidates[0];
  return candidates.find((c) => c.exists);
}

/** Reads the config; a missing explicit file is an error, no file at all an empty config. */
export function loadConfig(explicit: string | undefined, io: CliIo, { mustExist = false } = {}): LoadedConfig | undefined {
  const located = locateConfig(explicit, io);
  if (!located) return undefined;
  if (!located.exists) {
    if (mustExist) throw new CliError(`${located.path} (from ${located.origin}): no such file`);
    return { ...located, config: { currentContext: '', contexts: [] } };
  }
  let text: string;
  try {
    text = readFileSync(located.path, 'utf8');
  } catch (e) {
    throw new CliError(`${located.path}: ${(e as Error).message}`);
  }
  try {
    return { ...located, config: parseClientConfig(text, located.path) };
  } catch (e) {
    if (e instanceof ClientConfigError) throw new CliError(e.message);
    throw e;
  }
}

/** Where changes are written: the file read, else `~/.kvmctl/config`. */
export function configTarget(explicit: string | undefined, io: CliIo): LocatedConfig {
  const located = locateConfig(explicit, io);
  if (located) return located;
  const home = homeConfig(io);
  if (!home) throw new CliError('no config file to write: set HOME, KVMCTL_CONFIG or --config');
  return { path: home, origin: '~/.kvmctl/config', exists: false };
}

/** Writes the config atomically, readable by the owner only (it holds tokens). */
export function saveConfig(path: string, config: KvmctlConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, stringifyClientConfig(config), { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
}
