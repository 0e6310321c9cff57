import { AsyncLocalStorage } from "node:async_hooks";
import { StowageError } from "../api/errors.js";
import { compareKeys } from "../api/key-order.js";
import { LIMITS } from "../api/limits.js";
import type {
  Clock,
  CodecOptions,
  HealthOptions,
  HealthReport,
  IntegrityReport,
  Kv,
  Log,
  Queue,
  QueueOptions,
  Slot,
  Store,
  StoreInfo,
  Stream,
  StreamOptions,
  WorkQueue,
  WorkQueueOptions,
  TransactionOptions,
  TransactionScope,
} from "../api/types.js";
import type { Engine } from "../engines/engine.js";
import { checkCommitFits, checkSupports, oneNamespaceGuard, type EngineProfile } from "./capabilities.js";
import { isSerializationFailure, pauseBeforeRetry } from "../engines/transaction-failure.js";
import type { Executor } from "./executor.js";
import { HandleFactory } from "./handles.js";
import { checkHealth } from "./health.js";
import { checkCreateOptions, checkedClock, checkEngine, type StoreOptions } from "./store-options.js";
import { TransactionExecutor } from "./transaction-executor.js";
import { checkInteger, checkOptions } from "./validate.js";
import { WorkerSet } from "./worker-set.js";

/** Sweep steps of one sweep at most (each removes up to SWEEP_BATCH entries). */
const MAX_SWEEP_STEPS = 10_000;
/** Trim steps of one sweep at most; a namespace written faster than this trims is trimmed further by the next sweep. */
const MAX_TRIM_STEPS = 100;
/** Expired rows removed per sweep step, so that one sweep never holds the writer for long. */
const SWEEP_BATCH = 1_000;
const DEFAULT_SWEEP_INTERVAL_MS = 30_000;
/** Runs of a transaction body before a CONFLICT reaches the caller (engines with optimistic concurrency only). */
const DEFAULT_TRANSACTION_ATTEMPTS = 50;
/** The longest pause between two runs of a transaction body, in ms. */
const MAX_RETRY_PAUSE_MS = 100;

/** Set by an engine that runs on another (a wrapper layer): the engine beneath it. */
export const ENGINE_BELOW = Symbol("stowage.engineBelow");

/** The engine at the bottom of a stack of layers: stores over it share one writer, whatever wraps them. */
export function rootEngine(engine: Engine): Engine {
  let root = engine;
  for (let below = (root as { [ENGINE_BELOW]?: Engine })[ENGINE_BELOW]; below !== undefined; below = (root as { [ENGINE_BELOW]?: Engine })[ENGINE_BELOW]) {
    root = below;
  }
  return root;
}

type HandleGuard = (primitive: string, namespace: string) => void;

/** Both checks of a transaction's handles, where there are two (see `Engine.transactionGuard`). */
function bothGuards(first: HandleGuard | undefined, second: HandleGuard | undefined): HandleGuard | undefined {
  if (first === undefined || second === undefined) return first ?? second;
  return (primitive, namespace) => {
    first(primitive, namespace);
    second(primitive, namespace);
  };
}

/** One running transaction body: the engine it holds, until it ends. */
interface BodyToken {
  readonly root: Engine;
  active: boolean;
}

/**
 * The transaction bodies the current async context runs in: a call of any store over the engine one of them holds
 * would wait for that transaction — the wrapped store's own, a store it wraps, or a sibling wrapper. Work a body
 * schedules (a timer, an un-awaited promise) keeps this context after the body ends, so a token counts only while
 * its body runs.
 */
const transactionBodies = new AsyncLocalStorage<readonly BodyToken[]>();
/** True inside a running transaction body that holds `root`. */
function insideBodyOver(root: Engine): boolean {
  // No body runs anywhere (the common case): no context to look up.
  if (bodiesRunning === 0) return false;
  const held = transactionBodies.getStore();
  return held !== undefined && held.some((t) => t.active && t.root === root);
}

/**
 * True when the caller runs inside a transaction body over `store`'s engine (the store's own, or of a store over the
 * same engine): a helper that would call the store from there (a batch writer's flush) must refuse instead of wait.
 */
