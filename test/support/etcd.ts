/**
 * Test harness for a real etcd (Debian `etcd-server`, `/usr/bin/etcd`) on loopback.
 *
 *   const etcd = await startEtcd({ members: 3 });     // ~1 s; free ports picked for you
 *   const store = await openStore(etcd.storeUrl);      // etcd://127.0.0.1:p1,127.0.0.1:p2,…
 *   const leader = await etcd.leader();
 *   await etcd.kill(leader);                           // SIGKILL, waits for the exit
 *   await etcd.restart(leader);                        // same data dir, --initial-cluster-state existing
 *   await etcd.stop();                                 // SIGKILL all, remove the data dirs
 *
 * Stopping is by PID only. SIGKILL is the default everywhere: a leader stopped with SIGTERM spends
 * ~7 s trying to transfer leadership (`stop({ graceful: true })` therefore stops followers first).
 * Members still running when the test process exits are SIGKILLed by an exit hook.
 * `startEtcd({ tls: true })` generates a throw-away CA, server and client certificate (openssl) and
 * serves clients over https with client-certificate auth; `etcd.tls` has the PEM file paths.
 * `startEtcd({ fromSnapshot: FILE })` restores every member's data dir from a snapshot with Debian's
 * `etcdctl snapshot restore` (etcd-client) before the first start, as etcd's disaster recovery does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './tools.js';

export interface EtcdTlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface StartEtcdOptions {
  /** 1 (default) or 3 members. */
  readonly members?: 1 | 3;
  /** Serve clients over https with client-certificate auth. */
  readonly tls?: boolean;
  /** Extra etcd flags for every member (e.g. `--experimental-watch-progress-notify-interval=1s`). */
  readonly extraArgs?: readonly string[];
  /** Give up starting after this long (default 20 s). */
  readonly startTimeoutMs?: number;
  /**
   * A snapshot file (`etcdctl snapshot save`, or the store's `snapshot()`): each member's data dir is
   * made from it with `etcdctl snapshot restore` (its own name, peer URL, the new cluster's members
   * and token; the snapshot's sha256 is checked) instead of starting empty.
   */
  readonly fromSnapshot?: string;
}

export interface EtcdMemberStatus {
  readonly memberId: string;
  readonly leaderId: string;
  readonly raftIndex: number;
  readonly revision: number;
}

