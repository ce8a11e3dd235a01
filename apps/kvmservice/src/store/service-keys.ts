import type { ResourceKind } from '@kvmservice/resources';

/** Every store key the control plane uses, under one prefix (`--store-prefix`, default /kvmservice). */
export class ServiceKeys {
  constructor(readonly prefix: string) {}

  /** `/<prefix>/<group>/<plural>/` */
  collection(kind: ResourceKind): string {
    return `${this.prefix}/${kind.apiVersion.split('/')[0]}/${kind.plural}/`;
  }

  object(kind: ResourceKind, name: string): string {
    return this.collection(kind) + name;
  }

  /** Host status, written by the replica that serves the host's agent (kept apart from the host object). */
  hostStatus(host = ''): string {
    return `${this.prefix}/status/hosts/${host}`;
  }

  /** A host's presence: exists while the replica serving its agent holds its lease. */
  presence(host = ''): string {
    return `${this.prefix}/presence/${host}`;
  }

  adminToken(id = ''): string {
    return `${this.prefix}/auth/admintokens/${id}`;
  }

  bootstrapToken(id = ''): string {
    return `${this.prefix}/auth/bootstraptokens/${id}`;
  }

  credential(id = ''): string {
    return `${this.prefix}/auth/credentials/${id}`;
  }

  hostCredential(host = ''): string {
    return `${this.prefix}/auth/hostcredentials/${host}`;
  }

  /** Event batches of a host, keyed by the first sequence number (zero-padded, so keys sort by it). */
  events(host = ''): string {
    return host === '' ? `${this.prefix}/events/` : `${this.prefix}/events/${host}/`;
  }

  eventBatch(host: string, firstSeq: number): string {
    return `${this.events(host)}${String(firstSeq).padStart(20, '0')}`;
  }

  /** The highest event sequence number stored for a host (the de-duplication mark). */
  eventCursor(host = ''): string {
    return `${this.prefix}/eventcursors/${host}`;
  }

  /** A host's discovery model (libs/discovery serializeModel text), written by the discovery leader. */
  discoveryModel(host = ''): string {
    return `${this.prefix}/discovery/models/${host}`;
  }

  /** How far a host's discovery model has consumed its events (written in one commit with the model). */
  discoveryCursor(host = ''): string {
    return `${this.prefix}/discovery/cursors/${host}`;
  }

  election(name: string): string {
    return `${this.prefix}/elections/${name}`;
  }
}
