/**
 * Work queues (`store.workQueue`): items claimed under a lease with a visibility timeout, retried per a policy with
 * backoff, delayed, deduplicated, and kept as dead letters when their attempts are used up. Re-exported by types.ts.
 */
import type { CodecOptions, TransactionScope } from "./types.js";

/** How a failed item is retried: after `backoff`, until it has had `maxAttempts` claims in all. */
export interface RetryPolicy {
  /** Claims an item may have in all: 1 = never retried (default 5, at most {@link LIMITS.maxWorkAttempts}). */
  maxAttempts?: number;
  /**
   * Wait before attempt n + 1: `fixed` = `delayMs`; `exponential` = min(`maxDelayMs`, `delayMs`·2^(n−1)). Jitter on
   * that wait d with a uniform r in [0, 1): `full` = d·r, `equal` = d/2 + d/2·r, `none` = d. Default: exponential
   * from 1 s to 5 min, full jitter.
   */
  backoff?: RetryBackoff;
}

/** The backoff of a {@link RetryPolicy}. */
export interface RetryBackoff {
  type: "fixed" | "exponential";
  /** The first wait, in ms (0 … {@link LIMITS.maxTtlMs}). */
  delayMs: number;
  /** Longest wait of an exponential backoff, in ms (default 5 min, at least `delayMs`). */
  maxDelayMs?: number;
  /** Default `full`. */
  jitter?: "full" | "equal" | "none";
}

/** Options of `store.workQueue`. */
export interface WorkQueueOptions<T> extends CodecOptions<T> {
  /** Lease length of claims and workers, in ms (default 30,000; 1 … {@link LIMITS.maxTimerMs}). */
  visibilityMs?: number;
  /** The retry policy of pushes that give none. It is stored with each item, so every claimer applies one policy. */
  retry?: RetryPolicy;
}

/** Options of one work push. */
export interface WorkPushOptions {
  /** First claimable this long after the push (0 … {@link LIMITS.maxTtlMs}). Not with `notBefore`. */
  delayMs?: number;
  /** First claimable at this store-clock time, in ms. Not with `delayMs`. */
  notBefore?: number;
  /** Higher is claimed first: an integer −2^31 … 2^31 − 1, default 0. */
  priority?: number;
  /**
   * A key (key rules) that one live (ready, delayed or leased) item of this queue key holds at a time: a push with the
   * key of a live item returns that item (`duplicate: true`), or with `onDuplicate: "reject"` fails CONFLICT with
   * `error.itemId`.
   */
  dedupKey?: string;
  onDuplicate?: "return" | "reject";
  /** This item's policy, instead of the queue's. */
  retry?: RetryPolicy;
}

/** The result of a work push. */
export interface WorkPushed {
  id: number;
  /** True when a live item held the push's `dedupKey`: `id` is that item's, and nothing was pushed. */
  duplicate: boolean;
}

/** What settle calls need. Structural, so a {@link ClaimedItem} is a lease. */
export interface Lease {
  readonly namespace: string;
  readonly key: string;
  readonly id: number;
  /** The claim's random token: the lease is current while the item holds it and this attempt. */
  readonly token: number;
  /** The claim this lease is: 1 for the first. */
  readonly attempt: number;
  /** Store-clock ms after which another claimer may take the item. */
  readonly deadline: number;
}

/** A claimed item: its value and its lease. */
export interface ClaimedItem<T> extends Lease {
  readonly value: T;
  readonly pushedAt: number;
  readonly priority: number;
  readonly maxAttempts: number;
  /** The previous attempt's failure text, if any. */
  readonly lastError: string | null;
}

/** The items of one queue key by state; an expired lease counts as ready. */
export interface WorkCounts {
  ready: number;
  delayed: number;
  leased: number;
  dead: number;
}

/** A dead letter: an item whose attempts were used up, or that failed `final`. */
export interface DeadItem<T> {
  id: number;
  value: T;
  pushedAt: number;
  attempts: number;
  lastError: string;
  /** Store-clock ms of the dead-lettering. */
  deadAt: number;
  dedupKey: string | null;
}

