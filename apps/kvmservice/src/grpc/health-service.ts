/** grpc.health.v1.Health: SERVING for the server and its kvmservice.v1 services while it runs. */
import type { Server } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

export const SERVICE_NAMES = ['', 'kvmservice.v1.ControlService', 'kvmservice.v1.AgentService'];

export function addHealthService(server: Pick<Server, 'addService'>): HealthImplementation {
  const health = new HealthImplementation(Object.fromEntries(SERVICE_NAMES.map((s) => [s, 'SERVING' as const])));
  health.addToServer(server as Server);
  return health;
}