export function insideTransactionOf(store: unknown): boolean {
  const parts = storePartsOf(store);
  return parts !== undefined && insideBodyOver(rootEngine(parts.engine));
}

/** Transaction bodies running now, in every store; the context tracking is switched off when none is. */
let bodiesRunning = 0;

/**
 * How the wrappers of `src/wrappers` reach the engine and clock beneath a store; a symbol, so not part of the typed
 * public API.
 */
export const STORE_PARTS = Symbol("stowage.storeParts");

/** The parts beneath a stowage store (see {@link STORE_PARTS}); undefined for anything else. */
export function storePartsOf(store: unknown): StoreParts | undefined {
  return (store as Partial<Record<typeof STORE_PARTS, StoreParts>> | undefined)?.[STORE_PARTS];
}

/** What {@link STORE_PARTS} holds. */
export interface StoreParts {
  engine: Engine;
  clock: Clock;
  /** Wrapper controls (`cache`, `metrics`, …) a wrapped store exposes, kept so that an outer wrapper exposes them too. */
  extensions: Record<string, unknown>;
  /** True until the store starts closing. */
  isOpen: () => boolean;
  /** Open wrappers over this store: the last one to close closes it. */
  layers: number;
}

/**
 * The store: validation, codecs, limits, open/closed state and transactions, over any {@link Engine}. Engines never
 * see an unchecked argument, so every engine enforces the same limits.
 */
class EngineStore implements Store {
  private state: "open" | "closing" | "closed" = "open";
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly handles: HandleFactory;
  /** The engine beneath every layer: what a transaction body of this store holds. */
  private readonly root: Engine;
  private readonly clock: Clock;
  /** The engine's name and checked manifest. */
  private readonly profile: EngineProfile;
  private sweeper: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  /** Aborted when the store starts closing: every live feed ends. */
  private readonly feedsEnd = new AbortController();
  /** The workers of this store's work queues: close() stops them, and awaits them, before it refuses calls. */
  private readonly workers = new WorkerSet();
  readonly [STORE_PARTS]: StoreParts;

  constructor(
    private readonly engineImpl: Engine,
    options: StoreOptions,
  ) {
    this.clock = checkedClock(options.clock);
    this[STORE_PARTS] = { engine: engineImpl, clock: this.clock, extensions: {}, isOpen: () => this.state === "open", layers: 0 };
    this.root = rootEngine(engineImpl);
    const profile = (this.profile = Object.freeze({ name: engineImpl.name, supports: checkSupports(engineImpl) }));
    // Only an engine with tighter commit limits than LIMITS needs a single write's size checked here.
    const commitLimited = profile.supports.limits.maxTransactionWrites < LIMITS.maxTransactionWrites || profile.supports.limits.maxTransactionBytes < LIMITS.maxTransactionBytes;
    const executor: Executor = {
      read: (call) => {
        this.assertOpen();
        const answer = this.engineImpl.read(call);
        // A synchronous answer is complete already: nothing for close() to wait for.
        return answer instanceof Promise ? this.follow(answer) : answer;
      },
      write: (call, bytes, writes = 1) => {
        if (commitLimited) checkCommitFits(profile, writes, bytes, "one write call");
        return this.track(() => this.engineImpl.write(call));
      },
      idle: () => this.assertOpen(),
      now: this.clock,
      engine: profile,
      feeds: !profile.supports.liveFeeds || engineImpl.changes === undefined ? undefined : { changes: engineImpl.changes, closing: this.feedsEnd.signal },
      workers: this.workers,
    };
    // Taking a handle inside a transaction body is harmless; only calls on it would wait for the transaction.
    this.handles = new HandleFactory(executor, () => this.assertNotClosed());
    const interval = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (interval > 0) {
      this.sweeper = setInterval(() => void this.sweep().catch(() => undefined), interval);
      this.sweeper.unref();
    }
  }

  get engine(): string {
    return this.engineImpl.name;
  }

  kv<T = Uint8Array>(namespace: string, options?: CodecOptions<T>): Kv<T> {
    return this.handles.kv(namespace, options);
  }

  log<T = Uint8Array>(namespace: string, options?: CodecOptions<T>): Log<T> {
    return this.handles.log(namespace, options);
  }

