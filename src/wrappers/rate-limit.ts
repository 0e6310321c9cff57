import { performance } from "node:perf_hooks";
import { StowageError } from "../api/errors.js";
import type { Store } from "../api/types.js";
import type { ChangeSource } from "../engines/change-signal.js";
import type { Awaitable, Engine, EngineOps, EngineWork } from "../engines/engine.js";
import { createStore } from "../store/store.js";
import { checkInteger, checkNamespace, checkOptions, describeType } from "../store/validate.js";
import { layerStore, storeParts, WRITE_OPS, type LayerHooks, type OpCall, type UnitKind } from "./layer.js";
import { BucketTable, type BucketLimit } from "./token-bucket.js";

export type { BucketLimit } from "./token-bucket.js";

/**
 * Which bucket a call draws from:
 * - `"namespace"`: one bucket per namespace, named after it;
 * - `{ prefixLength: n }`: one per namespace and first `n` characters of the key, named `"<namespace>:<prefix>"`;
 * - `{ separator: "/" }`: one per namespace and key up to its first separator (the whole key when it has none),
 *   named `"<namespace>:<prefix>"` — tenant keys such as `"acme/orders/1"` share the bucket `"<namespace>:acme"`;
 * - a function of the namespace and key (the space for streams) returning the bucket's name, or `undefined` to let
 *   the call through unlimited.
 *
 * Calls without a key (`list`, `count`, `deleteRange`, `lastSeq`, `spaces`, reads of a whole log) cannot be told apart
 * by key: with the key-based choices they draw from the namespace's own bucket, named after the namespace; a function
 * receives `undefined` as the key.
 */
export type RateLimitBy =
  | "namespace"
  | { prefixLength: number }
  | { separator: string }
  | ((namespace: string, key: string | undefined) => string | undefined);

/** Options of {@link withRateLimit}. */
export interface RateLimitOptions {
  /** Calls a second each bucket allows on average (fractions allowed). */
  ratePerSec: number;
  /** Calls a full bucket allows back to back: a whole number ≥ 1. */
  burst: number;
  /** How calls are grouped into buckets (default `"namespace"`). */
  by?: RateLimitBy;
  /**
   * What a call over the limit does (default `"fail"`): fail at once with `RATE_LIMITED`, or wait for its token when
   * that takes at most `waitMaxMs` — and fail at once, without waiting, when it would take longer.
   */
  onLimit?: "fail" | { waitMaxMs: number };
  /** Which calls are counted (default `"all"`): `"writes"` lets every read through. */
  ops?: "all" | "writes";
  /** Only calls to these namespaces are limited (default: every namespace). */
  namespaces?: readonly string[];
  /** A different rate and burst for some buckets, by bucket name or by namespace (the bucket name wins). */
  overrides?: Readonly<Record<string, BucketLimit>>;
  /** Most buckets kept (default 10,000): one more drops the least recently used, which comes back full. */
  maxBuckets?: number;
  /** Time in ms for the buckets (default `performance.now`: monotonic, so a wall-clock step never refills). */
  clock?: () => number;
  /** How a wait is taken (default a timer); for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** What the rate limiter did since the store was wrapped. */
export interface RateLimitStats {
  /** Calls that drew a token, at once or after waiting. */
  allowed: number;
  /** Calls refused with `RATE_LIMITED`. */
  limited: number;
  /** Calls that waited for their token. */
  waited: number;
  /** Total of those waits, in ms. */
  waitedMs: number;
  /** Buckets kept now. */
  buckets: number;
}

/** The control a rate-limited store exposes as `store.rateLimit`. */
export interface RateLimiter {
  stats(): RateLimitStats;
}

const DEFAULT_MAX_BUCKETS = 10_000;
/** Longest wait that may be configured: an hour. */
const MAX_WAIT_MS = 3_600_000;
const MAX_BURST = 1_000_000_000;
/**
 * Rounds of waiting one call may take. One is the rule; another comes only when a timer fires a hair before the
 * bucket's clock reaches the reserved time (timers and clocks round differently), or when a sleep does not let the
 * clock advance — then the call gives up rather than loop.
 */
const MAX_WAIT_ROUNDS = 8;
const OPTION_FIELDS = ["ratePerSec", "burst", "by", "onLimit", "ops", "namespaces", "overrides", "maxBuckets", "clock", "sleep"];

/**
 * The RATE_LIMITED a call that may wait throws inside the engine unit, so that the unit ends — holding no lock or
 * connection while it waits — and {@link WaitingEngine} runs it again once its reserved token is due. Being a
 * StowageError, engines pass it through untouched.
 */
class WaitForToken extends StowageError {}

interface UnitState {
  unit: UnitKind;
  /**
   * When the unit's call got its token (its reserved time, for a call that waits). Set for reads and single writes
   * only, each of which makes one operation: when an engine runs the unit's work again (SQLite does, to isolate a
   * failing write of a group commit), the call is neither charged twice nor let through before its time.
   */
  tokenAt: number | undefined;
  /** The refusal, likewise: run again, the unit fails the same way and is counted once. */
  refused: StowageError | undefined;
}

interface Settings {
  bucketOf: (namespace: string, key: string | undefined) => string | undefined;
  limitOf: (bucket: string, namespace: string) => BucketLimit;
  waitMaxMs: number | undefined;
  writesOnly: boolean;
  namespaces: ReadonlySet<string> | undefined;
  maxBuckets: number;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
}

/** The token buckets behind {@link withRateLimit}, as layer hooks around every engine operation. */
class Limiter implements LayerHooks<UnitState> {
  private readonly table: BucketTable;
  private counts = { allowed: 0, limited: 0, waited: 0, waitedMs: 0 };

