/**
 * On the first start of an installation (no admin token in the store) creates an admin token and
 * writes `<data-dir>/kvmctl.yaml`, a kvmctl config that works as is (as k3s writes its kubeconfig).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { stringifyClientConfig } from '@kvmservice/api';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/service-config.js';
import { CONFIG, LOGGER, TLS } from '../tokens.js';
import { AuthService } from './auth-service.js';
import type { TlsMaterial } from './certificates.js';

export function kvmctlConfigPath(config: ServiceConfig): string {
  return join(config.dataDir, 'kvmctl.yaml');
}

@Injectable()
export class AdminBootstrapService implements OnApplicationBootstrap {
  constructor(
    private readonly auth: AuthService,
    @Inject(CONFIG) private readonly config: ServiceConfig,
    @Inject(TLS) private readonly tls: TlsMaterial | undefined,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.adminTokenFile) {
      let tokens: string[];
      try {
        // One token per line; blank lines and # comments are ignored.
        tokens = readFileSync(this.config.adminTokenFile, 'utf8')
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '' && !l.startsWith('#'));
      } catch (e) {
        throw new Error(`--admin-token-file ${this.config.adminTokenFile}: ${(e as Error).message}`);
      }
      await this.auth.setAdminTokens(tokens, `from ${this.config.adminTokenFile}`).catch((e: Error) => {
        throw new Error(`--admin-token-file ${this.config.adminTokenFile}: ${e.message}`);
      });
      return;
    }
    if (await this.auth.hasAdminTokens()) return;
    const token = await this.auth.createAdminToken('created on first start');
    const path = kvmctlConfigPath(this.config);
    mkdirSync(this.config.dataDir, { recursive: true, mode: 0o700 });
    const host = this.config.bindAddress === '0.0.0.0' || this.config.bindAddress === '::' ? '127.0.0.1' : this.config.bindAddress;
    const server = `${host.includes(':') ? `[${host}]` : host}:${this.config.grpcPort}`;
    writeFileSync(
      path,
      stringifyClientConfig({
        currentContext: 'default',
        contexts: [{ name: 'default', server, token, ...(this.tls ? { certificateAuthorityData: this.tls.caCertPem } : { insecure: true }) }],
      }),
      { mode: 0o600 },
    );
    chmodSync(path, 0o600);
    this.log.info({ path }, 'first start: wrote an admin kvmctl config (KVMCTL_CONFIG=<path> kvmctl …)');
  }
}
