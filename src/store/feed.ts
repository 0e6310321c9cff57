import { isStowageError, StowageError } from "../api/errors.js";
import type { ChangeSource } from "../engines/change-signal.js";

/** What a live feed needs from its store: the engine's change signal, and a signal that aborts when the store closes. */
export interface FeedContext {
  changes: ChangeSource;
  closing: AbortSignal;
}

/**
 * The feed context of an executor, or INVALID_ARGUMENT inside a transaction. (An engine without live feeds is refused
 * earlier, with NOT_SUPPORTED: see `requireCapability`.)
 */
export function feedContextOf(feeds: FeedContext | undefined, namespace: string, key?: string): FeedContext {
  if (feeds === undefined) {
    throw new StowageError("INVALID_ARGUMENT", "live feeds are not available inside a transaction", { namespace, key });
  }
  return feeds;
}

/**
 * The rule every feed keeps for a start position past the end: INVALID_ARGUMENT, never a silent skip. A position a
 * feed reported is at most the last one committed, so one beyond it is a mistake (another namespace's or segment's
 * position, a number from elsewhere); following it would yield only what lands past it and skip what lands before.
 */
export function checkStartNotAhead(start: number, last: number, what: string, namespace: string, key?: string): void {
  if (start > last) {
    throw new StowageError("INVALID_ARGUMENT", `${what} ${start} is ahead of the last one committed, ${last}; a feed starts at or before it`, { namespace, key });
  }
}

/** One read of a feed: what came after its position (which the read moves), and whether more is already waiting. */
export interface FeedRead<E> {
  items: E[];
  more: boolean;
}

/**
 * A live feed: calls `readNext` (which reads after its own position and moves it) until it reports nothing more
 * waiting, then waits for the next change and reads again. Because every read starts from the position, a change
 * signalled while a read runs is never lost (the generation is taken before the read), and nothing is delivered
 * twice. Ends, releasing its watch, when `signal` aborts, the store closes, or the consumer stops (`break`).
 */
export async function* follow<E>(context: FeedContext, signal: AbortSignal | undefined, readNext: () => Promise<FeedRead<E>>): AsyncGenerator<E, void, undefined> {
  const stop = new AbortController();
  const unwatch = context.changes.watch();
  // Released at once on abort or close, not when the generator next runs: a consumer may never ask again (an
  // iterator left suspended at a `yield`), and its watch (a poll timer, a LISTEN connection) must not outlive it.
  const release = () => {
    unwatch();
    forgetSignal?.();
    forgetClosing();
  };
  const abort = () => {
    stop.abort();
    release();
  };
  const forgetSignal = signal === undefined ? undefined : onAbort(signal, abort);
  const forgetClosing = onAbort(context.closing, abort);
  if (signal?.aborted || context.closing.aborted) abort();
  try {
    while (!stop.signal.aborted) {
      const seen = context.changes.generation;
      let batch: FeedRead<E>;
      try {
        batch = await readNext();
      } catch (error) {
        // A store that closed under a read ends the feed; any other failure reaches the consumer.
        if (context.closing.aborted && isStowageError(error, "CLOSED")) return;
        throw error;
      }
      for (const item of batch.items) {
        if (stop.signal.aborted) return;
        yield item;
      }
      if (!batch.more) await context.changes.wait(seen, stop.signal);
    }
  } finally {
    release();
  }
}

/** The callbacks waiting for one signal's abort, behind a single listener on it. */
interface AbortFanout {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const fanouts = new WeakMap<AbortSignal, AbortFanout>();

/**
 * Runs `callback` once `signal` aborts; returns a function that forgets it. Many feeds share one signal (a service's
 * shutdown signal, the store's closing signal), and a listener each would trip Node's leak warning past 10: they share
 * one listener per signal instead, added with the first callback and removed with the last.
 */
function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let fanout = fanouts.get(signal);
  if (fanout === undefined) {
    const callbacks = new Set<() => void>();
    const listener = () => {
      fanouts.delete(signal);
      for (const waiting of [...callbacks]) waiting();
    };
    fanout = { callbacks, listener };
    fanouts.set(signal, fanout);
    signal.addEventListener("abort", listener, { once: true });
  }
  const own = fanout;
  own.callbacks.add(callback);
  return () => {
    own.callbacks.delete(callback);
    if (own.callbacks.size === 0 && fanouts.get(signal) === own) {
      fanouts.delete(signal);
      signal.removeEventListener("abort", own.listener);
    }
  };
}