  constructor(private readonly settings: Settings) {
    this.table = new BucketTable(settings.maxBuckets);
  }

  stats(): RateLimitStats {
    return { ...this.counts, buckets: this.table.size };
  }

  begin(unit: UnitKind): UnitState {
    return { unit, tokenAt: undefined, refused: undefined };
  }

  op<T>(call: OpCall, run: () => Awaitable<T>, state: UnitState): Awaitable<T> {
    if (state.tokenAt !== undefined) {
      const early = Math.ceil(state.tokenAt - this.now());
      if (early > 0) throw this.waitError(call, early);
      return run();
    }
    if (state.refused !== undefined) throw state.refused;
    const ns = call.namespace;
    if (ns === undefined) return run();
    const s = this.settings;
    if (s.writesOnly && !WRITE_OPS.has(call.op)) return run();
    if (s.namespaces !== undefined && !s.namespaces.has(ns)) return run();
    const name = s.bucketOf(ns, call.key);
    if (name === undefined) return run();

    const now = this.now();
    const bucket = this.table.bucket(name, now, (bucketName) => s.limitOf(bucketName, ns));
    const delay = bucket.delayMs(now);
    const single = state.unit !== "transaction";
    if (delay === 0) {
      bucket.take();
      this.counts.allowed += 1;
      if (single) state.tokenAt = now;
      return run();
    }
    // A transaction holds the engine (every other call of a memory or SQLite store, a PostgreSQL connection and its
    // locks): waiting inside one would stall all of that, so a call in a transaction fails at once.
    if (single && s.waitMaxMs !== undefined && delay <= s.waitMaxMs) {
      bucket.take();
      this.counts.allowed += 1;
      this.counts.waited += 1;
      this.counts.waitedMs += delay;
      state.tokenAt = now + delay;
      throw this.waitError(call, delay);
    }
    this.counts.limited += 1;
    const { ratePerSec, burst } = bucket.limit;
    const refusal = new StowageError(
      "RATE_LIMITED",
      `bucket ${JSON.stringify(name)} allows ${ratePerSec} calls a second in bursts of ${burst}; retry in ${delay} ms` +
        (s.waitMaxMs === undefined ? "" : single ? ` (more than waitMaxMs, ${s.waitMaxMs} ms)` : " (a call inside a transaction never waits)"),
      { namespace: ns, key: call.key, retryAfterMs: delay },
    );
    if (single) state.refused = refusal;
    throw refusal;
  }

