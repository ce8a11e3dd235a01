/** Injection tokens for values that are not classes. */
export const CONFIG = Symbol('ServiceConfig');
export const STORE = Symbol('Store');
export const KEYS = Symbol('ServiceKeys');
export const TLS = Symbol('TlsMaterial');
export const LOGGER = Symbol('Logger');
export const REPLICA_ID = Symbol('ReplicaId');
