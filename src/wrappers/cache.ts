import type { Store } from "../api/types.js";
import type { Awaitable, StoredKvEntry } from "../engines/engine.js";
import { checkOptionalInteger, checkOptions } from "../store/validate.js";
import { DropStamps } from "./drop-stamps.js";
import { layerStore, type LayerHooks, type OpCall, type UnitKind } from "./layer.js";

/** Options of {@link withCache}. */
export interface CacheOptions {
  /** Most cached values (default 10,000). */
  maxEntries?: number;
  /** Most cached bytes, values and keys counted (default 64 MiB). */
  maxBytes?: number;
  /**
   * How long a cached KV value is trusted, in ms of the store clock (default 60,000). Writes through this store are
   * seen at once; this bounds how stale a value another process changed can be.
   */
  ttlMs?: number;
}

/** What the cache did since it was made (or last cleared). */
export interface CacheStats {
  hits: number;
  misses: number;
  /** Values dropped to stay within `maxEntries` / `maxBytes`. */
  evictions: number;
  /** Values dropped because a write through this store changed them (or `invalidate` was called). */
  invalidations: number;
  entries: number;
  bytes: number;
}

/** The control a cached store exposes as `store.cache`. */
export interface ReadCache {
  stats(): CacheStats;
  /** Drops every cached value. */
  clear(): void;
  /** Drops the cached values of a KV namespace, or of one key of it (slots are never cached: `"slot"` drops nothing). */
  invalidate(primitive: "kv" | "slot", namespace: string, key?: string): void;
  /**
   * Drops a KV key's cached value whenever `feed` reports it, until the feed ends: pass `store.kv(ns).watch(keys)`
   * to see other processes' writes to those keys within the feed's latency instead of within `ttlMs`.
   */
  follow(namespace: string, feed: AsyncIterable<{ key: string }>): Promise<void>;
}

interface Cached {
  kv: Uint8Array;
  /** The KV entry's own deadline (null: no TTL), for a cache stacked above that asks for it. */
  expiresAt?: number | null;
  /** Store-clock time after which it is not served: the earlier of the entry's own TTL and the cache's. */
  until: number;
  size: number;
}

interface UnitState {
  unit: UnitKind;
  /** Cache keys a write of this unit changed, dropped again when it settles. */
  touched: string[] | undefined;
  /** `kv` namespaces a range delete of this unit emptied. */
  ranges: string[] | undefined;
}

const DEFAULTS = { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, ttlMs: 60_000 };
/** Recent drops remembered by key; past it, reads that started before the oldest forgotten drop do not fill. */
const TRACKED_DROPS = 10_000;
/** Bookkeeping bytes counted per entry on top of key and value. */
const ENTRY_OVERHEAD = 64;

const cacheKey = (namespace: string, key: string): string => `${namespace}\u0000${key}`;

/** The read-through LRU behind {@link withCache}. */
class LruReadCache implements ReadCache, LayerHooks<UnitState> {
  private readonly entries = new Map<string, Cached>();
  private bytes = 0;
  /** When keys were last dropped: a read that started before a drop of its key must not store what it read. */
  private readonly drops = new DropStamps(TRACKED_DROPS);
  private counts = { hits: 0, misses: 0, evictions: 0, invalidations: 0 };
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly ttlMs: number;

  constructor(options: CacheOptions) {
    const opts = checkOptions(undefined, "cache options", options, Object.keys(DEFAULTS));
    const limit = (name: keyof typeof DEFAULTS): number => checkOptionalInteger(undefined, `cache option ${name}`, opts[name], DEFAULTS[name], 1, Number.MAX_SAFE_INTEGER);
    this.maxEntries = limit("maxEntries");
    this.maxBytes = limit("maxBytes");
    this.ttlMs = limit("ttlMs");
  }

  stats(): CacheStats {
    return { ...this.counts, entries: this.entries.size, bytes: this.bytes };
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
    this.drops.all();
    this.counts = { hits: 0, misses: 0, evictions: 0, invalidations: 0 };
  }

  invalidate(primitive: "kv" | "slot", namespace: string, key?: string): void {
    if (primitive !== "kv") return;
    if (key !== undefined) this.drop(cacheKey(namespace, key));
    else this.dropNamespace(namespace);
  }

  async follow(namespace: string, feed: AsyncIterable<{ key: string }>): Promise<void> {
    for await (const change of feed) this.drop(cacheKey(namespace, change.key));
  }

  begin(unit: UnitKind): UnitState {
    return { unit, touched: undefined, ranges: undefined };
  }

  /**
   * A hit answers the read before it reaches the engine, or any layer beneath (a rate limit draws no token for it).
   * `kvGetEntry` is what a cache stacked above asks for on its miss (the store itself never reads it): a hit here is
   * the same read, counted once.
   */
  answer(call: OpCall): { value: unknown } | undefined {
    if (call.op !== "kvGet" && call.op !== "kvGetEntry") return undefined;
    const now = call.args[2] as number;
    const hit = this.lookup(cacheKey(call.namespace as string, call.key as string), now);
    if (hit === undefined) return undefined;
    // A copy: the bytes codec hands the array to the caller, who may change it.
    return { value: call.op === "kvGet" ? hit.kv.slice() : ({ value: hit.kv.slice(), expiresAt: hit.expiresAt ?? null } satisfies StoredKvEntry) };
  }

