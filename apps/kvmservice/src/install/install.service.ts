/**
 * Renders the agent installer for a host: the control plane's address and CA, the bundle's URL and
 * sha256, and a join token. Served over HTTP (`GET /install.sh?token=…`, InstallController) and
 * over the admin API (ControlService.GetInstallScript, `kvmctl vm getscript`).
 */
import { hostname as osHostname } from 'node:os';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { ApiError } from '../api-error.js';
import { AuthService } from '../auth/auth-service.js';
import type { TlsMaterial } from '../auth/certificates.js';
import type { ServiceConfig } from '../config/service-config.js';
import { CONFIG, LOGGER, TLS } from '../tokens.js';
import { AgentBundleFile, agentBundlePath, installerTemplatePath, readInstallerTemplate, type AgentBundle } from './agent-bundle.js';
import { renderInstallerScript } from './render-installer.js';

const BOOTSTRAP_TOKEN = /^([a-z0-9]{6})\.[a-z0-9]{16}$/;
/** `host` or `host:port`, as a Host header or an advertised address may carry it. */
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:(\d{1,5}))?$/;

export const BUNDLE_PATH = '/agent/kvmagent.tgz';

/** Where the request came from, for the addresses written into the script. */
export interface RequestOrigin {
  /** The Host header (`host[:port]`). */
  host?: string;
  protocol: 'http' | 'https';
}

export interface HostInstallRequest {
  hostname: string;
  /** Put a new bootstrap token for the host into the script. */
  createToken: boolean;
  tokenTtlSeconds?: number;
}

@Injectable()
export class InstallService {
  private readonly bundleFile = new AgentBundleFile(agentBundlePath());
  private readonly templatePath = installerTemplatePath();

  constructor(
    @Inject(CONFIG) private readonly config: ServiceConfig,
    @Inject(TLS) private readonly tls: TlsMaterial | undefined,
    private readonly auth: AuthService,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  bundle(): Promise<AgentBundle> {
    return this.bundleFile.current();
  }

  /** For `GET /install.sh`: the token (optional) must be a live bootstrap token. */
  async scriptForToken(token: string | undefined, origin: RequestOrigin): Promise<string> {
    const host = origin.host !== undefined ? HOST_PORT.exec(origin.host) : null;
    if (origin.host !== undefined && !host) throw new ApiError('InvalidArgument', 'Host header: not host[:port]');
    let boundHost: string | undefined;
    if (token !== undefined && token !== '') {
      const m = BOOTSTRAP_TOKEN.exec(token);
      // Checked by id here (used, expired, unknown) so a bad token fails before anything is
      // installed; the secret itself is checked when the agent joins.
      const found = m ? (await this.auth.listBootstrapTokens()).find((t) => t.id === m[1]) : undefined;
      if (!found || found.usedBy !== '' || found.expiresAt <= Date.now()) throw new ApiError('Unauthenticated', 'invalid, expired or already used bootstrap token');
      boundHost = found.hostname || undefined;
    }
    const requestHost = host?.[1];
    return this.render({
      token: token || undefined,
      hostname: boundHost,
      serverHost: requestHost,
      bundleBase: origin.host !== undefined ? `${origin.protocol}://${origin.host}` : undefined,
    });
  }

  /** For ControlService.GetInstallScript (admin): optionally with a new token bound to the host. */
  async scriptForHost(request: HostInstallRequest): Promise<string> {
    if (request.hostname === '') throw new ApiError('InvalidArgument', 'hostname: is required');
    let token: string | undefined;
    if (request.createToken) {
      const created = await this.auth.createBootstrapToken({
        hostname: request.hostname,
        ttlSeconds: request.tokenTtlSeconds,
        description: 'created for the installer script',
      });
      token = created.secret;
    }
    return this.render({ token, hostname: request.hostname });
  }

  private async render(input: { token?: string; hostname?: string; serverHost?: string; bundleBase?: string }): Promise<string> {
    if (!this.tls) {
      throw new ApiError('FailedPrecondition', 'kvmservice runs with --insecure: the installer is served only with TLS, so that agents never send tokens in clear');
    }
    const advertised = this.config.advertiseAddress ? HOST_PORT.exec(this.config.advertiseAddress) : null;
    if (this.config.advertiseAddress && !advertised) throw new ApiError('FailedPrecondition', `advertise address ${JSON.stringify(this.config.advertiseAddress)} is not host[:port]`);
    const server = advertised
      ? `${advertised[1]}:${advertised[3] ?? this.config.grpcPort}`
      : `${input.serverHost ?? osHostname()}:${this.config.grpcPort}`;
    const bundleBase = input.bundleBase ?? `http://${advertised?.[1] ?? osHostname()}:${this.config.httpPort}`;
    const bundle = await this.bundle();
    const script = renderInstallerScript(readInstallerTemplate(this.templatePath), {
      servers: [server],
      bundleUrl: `${bundleBase}${BUNDLE_PATH}`,
      bundleSha256: bundle.sha256,
      caPem: this.tls.caCertPem,
      token: input.token,
      hostname: input.hostname,
    });
    this.log.info({ server, hostname: input.hostname, withToken: input.token !== undefined }, 'rendered the agent installer');
    return script;
  }
}