  slot<T = Uint8Array>(namespace: string, options?: CodecOptions<T>): Slot<T> {
    return this.handles.slot(namespace, options);
  }

  queue<T = Uint8Array>(namespace: string, options?: QueueOptions<T>): Queue<T> {
    return this.handles.queue(namespace, options);
  }

  stream<T = Uint8Array>(namespace: string, options?: StreamOptions<T>): Stream<T> {
    return this.handles.stream(namespace, options);
  }

  workQueue<T = Uint8Array>(namespace: string, options?: WorkQueueOptions<T>): WorkQueue<T> {
    return this.handles.workQueue(namespace, options);
  }

  transaction<R>(body: (tx: TransactionScope) => Promise<R>, options?: TransactionOptions): Promise<R> {
    if (typeof body !== "function") {
      return Promise.reject(new StowageError("INVALID_ARGUMENT", "transaction needs a function (tx) => Promise"));
    }
    let attempts: number;
    try {
      const opts = checkOptions(undefined, "transaction options", options, ["maxAttempts"]);
      attempts = opts.maxAttempts === undefined ? DEFAULT_TRANSACTION_ATTEMPTS : checkInteger(undefined, "maxAttempts", opts.maxAttempts, 1, 1_000);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.track(async () => {
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.runTransaction(body);
        if (outcome.ok) return outcome.value;
        if (!outcome.retry || attempt >= attempts) throw outcome.error;
        await pauseBeforeRetry(attempt, MAX_RETRY_PAUSE_MS);
      }
    });
  }

  /**
   * Runs the body once in an engine transaction. The attempt may run again only when it failed by the engine's own
   * serialization failure: one a call of this transaction raised (whatever the body did with it), or the engine's
   * begin or commit. An error the body throws itself — a CONFLICT included (a CAS retry giving up, another store's
   * failure) — ends the transaction unchanged, after one run.
   */
  private async runTransaction<R>(body: (tx: TransactionScope) => Promise<R>): Promise<{ ok: true; value: R } | { ok: false; error: unknown; retry: boolean }> {
    let exec: TransactionExecutor | undefined;
    let bodyFailed = false;
    let bodyError: unknown;
    try {
      const value = await this.engineImpl.transaction(async (ops) => {
        exec = new TransactionExecutor(ops, this.clock, this.profile);
        try {
          return await this.runBody(exec, body);
        } catch (error) {
          bodyFailed = true;
          bodyError = error;
          throw error;
        }
      });
      return { ok: true, value };
    } catch (error) {
      const fatal = exec?.fatal;
      // A body that went on after its transaction ended (or threw because of it) failed by that failure.
      if (fatal !== undefined) return { ok: false, error: fatal, retry: isSerializationFailure(fatal) };
      const fromEngine = !bodyFailed || error !== bodyError;
      return { ok: false, error, retry: fromEngine && isSerializationFailure(error) };
    }
  }

  /** The body with its handles, tracked as running over this store's engine; rejects when a call ended the transaction. */
  private async runBody<R>(exec: TransactionExecutor, body: (tx: TransactionScope) => Promise<R>): Promise<R> {
    const scope = new HandleFactory(exec, () => exec.assertActive(), bothGuards(oneNamespaceGuard(this.profile), this.engineImpl.transactionGuard?.()));
    const token: BodyToken = { root: this.root, active: true };
    const held = [...(transactionBodies.getStore() ?? []).filter((t) => t.active), token];
    bodiesRunning += 1;
    try {
      const result = await transactionBodies.run(held, () => body(scope));
      await exec.settled();
      // The body caught a failure that ended the transaction and returned: it must not resolve as committed.
      if (exec.fatal !== undefined) throw exec.fatal;
      return result;
    } finally {
      exec.end();
      // On Node 20 an enabled AsyncLocalStorage installs promise hooks that tax every promise in the process
      // (measured 5–9% on store calls); disabling it when no body runs keeps that cost inside transactions.
      token.active = false;
      if (--bodiesRunning === 0) transactionBodies.disable();
    }
  }