  op<T>(call: OpCall, run: () => Awaitable<T>, state: UnitState): Awaitable<T> {
    const ns = call.namespace as string;
    switch (call.op) {
      case "kvGet":
        // A transaction reads its own uncommitted writes: it goes to the engine.
        return state.unit === "read" ? (this.readKv(call, ns) as Awaitable<T>) : run();
      case "kvPut":
      case "kvDelete":
        this.touch(state, cacheKey(ns, call.key as string));
        return run();
      case "kvDeleteRange":
      case "kvRestore":
        (state.ranges ??= []).push(ns);
        this.dropNamespace(ns);
        return run();
      default:
        return run();
    }
  }

  end(state: UnitState): void {
    // Dropped again once the write settled: a read that filled in between saw the value from before it.
    for (const key of state.touched ?? []) this.drop(key);
    for (const ns of state.ranges ?? []) this.dropNamespace(ns);
  }

  /** A read `answer` found no value for: from the engine, kept for the next. */
  private readKv(call: OpCall, ns: string): Awaitable<Uint8Array | undefined> {
    const key = cacheKey(ns, call.key as string);
    const now = call.args[2] as number;
    this.counts.misses += 1;
    const started = this.drops.start();
    const fill = (entry: StoredKvEntry | undefined): Uint8Array | undefined => {
      if (entry === undefined) return undefined;
      if (this.drops.unchangedSince(key, cacheKey(ns, ""), started)) {
        const until = Math.min(entry.expiresAt ?? Number.POSITIVE_INFINITY, now + this.ttlMs);
        this.store(key, { kv: entry.value.slice(), expiresAt: entry.expiresAt, until, size: key.length + entry.value.byteLength + ENTRY_OVERHEAD });
      }
      return entry.value;
    };
    const answer = call.ops.kvGetEntry(ns, call.key as string, now);
    return answer instanceof Promise ? answer.then(fill) : fill(answer);
  }

  private lookup(key: string, now: number): Cached | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    if (now >= hit.until) {
      this.remove(key, hit);
      return undefined;
    }
    // Most recently used goes last: a Map keeps insertion order, so the first key is the eviction candidate.
    this.entries.delete(key);
    this.entries.set(key, hit);
    this.counts.hits += 1;
    return hit;
  }

  private store(key: string, entry: Cached): void {
    if (entry.size > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old !== undefined) this.remove(key, old);
    this.entries.set(key, entry);
    this.bytes += entry.size;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, Cached];
      this.remove(oldestKey, oldest);
      this.counts.evictions += 1;
    }
  }

  private touch(state: UnitState, key: string): void {
    (state.touched ??= []).push(key);
    this.drop(key);
  }

  private drop(key: string): void {
    this.drops.key(key);
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.remove(key, old);
    this.counts.invalidations += 1;
  }

  private dropNamespace(namespace: string): void {
    const prefix = cacheKey(namespace, "");
    this.drops.namespace(prefix);
    for (const [key, entry] of this.entries) {
      if (!key.startsWith(prefix)) continue;
      this.remove(key, entry);
      this.counts.invalidations += 1;
    }
  }

  private remove(key: string, entry: Cached): void {
    this.entries.delete(key);
    this.bytes -= entry.size;
  }
}

/**
 * A read-through LRU cache for KV gets, bounded by entries and bytes, with its own TTL. Writes through the returned
 * store (puts, deletes, range deletes, in transactions too) drop the values they change at once, and a value is never
 * served past its KV TTL. It cannot see writes made by other processes or through another store object: those show
 * after at most `ttlMs`, or sooner through `store.cache.follow(ns, kv.watch(keys))`. Reads inside transactions always
 * go to the engine.
 *
 * Slot gets are never cached: a slot is read to decide something — the version a CAS takes, a lease's holder and
 * expiry, a cursor's position — and a value another process changed meanwhile would decide wrongly until `ttlMs`
 * (a released lease looking held, a cursor that moved looking still). Every slot get goes to the engine.
 *
 * @example
 * ```ts
 * const store = withCache(await openStore(), { maxEntries: 50_000, ttlMs: 5_000 });
 * await store.kv("checkpoints").get("orders"); // engine
 * await store.kv("checkpoints").get("orders"); // memory
 * store.cache.stats(); // { hits: 1, misses: 1, … }
 * ```
 */
export function withCache<S extends Store>(store: S, options: CacheOptions = {}): S & { cache: ReadCache } {
  const cache = new LruReadCache(options);
  const control: ReadCache = {
    stats: () => cache.stats(),
    clear: () => cache.clear(),
    invalidate: (primitive, namespace, key) => cache.invalidate(primitive, namespace, key),
    follow: (namespace, feed) => cache.follow(namespace, feed),
  };
  return layerStore(store, cache, { cache: control });
}