  end(): void {}

  private now(): number {
    const reading = this.settings.clock();
    if (typeof reading !== "number" || !Number.isFinite(reading)) {
      throw new StowageError("INVALID_ARGUMENT", `the rate limit's clock returned ${describeType(reading)} ${String(reading)}; it must return ms`);
    }
    return reading;
  }

  private waitError(call: OpCall, delay: number): WaitForToken {
    return new WaitForToken("RATE_LIMITED", `waiting ${delay} ms for a token`, { namespace: call.namespace, key: call.key, retryAfterMs: delay });
  }
}

/**
 * The engine beneath the limiter's layer in wait mode: a unit that ended with {@link WaitForToken} is run again after
 * the wait. The wait happens here, outside the engine unit, so a waiting call holds nothing and calls of other
 * buckets go on meanwhile. Transactions are passed through: their calls never wait.
 */
class WaitingEngine implements Engine {
  constructor(
    private readonly inner: Engine,
    private readonly sleep: (ms: number) => Promise<void>,
    private readonly closeBelow: () => Promise<void>,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get location(): string {
    return this.inner.location;
  }

  get changes(): ChangeSource | undefined {
    return this.inner.changes;
  }

  read<T>(work: EngineWork<T>): Awaitable<T> {
    let answer: Awaitable<T>;
    try {
      answer = this.inner.read(work);
    } catch (error) {
      return this.afterWaits(error, () => this.inner.read(work));
    }
    // An allowed read on a synchronous engine keeps its synchronous answer.
    return answer instanceof Promise ? answer.catch((error: unknown) => this.afterWaits(error, () => this.inner.read(work))) : answer;
  }

  write<T>(work: EngineWork<T>): Promise<T> {
    return this.inner.write(work).catch((error: unknown) => this.afterWaits(error, () => this.inner.write(work)));
  }

  transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    return this.inner.transaction(body);
  }

  check(): Promise<string[]> {
    return this.inner.check();
  }

  close(): Promise<void> {
    return this.closeBelow();
  }

