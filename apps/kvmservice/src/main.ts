import { ConfigError, resolveServiceConfig } from './config/service-config.js';
import { startService } from './bootstrap.js';

let config;
try {
  config = resolveServiceConfig(process.argv.slice(2), process.env);
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`kvmservice: ${e.message}\n`);
    process.exit(2);
  }
  throw e;
}

try {
  const service = await startService(config);
  const stop = (signal: string) => {
    service.log.info({ signal }, 'shutting down');
    service.close().then(
      () => process.exit(0),
      (e: unknown) => {
        service.log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (e) {
  process.stderr.write(`kvmservice: ${(e as Error).message}\n`);
  process.exit(1);
}
