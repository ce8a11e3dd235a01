/**
 * Starts one kvmservice: opens the store, prepares TLS, runs the Nest application (HTTP) with the
 * gRPC server attached. Returns a handle to stop it (tests start several in one process).
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { openStore, type Store } from '@kvmservice/store';
import pino, { type Logger } from 'pino';
import { AppModule } from './app.module.js';
import { ensureTlsMaterial, type TlsMaterial } from './auth/certificates.js';
import type { ServiceConfig } from './config/service-config.js';
import { grpcOptions } from './grpc/grpc-options.js';

export interface RunningService {
  config: ServiceConfig;
  tls: TlsMaterial | undefined;
  app: INestApplication;
  store: Store;
  log: Logger;
  close(): Promise<void>;
}

/** Nest's own messages, in the service's JSON log. */
function nestLogger(log: Logger): LoggerService {
  return {
    log: (message: unknown, context?: string) => log.debug({ context }, String(message)),
    error: (message: unknown, trace?: string, context?: string) => log.error({ context, trace }, String(message)),
    warn: (message: unknown, context?: string) => log.warn({ context }, String(message)),
    debug: (message: unknown, context?: string) => log.debug({ context }, String(message)),
    verbose: (message: unknown, context?: string) => log.trace({ context }, String(message)),
  };
}

export async function startService(config: ServiceConfig, log: Logger = pino({ level: config.logLevel }, pino.destination(2))): Promise<RunningService> {
  if (config.insecure) {
    log.warn('INSECURE MODE: gRPC without TLS. Anyone who can reach the port can read tokens and events. Use only for local development.');
  }
  const tls = config.insecure ? undefined : await ensureTlsMaterial(config.tlsDir, config.tlsSans);
  const store = await openStore(config.store, {
    etcd: config.etcdCa ? { tls: { caFile: config.etcdCa, ...(config.etcdCert ? { certFile: config.etcdCert, keyFile: config.etcdKey } : {}) } } : {},
  });
  let app: INestApplication | undefined;
  try {
    app = await NestFactory.create(AppModule.forRoot({ config, store, tls, log }), { logger: nestLogger(log), abortOnError: false });
    app.enableShutdownHooks([]);
    const host = config.bindAddress.includes(':') ? `[${config.bindAddress}]` : config.bindAddress;
    app.connectMicroservice(grpcOptions(`${host}:${config.grpcPort}`, tls), { inheritAppConfig: true });
    await app.startAllMicroservices();
    await app.listen(config.httpPort, config.bindAddress);
  } catch (e) {
    // Release whatever started (gRPC port, informers) before the store.
    await app?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw e;
  }
  const started = app;
  log.info({ grpcPort: config.grpcPort, httpPort: config.httpPort, store: config.store.replace(/\/\/[^@]*@/, '//'), tls: !config.insecure }, 'kvmservice started');
  let closing: Promise<void> | undefined;
  return {
    config,
    tls,
    app: started,
    store,
    log,
    close: () =>
      (closing ??= (async () => {
        await started.close();
        await store.close();
        log.info('kvmservice stopped');
      })()),
  };
}