/** Options of `claim`. */
export interface ClaimOptions {
  /** Most items to take (default 1, at most {@link LIMITS.maxClaimLimit}, capped to the engine's transaction size). */
  limit?: number;
  /** This claim's lease length (default the queue's `visibilityMs`). */
  visibilityMs?: number;
}

/** Options of `release`. */
export interface ReleaseOptions {
  /** Claimable again this long from now (default 0). */
  delayMs?: number;
  /** Keep the attempt counted (default false: the attempt is given back). */
  countAttempt?: boolean;
}

/** Options of `fail`. */
export interface FailOptions {
  /** Dead now, whatever attempts are left. */
  final?: boolean;
  /** Retry after this long instead of the policy's backoff (still dead when the attempts are used up). */
  retryAfterMs?: number;
}

/** A namespace of work queues (one per key). */
export interface WorkQueue<T = Uint8Array> {
  readonly namespace: string;
  push(key: string, value: T, options?: WorkPushOptions): Promise<WorkPushed>;
  /** Several pushes in one commit. */
  pushMany(key: string, items: ReadonlyArray<{ value: T } & WorkPushOptions>): Promise<WorkPushed[]>;
  /**
   * Up to `limit` claimable items, highest priority first, then oldest visible first, each leased for `visibilityMs`.
   * May return fewer than are claimable (rows locked by concurrent claims, commit limits): only `counts` measures a
   * queue. An item that has had `maxAttempts` claims and whose lease expired is dead-lettered instead.
   */
  claim(key: string, options?: ClaimOptions): Promise<ClaimedItem<T>[]>;
  /** Done: the item goes. LEASE_LOST when the lease is not current. */
  ack(lease: Lease): Promise<void>;
  /** Several acks in one commit; never LEASE_LOST: the leases that were not current are in `lost`. */
  ackMany(leases: readonly Lease[]): Promise<{ acked: number; lost: Lease[] }>;
  /** Heartbeat: the lease's deadline becomes now + `ms` (default `visibilityMs`). The new lease, same token. */
  extend(lease: Lease, ms?: number): Promise<Lease>;
  /** Several heartbeats in one commit; `null` for a lease that was not current. */
  extendMany(leases: readonly Lease[], ms?: number): Promise<Array<Lease | null>>;
  /** Back to claimable at now + `delayMs`; the attempt is given back unless `countAttempt`. */
  release(lease: Lease, options?: ReleaseOptions): Promise<void>;
  /** Retry per the item's policy, or dead when its attempts are used up or `final`. */
  fail(lease: Lease, error: unknown, options?: FailOptions): Promise<{ dead: boolean; visibleAt: number | null }>;
  counts(key: string): Promise<WorkCounts>;
  /** The queue keys holding items, in key order. */
  keys(options?: { after?: string; limit?: number }): Promise<string[]>;
  /** Dead letters of a key, in id order. */
  dead(key: string, options?: { afterId?: number; limit?: number }): Promise<DeadItem<T>[]>;
  /**
   * Dead → ready now, with attempts 0; without `ids`, every dead item (a bounded number per call: `more` says whether
   * some are left). An item whose dedup key a live item holds stays dead and is reported in `skipped`.
   */
  requeue(key: string, ids?: readonly number[]): Promise<{ requeued: number; skipped: number[]; more: boolean }>;
  /** Removes dead letters: `ids`, or without them every one (bounded per call, as `requeue`). */
  purgeDead(key: string, ids?: readonly number[]): Promise<{ purged: number; more: boolean }>;
  /**
   * A worker: claims items of `key` and runs `handler` on each, at most `concurrency` at once, keeping their leases
   * alive; a handler that resolves acks its item, one that throws fails it (a `WorkFailure` steers how). It waits
   * for pushes while idle, and stops on `options.signal`, `stop()` or `store.close()`, draining first. Checks its
   * arguments before it starts (INVALID_ARGUMENT); not available inside a transaction (INVALID_ARGUMENT, as feeds).
   *
   * @example
   * ```ts
   * const worker = store.workQueue("jobs", { codec: json }).work("email", async (job, ctx) => {
   *   await send(job.value, { signal: ctx.signal });
   * }, { concurrency: 8 });
   * // later
   * await worker.stop();
   * ```
   */
  work(key: string, handler: WorkHandler<T>, options?: WorkOptions): Worker;
}

