/**
 * The documented limits. Every engine enforces the same numbers, above the engine, so a test on the memory engine
 * catches what would overflow in production.
 */
export const LIMITS = Object.freeze({
  /** Longest key, in UTF-8 bytes. Keys are 1 to 1,024 bytes, valid Unicode, without U+0000. */
  maxKeyBytes: 1024,
  /** Largest value, in bytes (after the codec). Empty values are allowed. */
  maxValueBytes: 1024 * 1024,
  /** Namespace names: 1 to 64 characters of `A-Z a-z 0-9 . _ -`, starting with a letter or digit. */
  maxNamespaceLength: 64,
  /** Most writes (put, delete, append, upsert, cas, push, ack, drop…) in one transaction. */
  maxTransactionWrites: 10_000,
  /** Most bytes of keys and values written by one transaction. */
  maxTransactionBytes: 16 * 1024 * 1024,
  /** Most entries one `list` / `peek` / log read returns; larger limits are an error, not a silent cap. */
  maxPageSize: 10_000,
  /** Entries a `list` returns when no `limit` is given. */
  defaultPageSize: 1_000,
  /** Longest TTL: about 100 years, so deadlines stay exact integers. */
  maxTtlMs: 100 * 365 * 24 * 3600 * 1000,
  /**
   * Longest duration option that arms a timer or a driver's timeout (`sweepIntervalMs`, `busyTimeoutMs`,
   * `connectTimeoutMs`, `statementTimeoutMs` less PostgreSQL's 1 s client margin): 2^31 − 1 ms, about 24.8 days.
   * Node runs a longer timer after 1 ms instead, so a longer option fails INVALID_ARGUMENT rather than misbehave.
   */
  maxTimerMs: 2_147_483_647,
  /** Largest headers of one stream entry, as JSON bytes. */
  maxHeaderBytes: 16 * 1024,
  /** Largest `maxLen` of a queue. */
  maxQueueLength: 1_000_000_000,
  /**
   * Changes a namespace's KV change history keeps (the history `kv.watch` reads): the sweep trims older ones, and a
   * watch that has not read them by then fails LIMIT_EXCEEDED.
   */
  kvChangesKept: 10_000,
  /**
   * Namespaces that may keep a KV change history (turned on by their first `kv.watch`): each one adds a check to every
   * KV write of the store, so a watch that would turn on one more fails LIMIT_EXCEEDED.
   */
  maxKvHistoryNamespaces: 256,
  /** Most items one work-queue `claim` takes (it may take fewer: see the engine's `maxTransactionWrites`). */
  maxClaimLimit: 1_000,
  /** Largest `maxAttempts` of a work-queue retry policy (claims an item may have in all). */
  maxWorkAttempts: 1_000,
  /** Longest failure text a work item keeps, in UTF-8 bytes: a longer one is truncated, never refused. */
  maxWorkErrorBytes: 16 * 1024,
});

export type Limits = typeof LIMITS;
