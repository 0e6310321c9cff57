/**
 * The batcher: turns a stream of events into batches, closing each one at whichever limit comes first — so many
 * events, so many bytes, or so many milliseconds since its first event. Sinks then pay their fixed cost (a
 * round trip, a commit) once per batch rather than once per event, and a quiet source never holds an event back
 * longer than `maxMs`.
 */

/** When a batch closes. Every limit must be at least 1. */
export interface BatchLimits {
  /** Most events in a batch. */
  maxEvents: number;
  /** Most bytes in a batch (an event larger than this goes alone). */
  maxBytes: number;
  /** Longest a batch stays open after its first event, in ms. */
  maxMs: number;
}

/** Which limit closed a batch; `"end"` is the last, partial batch of a finished source. */
export type CloseReason = "events" | "bytes" | "time" | "end";

/** One batch: its events in source order, their total size, and why it closed. */
export interface Batch<T> {
  items: T[];
  bytes: number;
  closedBy: CloseReason;
}

const TIMED_OUT = Symbol("timed out");

/** Throws unless every limit is a whole number ≥ 1. */
export function checkLimits(limits: BatchLimits): void {
  for (const field of ["maxEvents", "maxBytes", "maxMs"] as const) {
    const value = limits[field];
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${field} must be a whole number ≥ 1, got ${String(value)}`);
  }
}

/**
 * Batches `source` by `limits`, measuring each item with `sizeOf`. Items keep their order and none is dropped or
 * repeated. The generator pulls from the source only when asked for the next batch, so a slow consumer slows the
 * source down (backpressure) instead of piling events up in memory.
 */
export async function* batches<T>(source: AsyncIterable<T>, limits: BatchLimits, sizeOf: (item: T) => number): AsyncGenerator<Batch<T>> {
  checkLimits(limits);
  const iterator = source[Symbol.asyncIterator]();
  let open: T[] = [];
  let bytes = 0;
  let deadline = 0;
  // A pull that was still waiting when the time limit closed a batch: its item belongs to the next batch.
  let pending: Promise<IteratorResult<T>> | undefined;

  const close = (closedBy: CloseReason): Batch<T> => {
    const batch = { items: open, bytes, closedBy };
    open = [];
    bytes = 0;
    return batch;
  };

  try {
    for (;;) {
      if (open.length > 0 && Date.now() >= deadline) {
        yield close("time");
        continue;
      }
      pending ??= iterator.next();
      // An empty batch has no deadline yet: wait for its first event as long as it takes.
      const result = open.length === 0 ? await pending : await beforeDeadline(pending, deadline);
      if (result === TIMED_OUT) continue; // the check at the top closes the batch
      pending = undefined;
      if (result.done === true) {
        if (open.length > 0) yield close("end");
        return;
      }
      const size = sizeOf(result.value);
      if (open.length > 0 && bytes + size > limits.maxBytes) yield close("bytes");
      if (open.length === 0) deadline = Date.now() + limits.maxMs;
      open.push(result.value);
      bytes += size;
      if (open.length >= limits.maxEvents) yield close("events");
      else if (bytes >= limits.maxBytes) yield close("bytes");
    }
  } finally {
    // Not awaited: a source blocked on a pull that never comes must not keep the consumer from stopping.
    Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}

/** `pending`'s result, or TIMED_OUT if the deadline (ms since the epoch) passes first. */
async function beforeDeadline<R>(pending: Promise<R>, deadline: number): Promise<R | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([pending, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