  /** Waits and runs the unit again while it asks to wait (it got its token already); rethrows any other error. */
  private async afterWaits<T>(first: unknown, again: () => Awaitable<T>): Promise<T> {
    let error = first;
    for (let round = 1; error instanceof WaitForToken; round++) {
      const wait = error;
      if (round > MAX_WAIT_ROUNDS) {
        throw new StowageError("RATE_LIMITED", `still no token after ${MAX_WAIT_ROUNDS} waits; does the rate limit's clock advance during its sleep?`, {
          namespace: wait.namespace,
          key: wait.key,
          retryAfterMs: wait.retryAfterMs,
        });
      }
      await this.sleep(wait.retryAfterMs as number);
      try {
        return await again();
      } catch (next) {
        error = next;
      }
    }
    throw error;
  }
}

/**
 * Rate limits on the calls of a store: token buckets per namespace, per key prefix (tenants), or per any grouping,
 * each refilled continuously at `ratePerSec` up to `burst`. A call over its bucket's limit fails with `RATE_LIMITED`
 * and `retryAfterMs` (the wait until it would be allowed) before its operation runs, so it changes nothing; with
 * `onLimit: { waitMaxMs }` it waits for its token instead when that takes at most `waitMaxMs`, without holding the
 * engine, so calls of other buckets go on meanwhile, and waiting calls are served in turn. Calls without a namespace
 * (`sweep`, `info`) are never limited.
 *
 * Each operation draws a token, also inside a transaction — but there it never waits (waiting would hold the
 * transaction, and with it the engine): it fails at once, which rolls the transaction back unless the body catches
 * it. Live feeds (`log.tail`, `kv.watch`, `stream.subscribe`) read through the store as well, so their polls draw
 * tokens: use `ops: "writes"` or leave their namespaces out of `namespaces` to keep feeds of limited namespaces
 * flowing. The times a call takes from the store clock (a TTL deadline, a log timestamp) are those of when it was made,
 * up to `waitMaxMs` before it runs.
 *
 * @example
 * ```ts
 * const store = withRateLimit(await openStore(), {
 *   ratePerSec: 100, burst: 200, by: { separator: "/" }, namespaces: ["tenant-state"], onLimit: { waitMaxMs: 250 },
 * });
 * await store.kv("tenant-state").put("acme/settings", bytes); // draws from the bucket "tenant-state:acme"
 * store.rateLimit.stats(); // { allowed: 1, limited: 0, waited: 0, waitedMs: 0, buckets: 1 }
 * ```
 */
export function withRateLimit<S extends Store>(store: S, options: RateLimitOptions): S & { rateLimit: RateLimiter } {
  const settings = checkSettings(options);
  const limiter = new Limiter(settings);
  const control: RateLimiter = { stats: () => limiter.stats() };
  if (settings.waitMaxMs === undefined) return layerStore(store, limiter, { rateLimit: control });
  // Wait mode: the layer sits on a store whose engine takes the waits, outside the engine units.
  const parts = storeParts(store);
  const waiting = createStore(new WaitingEngine(parts.engine, settings.sleep, () => store.close()), { sweepIntervalMs: 0 });
  const waitingParts = storeParts(waiting);
  waitingParts.clock = parts.clock;
  waitingParts.extensions = parts.extensions;
  return layerStore(waiting, limiter, { rateLimit: control }) as unknown as S & { rateLimit: RateLimiter };
}

function invalid(message: string): StowageError {
  return new StowageError("INVALID_ARGUMENT", `rate limit: ${message}`);
}

function checkRate(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw invalid(`${name} must be a number of calls a second above 0, got ${typeof value === "number" ? String(value) : describeType(value)}`);
  }
  return value;
}

/** A rate and burst; `where` names them in messages (`""` for the options' own, `overrides["orders"].` for one override). */
function checkLimit(where: string, ratePerSec: unknown, burst: unknown): BucketLimit {
  return { ratePerSec: checkRate(`${where}ratePerSec`, ratePerSec), burst: checkInteger(undefined, `rate limit ${where}burst`, burst, 1, MAX_BURST) };
}

function checkOverrides(overrides: unknown): Map<string, BucketLimit> {
  const checked = new Map<string, BucketLimit>();
  if (overrides === undefined) return checked;
  if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) {
    throw invalid(`overrides must be an object of { ratePerSec, burst } by bucket or namespace name, got ${describeType(overrides)}`);
  }
  for (const [name, limit] of Object.entries(overrides)) {
    const where = `overrides[${JSON.stringify(name)}]`;
    const fields = checkOptions(undefined, `rate limit ${where}`, limit ?? null, ["ratePerSec", "burst"]);
    checked.set(name, checkLimit(`${where}.`, fields.ratePerSec, fields.burst));
  }
  return checked;
}