/** A worker's handler: resolve = ack; throw = fail (a `WorkFailure` steers `final` / `retryAfterMs`). */
export type WorkHandler<T> = (item: ClaimedItem<T>, ctx: WorkContext) => Promise<void>;

/** What a handler gets besides its item. */
export interface WorkContext {
  /**
   * Aborted when the lease is lost (a heartbeat found it no longer current: the worker will not settle the item) or
   * at the end of the worker's drain (the item is released).
   */
  readonly signal: AbortSignal;
  /** The lease as last extended. */
  lease(): Lease;
  /**
   * Acks the item inside the caller's transaction, so the effect and the ack commit together (LEASE_LOST, rolling the
   * effect back, when the lease is no longer current). A handler that used it and resolves is settled by nothing
   * more: resolve only once that transaction committed.
   */
  ackIn(tx: TransactionScope): Promise<void>;
}

/** Options of `work`. */
export interface WorkOptions {
  /** Items held at once: handlers running, or settling (default 1, at most 1,000). */
  concurrency?: number;
  /** Lease length of its claims and heartbeats (default the queue's). */
  visibilityMs?: number;
  /** Most items per claim (default `concurrency`, at most {@link LIMITS.maxClaimLimit}). */
  batchSize?: number;
  /** On stop, how long handlers may still finish before they are aborted and their items released (default `visibilityMs`). */
  drainMs?: number;
  /** Longest idle wait without a wake-up (a commit, a delayed item's time), in ms (default 5,000). */
  idlePollMs?: number;
  /** Stops the worker when aborted. */
  signal?: AbortSignal;
  /** Called synchronously with each step; what it throws is ignored. */
  onEvent?: (event: WorkerEvent) => void;
}

/**
 * One step of one item. `invokedAt` / `resolvedAt`: when the store call that made the step was made and answered, on
 * the host clock (`performance.timeOrigin + performance.now()`, ms), so the histories of several processes on one
 * host line up.
 */
export interface WorkerStep {
  key: string;
  id: number;
  token: number;
  attempt: number;
  invokedAt: number;
  resolvedAt: number;
}

/**
 * What a worker reports. `claimed` / `extended`: a lease taken or renewed until `deadline` (store clock). `acked`:
 * by the worker, or (`inTransaction`) by the handler's `ctx.ackIn`, reported when the handler resolved. `failed`: a
 * retry at `visibleAt`; `dead`: dead-lettered. `released`: handed back at the end of a drain, its attempt given back.
 * `lost`: the lease was found no longer current by a heartbeat or a settle; nothing of the item is settled by this
 * worker. `error`: one of the worker's own store calls failed; it retries after a pause (the loop never throws).
 */
export type WorkerEvent =
  | (WorkerStep & { type: "claimed" | "extended"; deadline: number })
  | (WorkerStep & { type: "acked"; inTransaction: boolean })
  | (WorkerStep & { type: "failed"; error: string; visibleAt: number })
  | (WorkerStep & { type: "dead"; error: string })
  | (WorkerStep & { type: "released" })
  | (WorkerStep & { type: "lost"; during: "extend" | "settle" })
  | { type: "error"; key: string; during: "claim" | "poll" | "extend" | "settle"; error: unknown; at: number };

/** Counts of a worker's steps so far. */
export interface WorkerStats {
  claimed: number;
  acked: number;
  failed: number;
  dead: number;
  released: number;
  lost: number;
  /** Items held now: handlers running, or their settles under way. */
  running: number;
}

/** A running worker. */
export interface Worker {
  /** Resolves after shutdown (the drain done, what was still held released); never rejects. */
  readonly done: Promise<void>;
  /**
   * Stops it, as its signal does: stops claiming, drains, releases what is still held; resolves as `done`. A handler
   * that stops its own worker must not await this (nor `store.close()`): the drain waits for that very handler.
   */
  stop(): Promise<void>;
  /** One round now: a claim round (when slots are free) and the due heartbeats — how tests on a manual clock drive it. */
  wake(): void;
  readonly stats: Readonly<WorkerStats>;
}
