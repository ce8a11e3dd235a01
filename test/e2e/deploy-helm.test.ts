/**
 * The Helm chart, rendered as `helm template` would (Go text/template + sprig + Helm's functions,
 * test/support/helm), for the defaults and the variants users run: every object validates against
 * the Kubernetes schemas with unknown fields refused; the kvmservice settings it renders are
 * accepted by kvmservice's own config reader; the certificates it generates work with kvmservice
 * and with a real etcd configured by the StatefulSet's own environment.
 */
import 'reflect-metadata';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, parseStoreUrl } from '@kvmservice/store';
import { resolveServiceConfig } from '../../apps/kvmservice/src/config/service-config.js';
import { ensureTlsMaterial } from '../../apps/kvmservice/src/auth/certificates.js';
import { freePort } from '../../apps/kvmservice/src/testing/service-harness.js';
import { helmRenderer, renderChart, type RenderedObject } from '../support/helm.js';
import { kubernetesObjectProblems, knownKinds } from '../support/k8s-schemas.js';
import { requireTool } from '../support/tools.js';

type Obj = Record<string, unknown>;
type Container = { name: string; command?: string[]; args?: string[]; env?: { name: string; value?: string }[]; volumeMounts?: { name: string; mountPath: string }[] };

function rendered(values: Obj = {}): { manifests: RenderedObject[]; notes: string; values: Obj } {
  const r = renderChart(values);
  if (!r.ok) throw new Error(r.error);
  return r;
}

function find(manifests: RenderedObject[], kind: string, nameSuffix = ''): RenderedObject['object'] & Obj {
  const hit = manifests.find((m) => m.object.kind === kind && m.object.metadata.name.endsWith(nameSuffix));
  if (!hit) throw new Error(`no ${kind} *${nameSuffix} rendered`);
  return hit.object as RenderedObject['object'] & Obj;
}

const podSpec = (o: Obj) => (o.spec as { template: { spec: Obj } }).template.spec;
const containers = (o: Obj) => podSpec(o).containers as Container[];
const configYaml = (manifests: RenderedObject[]) => (find(manifests, 'ConfigMap').data as Record<string, string>)['config.yaml']!;

/** kvmservice's own reader, given the rendered container args and config file. */
function kvmserviceConfig(manifests: RenderedObject[]) {
  const args = containers(find(manifests, 'Deployment'))[0]!.args!;
  return resolveServiceConfig(args, {}, (path) => {
    expect(path).toBe('/etc/kvmservice/config.yaml');
    return configYaml(manifests);
  });
}

function expectValid(manifests: RenderedObject[]): void {
  const problems = manifests.flatMap((m) => kubernetesObjectProblems(m.object).map((p) => `${m.object.kind}/${m.object.metadata.name} (${m.template}): ${p}`));
  expect(problems).toEqual([]);
  for (const { object } of manifests) {
    expect(knownKinds).toContain(`${object.apiVersion}/${object.kind}`);
    expect(object.metadata.name.length).toBeLessThanOrEqual(63);
    expect(object.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(object.metadata.namespace).toBe('security');
    expect(object.metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'kvmservice',
      'app.kubernetes.io/instance': 'kvm',
      'app.kubernetes.io/managed-by': 'Helm',
      'helm.sh/chart': 'kvmservice-0.1.0',
    });
  }
}

const EXTERNAL: Obj = {
  etcd: { mode: 'external', external: { endpoints: ['etcd-a.db.internal:2379', 'etcd-b.db.internal:2379', '10.1.2.3:2379'], tls: { secret: 'etcd-client' } } },
};
const LOAD_BALANCER: Obj = {
  advertiseAddress: 'kvm.example.internal',
  service: { agents: { type: 'LoadBalancer', loadBalancerIP: '203.0.113.10', loadBalancerSourceRanges: ['198.51.100.0/24'], externalTrafficPolicy: 'Local' } },
};
const HA: Obj = { replicaCount: 3, podAntiAffinity: 'hard', etcd: { bundled: { replicas: 5 } } };
const EVERYTHING: Obj = {
  ...HA,
  serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
  networkPolicy: { enabled: true, agentsFrom: [{ ipBlock: { cidr: '10.20.0.0/16' } }] },
  service: { agents: { type: 'NodePort', nodePorts: { grpc: 31770, http: 30990 } } },
  extraArgs: ['--log-level', 'debug'],
  extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=384' }],
};

