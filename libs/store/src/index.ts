export type {
  CommitOperation,
  CommitOptions,
  CommitResult,
  DeleteOptions,
  DeleteResult,
  KeyValue,
  Lease,
  LeaseOptions,
  ListOptions,
  ListResult,
  SnapshotOptions,
  SnapshotResult,
  Store,
  StoreValue,
  UpdateOptions,
  Watch,
  WatchEvent,
  WatchOptions,
  WatchStats,
  WriteOptions,
} from './store.js';
export {
  AlreadyExistsError,
  CompactedError,
  ConflictError,
  InvalidArgumentError,
  isStoreError,
  LeaseNotFoundError,
  NotFoundError,
  StoreError,
  StoreUnavailableError,
  type StoreErrorCode,
} from './errors.js';
export { openStore, type EtcdTlsOptions, type OpenStoreOptions } from './open-store.js';
export { DEFAULT_STORE_URL, parseStoreUrl, type StoreLocation } from './store-url.js';
export { collectionPrefix, MAX_VALUE_BYTES, resourceKey, type ResourceKeyParts } from './keys.js';
export { formatResourceVersion, parseResourceVersion, type ParsedResourceVersion } from './resource-version.js';
export { Election, type CampaignOptions, type ElectionOptions, type Leadership } from './election.js';
export { MAX_LIST_LIMIT } from './list-paging.js';
export { MAX_COMMIT_OPERATIONS, MAX_COMMIT_VALUE_BYTES } from './commit.js';
export { Informer, type InformerChange, type InformerHandler, type InformerOptions } from './informer.js';
export type { SqliteStoreOptions } from './sqlite/sqlite-store.js';
export type { EtcdStoreOptions } from './etcd/etcd-store.js';
