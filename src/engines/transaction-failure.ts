/**
 * How an engine tells the store what a failure means for the transaction it happened in. The marks travel with the
 * error object itself (not its code), so that only failures an engine raised count: a CONFLICT a transaction body
 * throws on its own (a CAS retry giving up, another store's error) is never taken for one.
 */

/** Errors after which the transaction cannot commit: the store rejects it with the error, whatever the body returns. */
const FATAL = new WeakSet<object>();
/** Of those, the ones that running the whole transaction again may resolve (a serialization failure, a deadlock). */
const SERIALIZATION = new WeakSet<object>();

/** Marks `error` as ending its transaction (the database rolled it back, the connection is gone); returns it. */
export function transactionFatal<E extends Error>(error: E): E {
  FATAL.add(error);
  return error;
}

/**
 * Marks `error` as the engine's serialization failure: the transaction (or single write) lost to a concurrent one and
 * may succeed when run again. It ends its transaction too. Returns it.
 */
export function serializationFailure<E extends Error>(error: E): E {
  FATAL.add(error);
  SERIALIZATION.add(error);
  return error;
}

/** True for an error an engine marked with {@link transactionFatal} or {@link serializationFailure}. */
export function isTransactionFatal(error: unknown): boolean {
  return typeof error === "object" && error !== null && FATAL.has(error);
}

/** True for an error an engine marked with {@link serializationFailure}: the only failure the store runs work again for. */
export function isSerializationFailure(error: unknown): boolean {
  return typeof error === "object" && error !== null && SERIALIZATION.has(error);
}

/**
 * The pause before running work again after its `attempt`-th serialization failure: random (so that the racers do not
 * collide again in lockstep) and growing with the attempts, up to `maxMs`.
 */
export function pauseBeforeRetry(attempt: number, maxMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(maxMs, 2 ** attempt)));
}
