/**
 * Sinks: where events go. Each one here stands in for an external system (a warehouse, a search index, an audit
 * trail) and records what it receives in its own Log namespace of the store, `sink-<name>`, so that what it got
 * survives a crash and can be checked afterwards.
 *
 * A delivery can end three ways:
 * - delivered: the event is in the sink;
 * - refused: the sink will never take this event (it fails the sink's validation), so retrying is pointless — the
 *   pipeline quarantines it with the reason;
 * - failed: a transient error (a timeout, a reset connection); the batch is retried with backoff.
 */
import { json, type Store } from "../../src/index.js";
import type { PipelineEvent } from "./source.js";
import { seededRandom, sleep } from "./random.js";

/** An event a sink will never take, and why. */
export interface Refusal {
  event: PipelineEvent;
  reason: string;
}

/** A destination for batches of events. */
export interface Sink {
  readonly name: string;
  /**
   * Delivers `events`; resolves to the ones it refused for good (every other one was delivered). Throws
   * {@link TransientSinkError} on a failure worth retrying.
   */
  deliver(events: readonly PipelineEvent[]): Promise<Refusal[]>;
}

/** A failure worth retrying: the same batch may go through next time. */
export class TransientSinkError extends Error {
  constructor(sink: string, message: string) {
    super(`sink ${sink}: ${message}`);
    this.name = "TransientSinkError";
  }
}

/** The Log namespace in which sink `name` records its deliveries (one entry per event delivered, under DELIVERED_KEY). */
export const sinkNamespace = (name: string): string => `sink-${name}`;
/** The key of those entries. */
export const DELIVERED_KEY = "delivered";

/** Options of a {@link StoreSink}. */
export interface StoreSinkOptions {
  name: string;
  /** The sink's validation: a reason to refuse `event`, or `undefined` to take it. Must be deterministic. */
  refuse?: (event: PipelineEvent) => string | undefined;
  /** Share of deliveries that fail (0 to 1, default 0): half before writing, half after. */
  failureRate?: number;
  /** Where the failures come from (default: a PRNG seeded with 1). */
  random?: () => number;
}

/**
 * A sink that records each delivered event in the Log namespace `sink-<name>`, one transaction per batch. When
 * flaky, it fails at random — sometimes before writing (nothing landed) and sometimes after (the write landed but
 * the reply was lost): the retry then delivers the batch again, which is why sinks must tolerate duplicates
 * (at-least-once delivery).
 */
export class StoreSink implements Sink {
  readonly name: string;
  private readonly refuse: (event: PipelineEvent) => string | undefined;
  private readonly failureRate: number;
  private readonly random: () => number;

  constructor(
    private readonly store: Store,
    options: StoreSinkOptions,
  ) {
    this.name = options.name;
    this.refuse = options.refuse ?? (() => undefined);
    this.failureRate = options.failureRate ?? 0;
    this.random = options.random ?? seededRandom(1);
  }

  async deliver(events: readonly PipelineEvent[]): Promise<Refusal[]> {
    const refused: Refusal[] = [];
    const accepted: PipelineEvent[] = [];
    for (const event of events) {
      const reason = this.refuse(event);
      if (reason === undefined) accepted.push(event);
      else refused.push({ event, reason });
    }
    const failure = this.random() < this.failureRate ? (this.random() < 0.5 ? "before" : "after") : undefined;
    if (failure === "before") throw new TransientSinkError(this.name, "connection reset before the write");
    await this.store.transaction(async (tx) => {
      const log = tx.log(sinkNamespace(this.name), { codec: json<PipelineEvent>() });
      for (const event of accepted) await log.append(DELIVERED_KEY, event);
    });
    if (failure === "after") throw new TransientSinkError(this.name, "timed out waiting for the reply (the write landed)");
    return refused;
  }
}

/** How often and how patiently a failing delivery is retried. */
export interface RetryOptions {
  /** Attempts in all, the first included (≥ 1). */
  maxAttempts: number;
  /** Wait before the second attempt, in ms; it doubles after each failure… */
  baseDelayMs: number;
  /** …up to this. */
  maxDelayMs: number;
}

/** What one sink did with one batch. */
export type SinkOutcome =
  | { sink: string; handled: true; refused: Refusal[]; attempts: number }
  | { sink: string; handled: false; error: string; attempts: number };

/**
 * Delivers `events` to `sink`, retrying transient failures with exponential backoff. Resolves to "handled" (with
 * the refusals) or, once the attempts are spent, "not handled" — whether that stops the checkpoint is the commit
 * policy's call, not the sink's. Any other error (a bug, the store itself failing) is thrown: retrying it would
 * only hide it.
 */
export async function deliverWithRetry(sink: Sink, events: readonly PipelineEvent[], retry: RetryOptions): Promise<SinkOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      const refused = await sink.deliver(events);
      return { sink: sink.name, handled: true, refused, attempts: attempt };
    } catch (error) {
      if (!(error instanceof TransientSinkError)) throw error;
      if (attempt >= retry.maxAttempts) return { sink: sink.name, handled: false, error: error.message, attempts: attempt };
      await sleep(Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1)));
    }
  }
}

/** The demo's sinks: their names, validation rules, and which one is flaky. */
export const DEMO_SINKS = [
  {
    name: "warehouse",
    refuse: (event: PipelineEvent) => (event.payload.customer === null ? "order has no customer" : undefined),
    flaky: false,
  },
  {
    name: "search",
    refuse: (event: PipelineEvent) => (event.payload.note.length > 150 ? `note of ${event.payload.note.length} characters is over the index's 150` : undefined),
    flaky: true,
  },
  { name: "audit", refuse: (_event: PipelineEvent): string | undefined => undefined, flaky: false },
] as const;

/** The demo's sinks over `store`; the flaky one fails `failureRate` of its deliveries, seeded by `seed`. */
export function demoSinks(store: Store, options: { seed: number; failureRate: number }): StoreSink[] {
  return DEMO_SINKS.map(
    (spec, index) =>
      new StoreSink(store, {
        name: spec.name,
        refuse: spec.refuse,
        failureRate: spec.flaky ? options.failureRate : 0,
        random: seededRandom(options.seed * 31 + index),
      }),
  );
}
