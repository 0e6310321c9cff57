import { StowageError } from "../api/errors.js";
import { compareKeys, prefixUpperBound } from "../api/key-order.js";
import { LIMITS } from "../api/limits.js";
import type { KeyRange } from "../api/range.js";
import type { Kv, KvChange, KvEntry, ListOptions, ListPage, PutOptions, RangeOptions, WatchOptions } from "../api/types.js";
import { requireCapability } from "./capabilities.js";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { checkStartNotAhead, feedContextOf, follow } from "./feed.js";
import { HandleBase } from "./handle-base.js";
import { checkBoolean, checkInteger, checkKey, checkOptions, checkSignal, describeType, utf8Length } from "./validate.js";

/** Most keys one watch follows: each change signal reads every one of them. */
const MAX_WATCHED_KEYS = 1_000;

/** Changes one read of a watch returns at most. */
const WATCH_PAGE = 1_000;

const RANGE_FIELDS = ["prefix", "start", "end"] as const;
const LIST_FIELDS = [...RANGE_FIELDS, "limit", "cursor", "reverse", "keysOnly"] as const;

/** The store's {@link Kv} implementation, one per handle, engine-independent. */
export class KvHandle<T> extends HandleBase<T> implements Kv<T> {
  async put(key: string, value: T, options?: PutOptions): Promise<void> {
    const ns = this.namespace;
    checkKey(ns, key);
    const opts = checkOptions(ns, "put options", options, ["ttlMs"]);
    const ttlMs = opts.ttlMs === undefined ? undefined : checkInteger(ns, "ttlMs", opts.ttlMs, 1, LIMITS.maxTtlMs, key);
    const bytes = this.codec.encode(key, value);
    const expiresAt = ttlMs === undefined ? null : this.exec.now() + ttlMs;
    await this.exec.write({ op: "kvPut", args: [ns, key, bytes, expiresAt] }, utf8Length(key) + bytes.byteLength);
  }

