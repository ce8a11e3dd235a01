/**
 * Starts real kvmservice instances in-process for tests (real gRPC on loopback, real store), with
 * free ports and a temporary data directory, and gives typed clients for them.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgentClient, createControlClient, parseClientConfig, type AgentServiceClient, type ControlServiceClient } from '@kvmservice/api';
import pino from 'pino';
import { startService, type RunningService } from '../bootstrap.js';
import { kvmctlConfigPath } from '../auth/admin-bootstrap.service.js';
import type { ServiceConfig } from '../config/service-config.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface TestService extends RunningService {
  address: string;
  adminToken: string;
  control(token?: string): ControlServiceClient;
  agent(credential?: string): AgentServiceClient;
}

export async function startTestService(overrides: Partial<ServiceConfig> = {}): Promise<TestService> {
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'kvmservice-test-'));
  const config: ServiceConfig = {
    store: `sqlite:${join(dataDir, 'kvmservice.db')}`,
    bindAddress: '127.0.0.1',
    grpcPort: await freePort(),
    httpPort: await freePort(),
    dataDir,
    tlsDir: dataDir,
    tlsSans: [],
    insecure: false,
    storePrefix: '/kvmservice',
    logLevel: 'silent',
    ...overrides,
  };
  const service = await startService(config, pino({ level: process.env.KVMSERVICE_TEST_LOG ?? 'silent' }));
  // Only the replica that created the installation's first admin token writes a kvmctl config.
  const configPath = kvmctlConfigPath(config);
  const adminToken = existsSync(configPath) ? (parseClientConfig(readFileSync(configPath, 'utf8'), configPath).contexts[0]?.token ?? '') : '';
  const address = `127.0.0.1:${config.grpcPort}`;
  const tlsOptions = service.tls ? { caPem: service.tls.caCertPem } : { insecure: true };
  return {
    ...service,
    address,
    adminToken,
    control: (token = adminToken) => createControlClient({ address, ...tlsOptions, token }),
    agent: (credential) => createAgentClient({ address, ...tlsOptions, ...(credential ? { token: credential } : {}) }),
  };
}
