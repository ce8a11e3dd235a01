/**
 * kvmctl's configuration file, shaped like a kubeconfig: named contexts (server, CA, token) and a
 * current one. kvmservice writes one on first start (`<data-dir>/kvmctl.yaml`), usable as is.
 */
import { parse, stringify } from 'yaml';

export interface KvmctlContext {
  name: string;
  /** `host:port` of the gRPC API. */
  server: string;
  /** PEM of the CA, inline (base64 in the file, as kubeconfig's certificate-authority-data). */
  certificateAuthorityData?: string;
  /** Path of the CA file. */
  certificateAuthority?: string;
  token?: string;
  /** Plain-text gRPC (development only). */
  insecure?: boolean;
  /** Name to check the server certificate against, when it differs from the server's host. */
  tlsServerName?: string;
}

export interface KvmctlConfig {
  currentContext: string;
  contexts: KvmctlContext[];
}

const FIELDS: [keyof KvmctlContext, string][] = [
  ['server', 'server'],
  ['certificateAuthorityData', 'certificate-authority-data'],
  ['certificateAuthority', 'certificate-authority'],
  ['token', 'token'],
  ['insecure', 'insecure'],
  ['tlsServerName', 'tls-server-name'],
];

export class ClientConfigError extends Error {}

/** Parses a kvmctl config; throws ClientConfigError naming the field. */
export function parseClientConfig(text: string, source: string): KvmctlConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new ClientConfigError(`${source}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return { currentContext: '', contexts: [] };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ClientConfigError(`${source}: must be a map`);
  const d = doc as Record<string, unknown>;
  if (d.kind !== undefined && d.kind !== 'Config') throw new ClientConfigError(`${source}: kind: must be Config`);
  const rawContexts = d.contexts ?? [];
  if (!Array.isArray(rawContexts)) throw new ClientConfigError(`${source}: contexts: must be a list`);
  const contexts = rawContexts.map((raw, i): KvmctlContext => {
    if (typeof raw !== 'object' || raw === null) throw new ClientConfigError(`${source}: contexts[${i}]: must be a map`);
    const r = raw as Record<string, unknown>;
    const ctx = (r.context ?? {}) as Record<string, unknown>;
    if (typeof r.name !== 'string' || r.name === '') throw new ClientConfigError(`${source}: contexts[${i}].name: is required`);
    const out: KvmctlContext = { name: r.name, server: '' };
    for (const [key, yamlKey] of FIELDS) {
      const value = ctx[yamlKey];
      if (value === undefined) continue;
      if (key === 'insecure' ? typeof value !== 'boolean' : typeof value !== 'string') {
        throw new ClientConfigError(`${source}: contexts[${i}].context.${yamlKey}: must be a ${key === 'insecure' ? 'boolean' : 'string'}`);
      }
      (out as unknown as Record<string, unknown>)[key] = key === 'certificateAuthorityData' ? Buffer.from(value as string, 'base64').toString('utf8') : value;
    }
    for (const k of Object.keys(ctx)) if (!FIELDS.some(([, y]) => y === k)) throw new ClientConfigError(`${source}: contexts[${i}].context.${k}: unknown field`);
    return out;
  });
  const current = d['current-context'] ?? '';
  if (typeof current !== 'string') throw new ClientConfigError(`${source}: current-context: must be a string`);
  return { currentContext: current, contexts };
}

export function stringifyClientConfig(config: KvmctlConfig): string {
  return stringify({
    apiVersion: 'kvmctl.kvmservice.io/v1',
    kind: 'Config',
    'current-context': config.currentContext,
    contexts: config.contexts.map((c) => ({
      name: c.name,
      context: Object.fromEntries(
        FIELDS.filter(([key]) => c[key] !== undefined).map(([key, yamlKey]) => [
          yamlKey,
          key === 'certificateAuthorityData' ? Buffer.from(c[key] as string, 'utf8').toString('base64') : c[key],
        ]),
      ),
    })),
  });
}
