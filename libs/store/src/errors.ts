/**
 * Typed store errors. Callers branch on the class (or on `code`, which survives serialisation):
 * Conflict → re-read and retry the read-modify-write; AlreadyExists/NotFound → 409/404;
 * Compacted → relist and watch again from the list revision; Unavailable → 503 (for a write the
 * outcome is unknown: it may or may not have been applied).
 */
export type StoreErrorCode =
  | 'Conflict'
  | 'AlreadyExists'
  | 'NotFound'
  | 'Compacted'
  | 'Unavailable'
  | 'InvalidArgument'
  | 'LeaseNotFound';

export abstract class StoreError extends Error {
  abstract readonly code: StoreErrorCode;
}

/** An `expectRevision` did not match the key's current mod revision. */
export class ConflictError extends StoreError {
  readonly code = 'Conflict' as const;
  constructor(
    readonly key: string,
    readonly expectedRevision: number,
    readonly actualRevision: number,
  ) {
    super(`${key}: expected revision ${expectedRevision}, current revision is ${actualRevision}`);
    this.name = 'ConflictError';
  }
}

export class AlreadyExistsError extends StoreError {
  readonly code = 'AlreadyExists' as const;
  constructor(
    readonly key: string,
    readonly actualRevision: number,
  ) {
    super(`${key}: already exists (revision ${actualRevision})`);
    this.name = 'AlreadyExistsError';
  }
}

export class NotFoundError extends StoreError {
  readonly code = 'NotFound' as const;
  constructor(readonly key: string) {
    super(`${key}: not found`);
    this.name = 'NotFoundError';
  }
}

/**
 * The requested revision is older than the compaction point: its history is gone.
 * Raised by a watch (from `watch()`'s iterator) and by a list continued with an expired token.
 * The remedy is always the same: list again and watch from the new list revision + 1.
 */
export class CompactedError extends StoreError {
  readonly code = 'Compacted' as const;
  constructor(
    readonly requestedRevision: number,
    /** The compaction revision if the backend reports it (SQLite and etcd watches do). */
    readonly compactRevision: number | undefined,
  ) {
    super(
      `revision ${requestedRevision} has been compacted` +
        (compactRevision === undefined ? '' : ` (compacted up to ${compactRevision})`) +
        '; list again and watch from the new revision',
    );
    this.name = 'CompactedError';
  }
}

/** The backend could not be reached in time (after retries), or the store is closed. */
export class StoreUnavailableError extends StoreError {
  readonly code = 'Unavailable' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** A bad key, prefix, limit, continue token, revision or URL. Nothing was changed. */
export class InvalidArgumentError extends StoreError {
  readonly code = 'InvalidArgument' as const;
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgumentError';
  }
}

/** A write named a lease that has expired or was revoked (or a keep-alive found it gone). */
export class LeaseNotFoundError extends StoreError {
  readonly code = 'LeaseNotFound' as const;
  constructor(readonly leaseId: string) {
    super(`lease ${leaseId} not found (expired or revoked)`);
    this.name = 'LeaseNotFoundError';
  }
}

export function isStoreError(error: unknown): error is StoreError {
  return error instanceof StoreError;
}
