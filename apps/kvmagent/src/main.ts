/**
 * `kvmagent`: the per-host agent of KVMService. Exit codes: 0 stopped cleanly, 2 bad settings or
 * state dir in use (a restart would not help), 1 unexpected failure.
 */
import { readStatusFile, startAgent, StartupError } from './agent.js';
import { ConfigError, resolveAgentConfig, usage } from './config.js';
import { AGENT_VERSION } from './facts.js';
import { createLogger } from './log.js';
import { StateDirError } from './state-dir.js';

function fail(message: string, code: number): never {
  process.stderr.write(`kvmagent: ${message}\n`);
  process.exit(code);
}

let parsed;
try {
  parsed = resolveAgentConfig(process.argv.slice(2), process.env);
} catch (e) {
  if (e instanceof ConfigError) fail(`${e.message}\n${'Run kvmagent --help for the flags.'}`, 2);
  throw e;
}

const { command, config } = parsed;
if (command === 'help') {
  process.stdout.write(usage());
  process.exit(0);
}
if (command === 'version') {
  process.stdout.write(`${AGENT_VERSION}\n`);
  process.exit(0);
}
if (command === 'status') {
  try {
    process.stdout.write(readStatusFile(config.stateDir));
    process.exit(0);
  } catch (e) {
    fail(`no status in ${config.stateDir}: ${(e as Error).message}`, 1);
  }
}

const log = createLogger(config.logLevel);
process.on('uncaughtException', (e) => {
  log.error('unexpected error; exiting', { err: e, stack: e.stack });
  process.exit(1);
});

let agent;
try {
  agent = await startAgent(config, log, { env: process.env });
} catch (e) {
  if (e instanceof StartupError || e instanceof StateDirError || e instanceof ConfigError) fail(e.message, 2);
  log.error('could not start', { err: e as Error });
  process.exit(1);
}

let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  signals++;
  if (signals > 1) {
    log.warn('second signal: exiting without waiting for the upload', { signal });
    process.exit(1);
  }
  log.info('signal received', { signal });
  void agent.stop().then(() => process.exit(0));
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
process.on('SIGHUP', () => {
  log.info('SIGHUP: retrying now (and re-reading the token)');
  agent.retryNow();
});