function checkSettings(options: RateLimitOptions): Settings {
  const opts = checkOptions(undefined, "rate limit options", options ?? null, OPTION_FIELDS);
  const base = checkLimit("", opts.ratePerSec, opts.burst);
  const overrides = checkOverrides(opts.overrides);
  for (const name of ["clock", "sleep"] as const) {
    if (opts[name] !== undefined && typeof opts[name] !== "function") throw invalid(`${name} must be a function, got ${describeType(opts[name])}`);
  }
  if (opts.ops !== undefined && opts.ops !== "all" && opts.ops !== "writes") throw invalid(`ops must be "all" or "writes", got ${JSON.stringify(opts.ops)}`);
  return {
    bucketOf: checkBy(opts.by),
    limitOf: (bucket, namespace) => overrides.get(bucket) ?? overrides.get(namespace) ?? base,
    waitMaxMs: checkOnLimit(opts.onLimit),
    writesOnly: opts.ops === "writes",
    namespaces: checkNamespaces(opts.namespaces),
    maxBuckets: opts.maxBuckets === undefined ? DEFAULT_MAX_BUCKETS : checkInteger(undefined, "rate limit maxBuckets", opts.maxBuckets, 1, MAX_BURST),
    clock: (opts.clock as (() => number) | undefined) ?? (() => performance.now()),
    sleep: (opts.sleep as ((ms: number) => Promise<void>) | undefined) ?? sleep,
  };
}

function checkOnLimit(onLimit: unknown): number | undefined {
  if (onLimit === undefined || onLimit === "fail") return undefined;
  if (typeof onLimit !== "object" || onLimit === null || Array.isArray(onLimit)) {
    throw invalid(`onLimit must be "fail" or { waitMaxMs }, got ${typeof onLimit === "string" ? JSON.stringify(onLimit) : describeType(onLimit)}`);
  }
  const wait = checkOptions(undefined, "rate limit onLimit", onLimit, ["waitMaxMs"]);
  return checkInteger(undefined, "rate limit onLimit.waitMaxMs", wait.waitMaxMs, 0, MAX_WAIT_MS);
}

function checkNamespaces(namespaces: unknown): ReadonlySet<string> | undefined {
  if (namespaces === undefined) return undefined;
  if (!Array.isArray(namespaces) || namespaces.length === 0) {
    throw invalid(`namespaces must be a non-empty array of namespace names (leave it out to limit every namespace), got ${describeType(namespaces)}`);
  }
  for (const ns of namespaces) checkNamespace(ns);
  return new Set(namespaces as string[]);
}

/** The function naming a call's bucket. Namespaces never hold ":", so "<namespace>:<prefix>" cannot collide. */
function checkBy(by: unknown): Settings["bucketOf"] {
  if (by === undefined || by === "namespace") return (namespace) => namespace;
  if (typeof by === "function") {
    const named = by as (namespace: string, key: string | undefined) => unknown;
    return (namespace, key) => {
      const name = named(namespace, key);
      if (name !== undefined && typeof name !== "string") {
        throw new StowageError("INVALID_ARGUMENT", `the rate limit's by function must return a bucket name or undefined, got ${describeType(name)}`, { namespace, key });
      }
      return name;
    };
  }
  if (typeof by === "object" && by !== null && !Array.isArray(by)) {
    const fields = Object.keys(by);
    if (fields.length === 1 && fields[0] === "prefixLength") {
      const length = checkInteger(undefined, "rate limit by.prefixLength", (by as { prefixLength: unknown }).prefixLength, 1, 1024);
      return (namespace, key) => (key === undefined ? namespace : `${namespace}:${key.slice(0, length)}`);
    }
    if (fields.length === 1 && fields[0] === "separator") {
      const separator = (by as { separator: unknown }).separator;
      if (typeof separator !== "string" || separator.length === 0) throw invalid(`by.separator must be a non-empty string, got ${describeType(separator)}`);
      return (namespace, key) => {
        if (key === undefined) return namespace;
        const end = key.indexOf(separator);
        return `${namespace}:${end < 0 ? key : key.slice(0, end)}`;
      };
    }
  }
  throw invalid(`by must be "namespace", { prefixLength }, { separator } or a function (namespace, key) => bucket, got ${typeof by === "string" ? JSON.stringify(by) : describeType(by)}`);
}

/** A plain timer: kept referenced, so a process does not exit with a write waiting for its token. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