  /**
   * Not an async function: a synchronous engine's answer is decoded at once and the caller's await is the only
   * promise turn on the path (an async function awaiting the answer cost a second one: measured ~10% of a memory get).
   */
  get(key: string): Promise<T | undefined> {
    try {
      const ns = this.namespace;
      checkKey(ns, key);
      const now = this.exec.now();
      const stored = this.exec.read({ op: "kvGet", args: [ns, key, now] });
      if (stored instanceof Promise) return stored.then((bytes) => this.decoded(key, bytes));
      return Promise.resolve(this.decoded(key, stored));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private decoded(key: string, stored: Uint8Array | undefined): T | undefined {
    return stored === undefined ? undefined : this.codec.decode(key, stored);
  }

  async delete(key: string): Promise<boolean> {
    const ns = this.namespace;
    checkKey(ns, key);
    const now = this.exec.now();
    return this.exec.write({ op: "kvDelete", args: [ns, key, now] }, utf8Length(key));
  }

  watch(keys: readonly string[], options?: WatchOptions): AsyncIterable<KvChange<T>> {
    requireCapability(this.exec.engine, ["kvHistory", "liveFeeds"], this.namespace);
    const ns = this.namespace;
    if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_WATCHED_KEYS) {
      throw new StowageError("INVALID_ARGUMENT", `keys must be an array of 1 to ${MAX_WATCHED_KEYS} keys, got ${describeType(keys)}`, { namespace: ns });
    }
    const watched = [...new Set(keys.map((key) => checkKey(ns, key)))];
    const opts = checkOptions(ns, "watch options", options, ["since", "signal"]);
    const since = opts.since === undefined ? undefined : checkInteger(ns, "since", opts.since, 0, Number.MAX_SAFE_INTEGER);
    const signal = checkSignal(ns, opts.signal);
    const feeds = feedContextOf(this.exec.feeds, ns);
    return {
      [Symbol.asyncIterator]: () => {
        let position: number | undefined;
        return follow(feeds, signal, async () => {
          if (position === undefined) {
            // Turning the history on commits before the position is read, so every later write is recorded.
            const state = await this.exec.write({ op: "kvHistoryStart", args: [ns, LIMITS.maxKvHistoryNamespaces] }, 0);
            if (since !== undefined) checkStartNotAhead(since, state.lastSeq, "since", ns);
            // 0 is "from the oldest change kept", whatever the trim has removed.
            position = since === 0 ? state.trimmedThrough : (since ?? state.lastSeq);
          }
          const after = position;
          const page = await this.exec.read({ op: "kvHistoryRead", args: [ns, watched, after, WATCH_PAGE] });
          if (page === undefined) throw new StowageError("INTERNAL", "the namespace's change history is missing after it was turned on", { namespace: ns });
          if (page.trimmedThrough > after) {
            throw new StowageError(
              "LIMIT_EXCEEDED",
              `kv.watch fell behind the change history: it has read up to change ${after}, and changes up to ${page.trimmedThrough} are trimmed (a namespace keeps its last ${LIMITS.kvChangesKept})`,
              { namespace: ns },
            );
          }
          const more = page.changes.length === WATCH_PAGE;
          const last = page.changes.at(-1)?.seq ?? after;
          // A short page read every watched change up to the history's end in the same snapshot: skip past the others.
          position = more ? last : Math.max(last, page.lastSeq);
          const items = page.changes.map(({ key, value, seq }) => ({ key, value: value === null ? undefined : this.codec.decode(key, value), seq }));
          return { items, more };
        });
      },
    };
  }

  list(options: ListOptions & { keysOnly: true }): Promise<ListPage<{ key: string }>>;
  list(options?: ListOptions): Promise<ListPage<KvEntry<T>>>;
  async list(options?: ListOptions): Promise<ListPage<KvEntry<T>> | ListPage<{ key: string }>> {
    const ns = this.namespace;
    const opts = checkOptions(ns, "list options", options, LIST_FIELDS);
    const limit = opts.limit === undefined ? LIMITS.defaultPageSize : checkInteger(ns, "limit", opts.limit, 1, LIMITS.maxPageSize);
    const reverse = checkBoolean(ns, "reverse", opts.reverse);
    const keysOnly = checkBoolean(ns, "keysOnly", opts.keysOnly);
    const range = this.range(opts);
    if (opts.cursor !== undefined) narrowAfter(range, decodeCursor(ns, opts.cursor, reverse), reverse);
    const now = this.exec.now();
    // One row more than asked tells whether another page exists, so the last page carries no cursor.
    const rows = await this.exec.read({ op: "kvScan", args: [ns, { ...range, reverse, limit: limit + 1, keysOnly }, now] });
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const entries = keysOnly
      ? page.map((row) => ({ key: row.key }))
      : page.map((row) => ({ key: row.key, value: this.codec.decode(row.key, row.value as Uint8Array) }));
    const last = page[page.length - 1];
    return more && last !== undefined ? { entries, cursor: encodeCursor({ after: last.key, reverse }) } : { entries };
  }

  async count(options?: RangeOptions): Promise<number> {
    const ns = this.namespace;
    const range = this.range(checkOptions(ns, "count options", options, RANGE_FIELDS));
    const now = this.exec.now();
    return this.exec.read({ op: "kvCount", args: [ns, range, now] });
  }

  async deleteRange(options: RangeOptions): Promise<number> {
    const ns = this.namespace;
    if (options === undefined) {
      // An accidental deleteRange() must not empty the namespace; `{}` says so on purpose.
      throw new StowageError("INVALID_ARGUMENT", "deleteRange needs a range: pass { prefix }, { start, end } or {} for the whole namespace", { namespace: ns });
    }
    const range = this.range(checkOptions(ns, "deleteRange options", options, RANGE_FIELDS));
    const now = this.exec.now();
    return this.exec.write({ op: "kvDeleteRange", args: [ns, range, now] }, 0);
  }

  /** Folds prefix, start and end into one range. */
  private range(opts: Record<string, unknown>): KeyRange {
    const ns = this.namespace;
    const prefix = opts.prefix === undefined ? "" : checkKey(ns, opts.prefix, "prefix", true);
    const start = opts.start === undefined ? undefined : checkKey(ns, opts.start, "start", true);
    const end = opts.end === undefined ? undefined : checkKey(ns, opts.end, "end", true);
    let lower = prefix === "" ? undefined : prefix;
    if (start !== undefined && (lower === undefined || compareKeys(start, lower) > 0)) lower = start;
    let upper = prefix === "" ? undefined : prefixUpperBound(prefix);
    if (end !== undefined && (upper === undefined || compareKeys(end, upper) < 0)) upper = end;
    return { lower, lowerInclusive: true, upper };
  }
}

/** Continues a range strictly after (or, reversed, before) the cursor's key. */
function narrowAfter(range: KeyRange, after: string, reverse: boolean): void {
  if (reverse) {
    if (range.upper === undefined || compareKeys(after, range.upper) < 0) range.upper = after;
    return;
  }
  if (range.lower === undefined || compareKeys(after, range.lower) >= 0) {
    range.lower = after;
    range.lowerInclusive = false;
  }
}