export interface EtcdMember {
  readonly name: string;
  /** `127.0.0.1:<client port>` */
  readonly endpoint: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** PID of the running process, undefined while stopped. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** The last 64 KiB the member wrote to stderr (its log). */
  logs(): string;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** `host:port` of every member, in member order. */
  readonly endpoints: readonly string[];
  /** `etcd://` URL naming every member, for openStore(). */
  readonly storeUrl: string;
  /** Client TLS material when started with `tls: true`. */
  readonly tls: EtcdTlsFiles | undefined;
  /** The current raft leader, as reported by a majority of running members (waits up to 10 s). */
  leader(): Promise<EtcdMember>;
  /** Running members that are not the leader. */
  followers(): Promise<EtcdMember[]>;
  status(member: EtcdMember): Promise<EtcdMemberStatus>;
  /** Sends the signal (default SIGKILL) to the member's PID and waits until it has exited. */
  kill(member: EtcdMember, signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Starts a stopped member again on its data dir (`--initial-cluster-state existing`); waits until healthy. */
  restart(member: EtcdMember): Promise<void>;
  /** Stops every member (SIGKILL, or followers-first SIGTERM when graceful) and deletes the data dirs. */
  stop(options?: { readonly graceful?: boolean }): Promise<void>;
}

const LOG_LIMIT = 64 * 1024;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function makeCertificates(dir: string): EtcdTlsFiles & { serverCert: string; serverKey: string } {
  const openssl = requireTool('openssl', 'openssl');
  const run = (...args: string[]): void => {
    const result = spawnSync(openssl, args, { cwd: dir, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
  };
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=kvm-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
  for (const name of ['server', 'client']) {
    run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=kvm-test-${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  }
  return {
    caFile: join(dir, 'ca.crt'),
    certFile: join(dir, 'client.crt'),
    keyFile: join(dir, 'client.key'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
  };
}

class MemberProcess implements EtcdMember {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log = '';

  constructor(
    readonly name: string,
    private readonly clientPort: number,
    private readonly peerPort: number,
    readonly dataDir: string,
    private readonly scheme: 'http' | 'https',
    private readonly flags: (state: 'new' | 'existing') => string[],
    private readonly tls: (EtcdTlsFiles & { serverCert: string; serverKey: string }) | undefined,
  ) {}

  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }
  get clientUrl(): string {
    return `${this.scheme}://127.0.0.1:${this.clientPort}`;
  }
  get peerUrl(): string {
    return `http://127.0.0.1:${this.peerPort}`;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return this.child !== undefined;
  }
  logs(): string {
    return this.log;
  }

  start(state: 'new' | 'existing'): void {
    if (this.child) throw new Error(`${this.name} is already running`);
    const child = spawn(requireTool('etcd', 'etcd-server'), this.flags(state), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    running.add(child);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.log = (this.log + chunk).slice(-LOG_LIMIT);
    });
    this.exited = new Promise((resolve) => {
      child.on('exit', () => {
        running.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
  }

  async kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await this.exited;
  }

  /** POST to etcd's JSON gateway (or GET /health). */
  call(path: string, body?: string): Promise<unknown> {
    const request = this.scheme === 'https' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.clientUrl}${path}`,
        {
          method: body === undefined ? 'GET' : 'POST',
          timeout: 1000,
          ...(this.tls ? { ca: readFileSync(this.tls.caFile), cert: readFileSync(this.tls.certFile), key: readFileSync(this.tls.keyFile) } : {}),
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            try {
              resolve(JSON.parse(text));
            } catch (error) {
              reject(error);
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${this.name}: ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  async waitHealthy(deadline: number): Promise<void> {
    for (;;) {
      if (!this.child) throw new Error(`etcd member ${this.name} exited during start:\n${this.log.slice(-4000)}`);
      try {
        const health = (await this.call('/health')) as { health?: string };
        if (health.health === 'true') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`etcd member ${this.name} not healthy in time:\n${this.log.slice(-4000)}`);
      await sleep(50);
    }
  }
}

class Cluster implements EtcdCluster {
  constructor(
    readonly members: readonly MemberProcess[],
    private readonly rootDir: string,
    readonly tls: EtcdTlsFiles | undefined,
  ) {}

  get endpoints(): readonly string[] {
    return this.members.map((member) => member.endpoint);
  }

  get storeUrl(): string {
    return `etcd://${this.endpoints.join(',')}`;
  }

  async status(member: EtcdMember): Promise<EtcdMemberStatus> {
    const raw = (await this.process(member).call('/v3/maintenance/status', '{}')) as {
      header: { member_id: string; revision: string };
      leader: string;
      raftIndex: string;
    };
    return { memberId: raw.header.member_id, leaderId: raw.leader, raftIndex: Number(raw.raftIndex), revision: Number(raw.header.revision) };
  }

  async leader(): Promise<EtcdMember> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const statuses = await Promise.all(
        this.members.filter((member) => member.running).map((member) => this.status(member).then((status) => ({ member, status }), () => undefined)),
      );
      const answered = statuses.filter((entry) => entry !== undefined);
      const votes = new Map<string, number>();
      for (const { status } of answered) if (status.leaderId !== '0') votes.set(status.leaderId, (votes.get(status.leaderId) ?? 0) + 1);
      for (const [leaderId, count] of votes) {
        const leader = answered.find(({ status }) => status.memberId === leaderId);
        if (leader && count > this.members.length / 2) return leader.member;
      }
      if (Date.now() > deadline) throw new Error('etcd: no leader agreed by a majority within 10 s');
      await sleep(50);
    }
  }

  async followers(): Promise<EtcdMember[]> {
    const leader = await this.leader();
    return this.members.filter((member) => member.running && member !== leader);
  }

  async kill(member: EtcdMember, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    await this.process(member).kill(signal);
  }

  async restart(member: EtcdMember): Promise<void> {
    const memberProcess = this.process(member);
    memberProcess.start('existing');
    await memberProcess.waitHealthy(Date.now() + 20_000);
  }

  async stop(options: { readonly graceful?: boolean } = {}): Promise<void> {
    if (options.graceful) {
      const live = this.members.filter((member) => member.running);
      const leader = live.length > 1 ? await this.leader().catch(() => undefined) : undefined;
      for (const member of live) if (member !== leader) await member.kill('SIGTERM');
      if (leader) await this.process(leader).kill('SIGTERM');
    }
    await Promise.all(this.members.map((member) => member.kill('SIGKILL')));
    rmSync(this.rootDir, { recursive: true, force: true });
  }

  private process(member: EtcdMember): MemberProcess {
    const found = this.members.find((candidate) => candidate === member);
    if (!found) throw new Error(`${member.name} is not a member of this cluster`);
    return found;
  }
}

/** `etcdctl snapshot restore` into the member's (not yet existing) data dir. */
function restoreSnapshot(snapshot: string, member: EtcdMember, initialCluster: string, token: string): void {
  const etcdctl = requireTool('etcdctl', 'etcd-client');
  const args = [
    'snapshot', 'restore', snapshot,
    `--name=${member.name}`,
    `--data-dir=${member.dataDir}`,
    `--initial-cluster=${initialCluster}`,
    `--initial-cluster-token=${token}`,
    `--initial-advertise-peer-urls=${member.peerUrl}`,
  ];
  const result = spawnSync(etcdctl, args, { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' }, timeout: 60_000 });
  if (result.status !== 0) throw new Error(`etcdctl ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stderr}${result.stdout}`);
}

/** Starts one member or a 3-member cluster of the real etcd on free loopback ports. */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdCluster> {
  requireTool('etcd', 'etcd-server');
  installExitHook();
  const count = options.members ?? 1;
  let lastError: unknown;
  // Ports are probed free and then bound by etcd; another process may take one in between, so retry.
  for (let attempt = 0; attempt < 3; attempt++) {
    const rootDir = mkdtempSync(join(tmpdir(), 'kvm-etcd-'));
    const tls = options.tls ? makeCertificates(rootDir) : undefined;
    const ports = await Promise.all(Array.from({ length: count * 2 }, () => freePort()));
    const names = Array.from({ length: count }, (_, i) => `m${i + 1}`);
    const initialCluster = names.map((name, i) => `${name}=http://127.0.0.1:${ports[count + i]}`).join(',');
    const token = `kvm-${process.pid}-${Date.now()}`;
    const scheme = tls ? 'https' : 'http';
    const members = names.map((name, i) => {
      const clientPort = ports[i]!;
      const peerPort = ports[count + i]!;
      const dataDir = join(rootDir, name);
      const flags = (state: 'new' | 'existing'): string[] => [
        `--name=${name}`,
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${scheme}://127.0.0.1:${clientPort}`,
        `--advertise-client-urls=${scheme}://127.0.0.1:${clientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-state=${state}`,
        `--initial-cluster-token=${token}`,
        '--logger=zap',
        '--log-level=warn',
        ...(tls ? [`--cert-file=${tls.serverCert}`, `--key-file=${tls.serverKey}`, `--trusted-ca-file=${tls.caFile}`, '--client-cert-auth'] : []),
        ...(options.extraArgs ?? []),
      ];
      return new MemberProcess(name, clientPort, peerPort, dataDir, scheme, flags, tls);
    });
    const cluster = new Cluster(members, rootDir, tls ? { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile } : undefined);
    try {
      if (options.fromSnapshot !== undefined) {
        for (const member of members) restoreSnapshot(options.fromSnapshot, member, initialCluster, token);
      }
      for (const member of members) member.start('new');
      const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
      await Promise.all(members.map((member) => member.waitHealthy(deadline)));
      return cluster;
    } catch (error) {
      lastError = error;
      await cluster.stop();
      if (!/address already in use/.test(String(error))) break;
    }
  }
  throw lastError;
}