describe('Helm chart', () => {
  beforeAll(() => {
    helmRenderer();
  }, 300_000);

  it('renders valid objects for the defaults: kvmservice on a bundled 3-member etcd with TLS', () => {
    const { manifests, notes } = rendered();
    expectValid(manifests);
    expect(manifests.map((m) => m.object.kind).sort()).toEqual(
      ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Secret', 'Secret', 'Secret', 'Service', 'Service', 'Service', 'Service', 'ServiceAccount', 'StatefulSet'].sort(),
    );
    // The admin token every replica accepts: a well-formed kvmadm token, mounted and configured.
    const adminSecret = manifests.find((m) => m.object.kind === 'Secret' && String((m.object.metadata as Obj).name).endsWith('-admin-token'))!.object as Obj;
    expect(Buffer.from(String((adminSecret.data as Obj).token), 'base64').toString()).toMatch(/^kvmadm\.[a-z0-9]{16}\.[A-Za-z0-9]{48}$/);
    expect(String((find(manifests, 'ConfigMap').data as Obj)['config.yaml'])).toContain('adminTokenFile: /etc/kvmservice/admin/token');
    const deployment = find(manifests, 'Deployment');
    const [server] = containers(deployment) as (Container & Obj)[];
    expect(server).toMatchObject({
      livenessProbe: { httpGet: { path: '/healthz', port: 'http' } },
      readinessProbe: { httpGet: { path: '/readyz', port: 'http' } },
      securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    });
    expect(podSpec(deployment).securityContext).toMatchObject({ runAsNonRoot: true });
    const agents = find(manifests, 'Service', '-agents');
    expect(agents.spec).toMatchObject({ type: 'ClusterIP', ports: [{ name: 'grpc', port: 32770 }, { name: 'http', port: 9090 }] });

    const config = kvmserviceConfig(manifests);
    expect(config).toMatchObject({ grpcPort: 32770, httpPort: 9090, etcdCa: '/etc/kvmservice/etcd/ca.crt', dataDir: '/var/lib/kvmservice', tlsDir: '/var/lib/kvmservice/tls' });
    expect(config.tlsSans).toContain('kvm-kvmservice-agents.security.svc');
    const store = parseStoreUrl(config.store);
    expect(store).toEqual({
      kind: 'etcd',
      endpoints: [0, 1, 2].map((i) => `kvm-kvmservice-etcd-${i}.kvm-kvmservice-etcd-headless.security.svc.cluster.local:2379`),
    });

    const etcd = find(manifests, 'StatefulSet');
    expect(etcd.spec).toMatchObject({ replicas: 3, podManagementPolicy: 'Parallel', volumeClaimTemplates: [{ spec: { resources: { requests: { storage: '8Gi' } } } }] });
    const env = Object.fromEntries((containers(etcd)[0]!.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ ETCD_CLIENT_CERT_AUTH: 'true', ETCD_PEER_CLIENT_CERT_AUTH: 'true', ETCD_LISTEN_PEER_URLS: 'https://0.0.0.0:2380' });
    expect(env.ETCD_INITIAL_CLUSTER!.split(',')).toHaveLength(3);
    expect(find(manifests, 'Secret', '-ca').metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });

    expect(notes).toContain('kvmctl token create --hostname vm1');
    expect(notes).toContain('kvmctl vm getscript vm1');
    expect(notes).toContain('service.agents.type is ClusterIP: hosts outside the cluster cannot reach it');
  });

  it('has a validator that finds unknown fields and wrong types in rendered objects', () => {
    const { manifests } = rendered();
    const deployment = structuredClone(find(manifests, 'Deployment'));
    const [server] = containers(deployment) as (Container & Obj)[];
    server!.readinessProbe = { ...(server!.readinessProbe as Obj), httpGet: { path: '/readyz', port: 'http', sheme: 'HTTP' } };
    server!.imagePullPolicy = 3;
    expect(kubernetesObjectProblems(deployment)).toEqual([
      '/spec/template/spec/containers/0/imagePullPolicy: type {"type":"string"}',
      '/spec/template/spec/containers/0/imagePullPolicy: enum {"allowedValues":["Always","IfNotPresent","Never"]}',
      '/spec/template/spec/containers/0/readinessProbe/httpGet/sheme: unknown field',
    ]);
  });

  it('renders the external-etcd variant: no bundled etcd, the given endpoints and client certificate', () => {
    const { manifests } = rendered(EXTERNAL);
    expectValid(manifests);
    expect(manifests.some((m) => m.object.kind === 'StatefulSet' || m.object.metadata.name.includes('etcd'))).toBe(false);
    const config = kvmserviceConfig(manifests);
    expect(parseStoreUrl(config.store)).toEqual({ kind: 'etcd', endpoints: ['etcd-a.db.internal:2379', 'etcd-b.db.internal:2379', '10.1.2.3:2379'] });
    expect(config.etcdKey).toBe('/etc/kvmservice/etcd/client.key');
    const volume = (podSpec(find(manifests, 'Deployment')).volumes as { name: string; secret?: Obj }[]).find((v) => v.name === 'etcd-tls');
    expect(volume?.secret).toEqual({
      secretName: 'etcd-client',
      items: [
        { key: 'ca.crt', path: 'ca.crt' },
        { key: 'tls.crt', path: 'client.crt' },
        { key: 'tls.key', path: 'client.key' },
      ],
    });

    // Without TLS to etcd: no certificate settings at all.
    const plain = rendered({ etcd: { mode: 'external', external: { endpoints: ['etcd:2379'], tls: { enabled: false } } } });
    expectValid(plain.manifests);
    expect(kvmserviceConfig(plain.manifests).etcdCa).toBeUndefined();
  });

  it('renders the LoadBalancer variant: agents dial the advertised address, which the certificate covers', () => {
    const { manifests, notes } = rendered(LOAD_BALANCER);
    expectValid(manifests);
    expect(find(manifests, 'Service', '-agents').spec).toMatchObject({
      type: 'LoadBalancer',
      loadBalancerIP: '203.0.113.10',
      loadBalancerSourceRanges: ['198.51.100.0/24'],
      externalTrafficPolicy: 'Local',
    });
    const config = kvmserviceConfig(manifests);
    expect(config.advertiseAddress).toBe('kvm.example.internal:32770');
    expect(config.tlsSans).toEqual(expect.arrayContaining(['kvm.example.internal', '203.0.113.10']));
    expect(notes).toContain('status.loadBalancer.ingress[0].ip');
    expect(notes).toContain(':9090/install.sh" | sudo bash');
    expect(notes).not.toContain('advertiseAddress is not set');
  });

  it('renders the HA variant: replicas spread over nodes with a disruption budget, 5 etcd members', () => {
    const { manifests } = rendered(HA);
    expectValid(manifests);
    const deployment = find(manifests, 'Deployment');
    expect(deployment.spec).toMatchObject({ replicas: 3, strategy: { rollingUpdate: { maxUnavailable: 0 } } });
    expect(podSpec(deployment).affinity).toMatchObject({ podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname' }] } });
    const budgets = manifests.filter((m) => m.object.kind === 'PodDisruptionBudget').map((m) => m.object as Obj);
    expect(budgets.map((b) => [(b.metadata as Obj).name, b.spec])).toEqual(
      expect.arrayContaining([
        ['kvm-kvmservice', expect.objectContaining({ maxUnavailable: 1 })],
        ['kvm-kvmservice-etcd', expect.objectContaining({ maxUnavailable: 1 })],
      ]),
    );
    expect(parseStoreUrl(kvmserviceConfig(manifests).store)).toMatchObject({ endpoints: expect.arrayContaining([expect.stringContaining('etcd-4.')]) });
    expect(find(manifests, 'StatefulSet').spec).toMatchObject({ replicas: 5 });
  });

  it('renders every optional object (ServiceMonitor, NetworkPolicies, NodePort, extra args) valid', () => {
    const { manifests } = rendered(EVERYTHING);
    expectValid(manifests);
    expect(manifests.map((m) => m.object.kind)).toEqual(expect.arrayContaining(['ServiceMonitor', 'NetworkPolicy']));
    expect(find(manifests, 'ServiceMonitor').spec).toMatchObject({ endpoints: [{ port: 'http', path: '/metrics' }] });
    expect(find(manifests, 'Service', '-agents').spec).toMatchObject({ type: 'NodePort', ports: [{ nodePort: 31770 }, { nodePort: 30990 }] });
    expect(kvmserviceConfig(manifests).logLevel).toBe('debug');
  });

  it('fails with a clear required error when a needed value is missing', () => {
    const noEndpoints = renderChart({ etcd: { mode: 'external' } });
    expect(noEndpoints).toEqual({ ok: false, error: 'Error: execution error at (kvmservice/templates/configmap.yaml:1:4): etcd.external.endpoints is required when etcd.mode is external (host:port of every member)' });
    const noSecret = renderChart({ etcd: { mode: 'external', external: { endpoints: ['etcd:2379'] } } });
    expect(noSecret).toEqual({ ok: false, error: expect.stringContaining('etcd.external.tls.secret is required when etcd.external.tls.enabled') });
    const clusterIpNodePort = renderChart({ service: { agents: { nodePorts: { grpc: 31000 } } } });
    expect(clusterIpNodePort).toEqual({ ok: false, error: expect.stringContaining('service.agents.nodePorts.grpc is set but service.agents.type is ClusterIP') });
  });

  it('refuses values of the wrong type, unknown keys and out-of-range values through values.schema.json', () => {
    expect(renderChart({ replicaCount: 'three' })).toEqual({ ok: false, error: expect.stringContaining('/replicaCount: must be integer') });
    expect(renderChart({ service: { agents: { type: 'Ingress' } } })).toEqual({ ok: false, error: expect.stringContaining('/service/agents/type: must be equal to one of the allowed values') });
    expect(renderChart({ replicas: 3 })).toEqual({ ok: false, error: expect.stringContaining('must NOT have additional properties (replicas)') });
    expect(renderChart({ etcd: { bundled: { replicas: 2 } } })).toEqual({ ok: false, error: expect.stringContaining('/etcd/bundled/replicas') });
    expect(renderChart({ etcd: { external: { endpoints: ['https://etcd:2379'] } } })).toEqual({ ok: false, error: expect.stringContaining('/etcd/external/endpoints/0: must match pattern') });
  });

  it("creates a CA that kvmservice signs its server certificate with, through the init container's own script", async () => {
    const { manifests } = rendered();
    const secret = find(manifests, 'Secret', '-ca').data as Record<string, string>;
    const src = mkdtempSync(join(tmpdir(), 'chart-ca-src-'));
    const dst = join(mkdtempSync(join(tmpdir(), 'chart-ca-dst-')), 'tls');
    for (const [name, b64] of Object.entries(secret)) writeFileSync(join(src, name), Buffer.from(b64, 'base64'));
    const init = (podSpec(find(manifests, 'Deployment')).initContainers as Container[])[0]!;
    const [node, flag, script] = init.command!;
    expect([node, flag]).toEqual(['node', '-e']);
    const run = spawnSync(process.execPath, ['-e', script!, src, dst], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(readFileSync(join(dst, 'ca.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const tls = await ensureTlsMaterial(dst, ['kvm-kvmservice-agents.security.svc']);
    const ca = new X509Certificate(tls.caCertPem);
    const server = new X509Certificate(tls.serverCertPem);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName).toContain('DNS:kvm-kvmservice-agents.security.svc');

    // An operator's CA with an RSA key is refused with one clear line, before kvmservice starts.
    const rsaSrc = mkdtempSync(join(tmpdir(), 'chart-ca-rsa-'));
    const etcdSecret = find(manifests, 'Secret', '-etcd-tls').data as Record<string, string>;
    writeFileSync(join(rsaSrc, 'ca.crt'), Buffer.from(etcdSecret['ca.crt']!, 'base64'));
    writeFileSync(join(rsaSrc, 'ca.key'), Buffer.from(etcdSecret['peer.key']!, 'base64'));
    const refused = spawnSync(process.execPath, ['-e', script!, rsaSrc, join(rsaSrc, 'out')], { encoding: 'utf8' });
    expect(refused.status).toBe(1);
    expect(refused.stderr.trim()).toBe('tls: ca.key must be an ECDSA P-256 key (kvmservice signs with ECDSA P-256), got rsa');
  });

  describe("bundled etcd's certificates and environment with a real etcd", () => {
    const procs: ChildProcess[] = [];
    afterAll(() => {
      for (const p of procs) p.kill('SIGKILL');
    });

    it('forms a 3-member cluster over peer TLS and serves kvmservice with its client certificate', async () => {
      const etcdBin = requireTool('etcd', 'etcd-server');
      const { manifests } = rendered();
      const secret = find(manifests, 'Secret', '-etcd-tls').data as Record<string, string>;
      const dir = mkdtempSync(join(tmpdir(), 'chart-etcd-'));
      const file = (name: string) => {
        writeFileSync(join(dir, name), Buffer.from(secret[name]!, 'base64'), { mode: 0o600 });
        return join(dir, name);
      };
      const files = { ca: file('ca.crt'), peerCrt: file('peer.crt'), peerKey: file('peer.key'), clientCrt: file('client.crt'), clientKey: file('client.key') };
      const rendredEnv = Object.fromEntries((containers(find(manifests, 'StatefulSet'))[0]!.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
      const ports = await Promise.all([0, 1, 2].map(async () => ({ client: await freePort(), peer: await freePort(), metrics: await freePort() })));
      const cluster = ports.map((p, i) => `m${i}=https://127.0.0.1:${p.peer}`).join(',');
      const logs: string[] = ['', '', ''];
      ports.forEach((p, i) => {
        // The StatefulSet's environment, with loopback addresses and local files for the cluster DNS names and mounts.
        const env: Record<string, string> = {
          ...rendredEnv,
          ETCD_NAME: `m${i}`,
          ETCD_DATA_DIR: join(dir, `m${i}`),
          ETCD_LISTEN_CLIENT_URLS: `https://127.0.0.1:${p.client}`,
          ETCD_ADVERTISE_CLIENT_URLS: `https://127.0.0.1:${p.client}`,
          ETCD_LISTEN_PEER_URLS: `https://127.0.0.1:${p.peer}`,
          ETCD_INITIAL_ADVERTISE_PEER_URLS: `https://127.0.0.1:${p.peer}`,
          ETCD_INITIAL_CLUSTER: cluster,
          ETCD_LISTEN_METRICS_URLS: `http://127.0.0.1:${p.metrics}`,
          ETCD_TRUSTED_CA_FILE: files.ca,
          ETCD_CERT_FILE: files.peerCrt,
          ETCD_KEY_FILE: files.peerKey,
          ETCD_PEER_TRUSTED_CA_FILE: files.ca,
          ETCD_PEER_CERT_FILE: files.peerCrt,
          ETCD_PEER_KEY_FILE: files.peerKey,
        };
        delete env.POD_NAME;
        for (const [k, v] of Object.entries(env)) expect(v, k).not.toContain('$(');
        mkdirSync(env.ETCD_DATA_DIR!, { recursive: true, mode: 0o700 });
        const proc = spawn(etcdBin, [], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
        proc.stderr!.on('data', (d: Buffer) => (logs[i] = (logs[i] + d.toString()).slice(-20000)));
        procs.push(proc);
      });

      const store = await openStore(`etcd://${ports.map((p) => `127.0.0.1:${p.client}`).join(',')}`, {
        etcd: { tls: { caFile: files.ca, certFile: files.clientCrt, keyFile: files.clientKey } },
      });
      try {
        let revision = 0;
        for (let i = 0; i < 100 && revision === 0; i++) {
          revision = await store.put('/kvmservice/chart-check', 'ok').then((r) => r.modRevision, () => 0);
          if (revision === 0) await new Promise((r) => setTimeout(r, 200));
        }
        expect(revision, logs.join('\n')).toBeGreaterThan(0);
        expect((await store.get('/kvmservice/chart-check'))?.value.toString()).toBe('ok');
      } finally {
        await store.close();
      }
      // The probes' endpoint answers on the plain metrics port; etcd accepted every variable the chart sets.
      const health = await fetch(`http://127.0.0.1:${ports[0]!.metrics}/health?exclude=NOSPACE&serializable=false`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ health: 'true' });
      for (const log of logs) expect(log).not.toMatch(/unrecognized environment variable/i);
    }, 60_000);
  });
});