  async sweep(): Promise<number> {
    let removed = 0;
    // Bounded steps: writers may keep adding expired entries meanwhile; the next sweep goes on.
    for (let step = 0; step < MAX_SWEEP_STEPS; step++) {
      const now = this.clock();
      const batch = await this.track(() => this.engineImpl.write({ op: "kvSweepExpired", args: [now, SWEEP_BATCH] }));
      removed += batch;
      if (batch === 0) break;
    }
    // KV change histories keep their last changes; bounded steps, as writers may add more meanwhile.
    for (let step = 0; step < (this.profile.supports.kvHistory ? MAX_TRIM_STEPS : 0); step++) {
      const trimmed = await this.track(() => this.engineImpl.write({ op: "kvHistoryTrim", args: [LIMITS.kvChangesKept, SWEEP_BATCH] }));
      if (trimmed === 0) break;
    }
    return removed;
  }

  async info(): Promise<StoreInfo> {
    const now = this.clock();
    const description = await this.track(async () => this.engineImpl.read({ op: "describe", args: [now] }));
    const order = ["kv", "log", "slot", "queue", "stream", "work"];
    const namespaces = [...description.namespaces].sort(
      (a, b) => order.indexOf(a.primitive) - order.indexOf(b.primitive) || compareKeys(a.namespace, b.namespace),
    );
    return { engine: this.engineImpl.name, location: this.engineImpl.location, supports: this.profile.supports, ...description, namespaces };
  }

  async check(): Promise<IntegrityReport> {
    const problems = await this.track(() => this.engineImpl.check());
    return { ok: problems.length === 0, problems };
  }

  health(options?: HealthOptions): Promise<HealthReport> {
    return checkHealth(this.engineImpl, this.state === "open", options);
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    if (this.insideOwnTransaction()) {
      return Promise.reject(new StowageError("INVALID_ARGUMENT", "close() cannot be called inside a transaction body of the same store"));
    }
    // Workers drain, settle and release first, while the store still takes calls; without any, calls are refused at once.
    const workersStopped = this.workers.size === 0 ? undefined : this.workers.stopAll();
    if (workersStopped === undefined) this.beginClosing();
    this.closing = (async () => {
      if (workersStopped !== undefined) {
        await workersStopped;
        this.beginClosing();
      }
      // Calls already accepted finish (and their writes commit) before the engine goes away.
      while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
      try {
        await this.engineImpl.close();
      } finally {
        this.state = "closed";
      }
    })();
    return this.closing;
  }

  /** From here on the store refuses calls, and every live feed ends. */
  private beginClosing(): void {
    this.state = "closing";
    this.feedsEnd.abort();
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
  }

  /** True inside a transaction body over this store's engine (its own, or one of a store it wraps or that wraps it). */
  private insideOwnTransaction(): boolean {
    return insideBodyOver(this.root);
  }

  private assertNotClosed(): void {
    if (this.state !== "open") throw new StowageError("CLOSED", `the ${this.engineImpl.name} store is closed`);
  }

  private assertOpen(): void {
    this.assertNotClosed();
    if (this.insideOwnTransaction()) {
      // The engine is held by the transaction: a store call here would wait for it forever.
      throw new StowageError(
        "INVALID_ARGUMENT",
        "a store call inside a transaction body over the same engine (of this store, or of a store it wraps or that wraps it) is refused: it would wait for the transaction (a deadlock) or act outside it; use the tx handles (tx.kv(...), tx.log(...), …)",
      );
    }
  }

  private track<T>(call: () => Promise<T>): Promise<T> {
    try {
      this.assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.follow(call());
  }

  /** Remembers a running call until it settles, so that close() lets it finish first. */
  private follow<T>(running: Promise<T>): Promise<T> {
    this.inflight.add(running);
    const forget = () => this.inflight.delete(running);
    running.then(forget, forget);
    return running;
  }
}

export type { StoreOptions } from "./store-options.js";

/**
 * Wraps an engine in the public {@link Store} API. Built-in engines are opened with `openStore`; a third-party
 * engine implements {@link Engine} and calls this. A value that is not an engine, or wrong options, is INVALID_ARGUMENT.
 */
export function createStore(engine: Engine, options: StoreOptions = {}): Store {
  return new EngineStore(checkEngine(engine), checkCreateOptions(options));
}

