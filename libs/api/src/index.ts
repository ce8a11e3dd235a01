/**
 * @kvmservice/api — the wire contract (proto/kvmservice/v1) as TypeScript: generated message and
 * service types, the package definition, and typed clients.
 */
export * from './proto.js';
export * from './clients.js';
export * from './client-config.js';
export type { AgentServiceClient, AgentServiceHandlers } from './generated/kvmservice/v1/AgentService.js';
export type { ControlServiceClient, ControlServiceHandlers } from './generated/kvmservice/v1/ControlService.js';
export type * from './messages.js';
