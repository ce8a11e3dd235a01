/**
 * The API is usable outside TypeScript: a Python client (Debian python3-grpcio, stubs generated
 * from proto/ with python3-grpc-tools) lists hosts with an admin token over TLS.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unary } from '@kvmservice/api';
import { startTestService, type TestService } from '../../apps/kvmservice/src/testing/service-harness.js';
import { repoRoot } from '../support/conformance.js';
import { debianPython, requireTool } from '../support/tools.js';

const CLIENT = `
import json, os, sys
import grpc
sys.path.insert(0, os.environ["STUBS"])
from kvmservice.v1 import control_pb2, control_pb2_grpc

credentials = grpc.ssl_channel_credentials(root_certificates=open(os.environ["CA"], "rb").read())
channel = grpc.secure_channel(os.environ["ADDRESS"], credentials, options=[("grpc.ssl_target_name_override", "localhost")])
stub = control_pb2_grpc.ControlServiceStub(channel)
reply = stub.List(control_pb2.ListRequest(kind="kvm"), metadata=[("authorization", "Bearer " + os.environ["TOKEN"])], timeout=20)
print(json.dumps(sorted(json.loads(item)["metadata"]["name"] for item in reply.items)))
`;

describe('Python gRPC client', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('lists hosts with an admin token over TLS', async () => {
    requireTool(debianPython, 'python3');
    const control = svc.control();
    await unary(control.apply.bind(control), {
      objects: ['py-host-1', 'py-host-2'].map((name) => JSON.stringify({ apiVersion: 'security.kubearmor.com/v1', kind: 'KubeArmorVirtualMachine', metadata: { name, labels: { lang: 'python' } } })),
      dryRun: false,
    });
    const dir = mkdtempSync(join(tmpdir(), 'kvm-python-'));
    const gen = spawnSync(debianPython, ['-m', 'grpc_tools.protoc', '-I', join(repoRoot, 'proto'), `--python_out=${dir}`, `--grpc_python_out=${dir}`, 'kvmservice/v1/control.proto', 'kvmservice/v1/event.proto'], { encoding: 'utf8' });
    expect(gen.status, `grpc_tools.protoc (python3-grpc-tools): ${gen.stderr}`).toBe(0);
    const caPath = join(dir, 'ca.crt');
    writeFileSync(caPath, svc.tls!.caCertPem);
    writeFileSync(join(dir, 'client.py'), CLIENT);
    // Asynchronously: the server runs in this process and must keep answering.
    const run = await promisify(execFile)(debianPython, [join(dir, 'client.py')], {
      encoding: 'utf8',
      env: { ...process.env, STUBS: dir, CA: caPath, ADDRESS: svc.address, TOKEN: svc.adminToken },
      timeout: 60_000,
    });
    expect(JSON.parse(run.stdout)).toEqual(['py-host-1', 'py-host-2']);
  });
});
