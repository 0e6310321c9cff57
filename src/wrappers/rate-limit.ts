import { performance } from "node:perf_hooks";
import { StowageError } from "../api/errors.js";
import type { Store } from "../api/types.js";
import { checkInteger, checkNamespace, checkOptions, describeType } from "../store/validate.js";
import { OP_FACTS } from "../engines/engine-calls.js";
import { judgingHooks, layerStore, type OpCall } from "./layer.js";
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
const OPTION_FIELDS = ["ratePerSec", "burst", "by", "onLimit", "ops", "namespaces", "overrides", "maxBuckets", "clock", "sleep"];

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

/**
 * The token buckets behind {@link withRateLimit}. Reads and single writes are judged by the layer's gate, before they
 * reach the engine: a refused call never enters it, and a waiting one waits holding nothing (no lock, no connection,
 * no place in a SQLite group commit), so calls of other buckets go on. Operations inside a transaction are judged as
 * they run, and never wait: the transaction holds the engine.
 */
class Limiter {
  private readonly table: BucketTable;
  private counts = { allowed: 0, limited: 0, waited: 0, waitedMs: 0 };

  constructor(private readonly settings: Settings) {
    this.table = new BucketTable(settings.maxBuckets);
  }

  stats(): RateLimitStats {
    return { ...this.counts, buckets: this.table.size };
  }

  /** Takes the call's token, or the wait for a reserved one (only when `mayWait`), or throws RATE_LIMITED. */
  judge(call: OpCall, mayWait: boolean): void | Promise<void> {
    const ns = call.namespace;
    const s = this.settings;
    if (ns === undefined) return;
    if (s.writesOnly && OP_FACTS[call.op].kind !== "write") return;
    if (s.namespaces !== undefined && !s.namespaces.has(ns)) return;
    const name = s.bucketOf(ns, call.key);
    if (name === undefined) return;

    const now = this.now();
    const bucket = this.table.bucket(name, now, (bucketName) => s.limitOf(bucketName, ns));
    const delay = bucket.delayMs(now);
    if (delay === 0) {
      bucket.take();
      this.counts.allowed += 1;
      return;
    }
    if (mayWait && s.waitMaxMs !== undefined && delay <= s.waitMaxMs) {
      // The token is reserved now (the balance goes below zero), so waiting calls are served in turn at the rate.
      bucket.take();
      this.counts.allowed += 1;
      this.counts.waited += 1;
      this.counts.waitedMs += delay;
      return s.sleep(delay);
    }
    this.counts.limited += 1;
    const { ratePerSec, burst } = bucket.limit;
    throw new StowageError(
      "RATE_LIMITED",
      `bucket ${JSON.stringify(name)} allows ${ratePerSec} calls a second in bursts of ${burst}; retry in ${delay} ms` +
        (s.waitMaxMs === undefined ? "" : mayWait ? ` (more than waitMaxMs, ${s.waitMaxMs} ms)` : " (a call inside a transaction never waits)"),
      { namespace: ns, key: call.key, retryAfterMs: delay },
    );
  }

  private now(): number {
    const reading = this.settings.clock();
    if (typeof reading !== "number" || !Number.isFinite(reading)) {
      throw new StowageError("INVALID_ARGUMENT", `the rate limit's clock returned ${describeType(reading)} ${String(reading)}; it must return ms`);
    }
    return reading;
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
  const limiter = new Limiter(checkSettings(options));
  return layerStore(store, judgingHooks((call, mayWait) => limiter.judge(call, mayWait)), { rateLimit: { stats: () => limiter.stats() } satisfies RateLimiter });
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
