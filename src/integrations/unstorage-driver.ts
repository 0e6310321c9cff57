/**
 * An unstorage driver on stowage (`stowage/unstorage`): `createStorage({ driver: stowageDriver({ store }) })`.
 * @packageDocumentation
 */
import { randomUUID } from "node:crypto";
import type { Driver, TransactionOptions, WatchCallback, WatchEvent } from "unstorage";
import { bytes, json } from "../api/codec.js";
import { StowageError } from "../api/errors.js";
import type { Kv, KvChange, PutOptions, Store } from "../api/types.js";
import { describeType } from "../store/validate.js";
import { StoreHandle, type StoreSource } from "./store-source.js";

/** The KV namespace the driver keeps its items in unless told otherwise. */
export const UNSTORAGE_KV_NAMESPACE = "unstorage";

/** The key of the change namespace every write through a watching driver puts its change record under. */
export const CHANGE_KEY = "change";

/** Keys one page of `getKeys` and of a cleared range reads. */
const PAGE = 1_000;
/** A watch's start marks outlive it by this much at most (the store's sweep removes them). */
const MARK_TTL_MS = 60_000;
/** How long a starting watch waits for its mark before it writes another (doubling each time). */
const FIRST_MARK_WAIT_MS = 10;
const MAX_MARK_ATTEMPTS = 12;

/** What a watching driver records for each item it writes or removes: the KV key (its `base` included). */
export interface ChangeRecord {
  event: WatchEvent;
  key: string;
}

/** Options of {@link stowageDriver}: `store` (an open store) or `open` (options to open one), and the rest. */
export interface StowageDriverOptions extends StoreSource {
  /** The stowage KV namespace the items live in (default `unstorage`). */
  kvNamespace?: string;
  /** A prefix of every key (`base:key`), as other drivers' `base`: drivers with other bases share a namespace. */
  base?: string;
  /** Default TTL of every item, in seconds (as unstorage's `ttl`); a `setItem`'s own `ttl` option wins. 0: none. */
  ttl?: number;
  /**
   * `true`: the driver has a `watch` that reports every write made through any driver watching this namespace, in
   * any process (see {@link stowageDriver}). Each write then commits a change record with it (one more KV write, in
   * the same transaction). Default `false`: no driver `watch`, and unstorage reports this storage's own writes.
   */
  watch?: boolean;
  /** The KV namespace of the change records (default `<kvNamespace>.changes`). */
  changesNamespace?: string;
  /** Called when a watch stops on an error (default: a process warning). */
  onWatchError?: (error: unknown) => void;
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * An unstorage driver over one stowage KV namespace, on any engine: items are KV entries under their unstorage keys
 * (`a:b:c`, after the driver's `base`), so `stowage kv list` shows them as unstorage names them.
 *
 * - `getItem` returns the stored text (unstorage parses it); bytes stored by `setItemRaw` that are not UTF-8 read back
 *   as `base64:…`, unstorage's own text form of raw values. `getItemRaw` returns the stored bytes.
 * - `setItem`/`setItemRaw` take a `ttl` option in seconds (or the driver's `ttl`): the item's stowage TTL.
 *   `setItems` writes its items in one transaction: all or none.
 * - `getKeys(base)` and `clear(base)` read and delete by key prefix (`base:`), in pages of 1,000.
 * - Keys stowage refuses (empty, over 1,024 bytes of UTF-8, with U+0000) and bad TTLs fail with stowage's typed error
 *   (INVALID_ARGUMENT, LIMIT_EXCEEDED) naming the namespace and the key.
 * - No native `getMeta`: stowage keeps no modification time, and an entry's deadline is not readable through the KV
 *   API. unstorage's own meta (`setMeta`, stored as `key$`) works as with any driver.
 * - `dispose()` ends the driver's watches and closes a store opened from `open` (a given store stays open).
 *
 * `kv.watch` follows listed keys, not a whole namespace, so with `watch: true` the driver builds a namespace-wide feed
 * on it: every `setItem`, `setItems`, `setItemRaw` and `removeItem` commits, in the same transaction, a
 * {@link ChangeRecord} under the one key {@link CHANGE_KEY} of the change namespace, and `watch` follows that key. It
 * reports each such write exactly once, in commit order, from any process, once `watch` has resolved. It does not
 * report entries that expire, `clear` (as unstorage's own watch does not), or writes to the KV namespace made
 * without this driver. The change namespace keeps the last `LIMITS.kvChangesKept` records (a watch that falls
 * further behind stops with LIMIT_EXCEEDED, passed to `onWatchError`). The engine needs live feeds, KV history and
 * transactions across namespaces (every built-in engine; a routed store whose two namespaces sit on different
 * providers does not).
 *
 * @example
 * ```ts
 * import { createStorage } from "unstorage";
 * import stowageDriver from "stowage/unstorage";
 * const storage = createStorage({ driver: stowageDriver({ open: { path: "./data/app.db" }, base: "cache" }) });
 * await storage.setItem("pages:home", { html: "…" }, { ttl: 60 });
 * ```
 */
export function stowageDriver(options: StowageDriverOptions): Driver<StowageDriverOptions, Promise<Store>> {
  if (typeof options !== "object" || options === null) {
    throw new StowageError("INVALID_ARGUMENT", `the unstorage driver's options must be an object, got ${describeType(options)}`);
  }
  const source = new StoreHandle(options, "the unstorage driver");
  const namespace = options.kvNamespace ?? UNSTORAGE_KV_NAMESPACE;
  const changesNamespace = options.changesNamespace ?? `${namespace}.changes`;
  const base = normalizeKey(options.base);
  const watching = options.watch === true;
  const reportWatchError = options.onWatchError ?? ((error: unknown) => process.emitWarning(`stowage unstorage driver: a watch stopped: ${String(error)}`));
  const watches = new Set<() => Promise<void>>();

  const kvKey = (key: string): string => joinKeys(base, key);
  /** The prefix of the keys under `sub` (`base:sub:`), or "" for the whole namespace. */
  const prefixOf = (sub: string | undefined): string => {
    const joined = joinKeys(base, normalizeKey(sub));
    return joined === "" ? "" : `${joined}:`;
  };
  const items = async (): Promise<Kv<Uint8Array>> => (await source.get()).kv(namespace, { codec: bytes });
  const ttlOf = (opts: TransactionOptions | undefined): PutOptions | undefined => {
    const seconds: unknown = opts?.ttl ?? options.ttl;
    // unstorage drivers treat a missing or zero ttl as none.
    return seconds === undefined || seconds === null || seconds === 0 ? undefined : { ttlMs: Math.ceil(Number(seconds) * 1000) };
  };

  /** Puts (value) or deletes (undefined) the entries; with a watch, each with its change record, in one transaction. */
  const write = async (entries: ReadonlyArray<{ key: string; value: Uint8Array | undefined; put?: PutOptions }>): Promise<void> => {
    const store = await source.get();
    if (!watching && entries.length === 1) {
      const [{ key, value, put }] = entries as [(typeof entries)[0]];
      const kv = store.kv(namespace, { codec: bytes });
      await (value === undefined ? kv.delete(key) : kv.put(key, value, put));
      return;
    }
    await store.transaction(async (tx) => {
      const kv = tx.kv(namespace, { codec: bytes });
      const changes = tx.kv<ChangeRecord>(changesNamespace, { codec: json<ChangeRecord>() });
      for (const { key, value, put } of entries) {
        await (value === undefined ? kv.delete(key) : kv.put(key, value, put));
        if (watching) await changes.put(CHANGE_KEY, { event: value === undefined ? "remove" : "update", key });
      }
    });
  };

  const keysUnder = async (prefix: string): Promise<string[]> => {
    const kv = await items();
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await kv.list({ keysOnly: true, limit: PAGE, ...(prefix === "" ? {} : { prefix }), ...(cursor === undefined ? {} : { cursor }) });
      for (const { key } of page.entries) keys.push(key);
      cursor = page.cursor;
    } while (cursor !== undefined);
    return keys;
  };

  const driver: Driver<StowageDriverOptions, Promise<Store>> = {
    name: "stowage",
    flags: { ttl: true },
    options,
    getInstance: () => source.get(),
    async hasItem(key) {
      return (await (await items()).get(kvKey(key))) !== undefined;
    },
    async getItem(key) {
      const stored = await (await items()).get(kvKey(key));
      return stored === undefined ? null : asText(stored);
    },
    async getItemRaw(key) {
      return (await (await items()).get(kvKey(key))) ?? null;
    },
    async setItem(key, value, opts) {
      const full = kvKey(key);
      await write([{ key: full, value: encodeText(namespace, full, value), put: ttlOf(opts) }]);
    },
    async setItems(list, common) {
      await write(list.map(({ key, value, options: own }) => {
        const full = kvKey(key);
        return { key: full, value: encodeText(namespace, full, value), put: ttlOf({ ...common, ...own }) };
      }));
    },
    async setItemRaw(key, value, opts) {
      const full = kvKey(key);
      await write([{ key: full, value: rawBytes(namespace, full, value), put: ttlOf(opts) }]);
    },
    async removeItem(key) {
      await write([{ key: kvKey(key), value: undefined }]);
    },
    async getKeys(sub) {
      const keys = await keysUnder(prefixOf(sub));
      return base === "" ? keys : keys.map((key) => key.slice(base.length + 1));
    },
    async clear(sub) {
      const prefix = prefixOf(sub);
      await (await items()).deleteRange(prefix === "" ? {} : { prefix });
    },
    async dispose() {
      await Promise.all([...watches].map((stop) => stop()));
      await source.close();
    },
  };
  if (watching) {
    driver.watch = async (callback) => {
      const store = await source.get();
      const stop = await startWatch(store.kv(changesNamespace, { codec: json<ChangeRecord | number>() }), base, callback, reportWatchError);
      const unwatch = async () => {
        watches.delete(unwatch);
        await stop();
      };
      watches.add(unwatch);
      return unwatch;
    };
  }
  return driver;
}

export default stowageDriver;

/**
 * Follows the change key from a point before the watch resolves: it watches the change key and a mark of its own,
 * and writes the mark until the feed reports it (a mark written before the feed's history recorded is never reported,
 * so it writes another, waiting longer each time). Every change after the mark, and any before it that the feed
 * already reported, reaches `callback`. Resolves to the function that stops it.
 */
async function startWatch(changes: Kv<ChangeRecord | number>, base: string, callback: WatchCallback, report: (error: unknown) => void): Promise<() => Promise<void>> {
  const mark = `mark/${randomUUID()}`;
  const stop = new AbortController();
  const feed = changes.watch([CHANGE_KEY, mark], { signal: stop.signal })[Symbol.asyncIterator]();
  const deliver = (change: KvChange<ChangeRecord | number>): void => {
    if (change.key !== CHANGE_KEY || typeof change.value !== "object") return;
    const { event, key } = change.value;
    if (base !== "" && !key.startsWith(`${base}:`)) return;
    try {
      callback(event, base === "" ? key : key.slice(base.length + 1));
    } catch (error) {
      report(error);
    }
  };
  // Each read is awaited later (or never, once stopped): a failure waits there, not as an unhandled rejection.
  const read = () => {
    const next = feed.next();
    next.catch(() => undefined);
    return next;
  };
  let pending = read();
  try {
    await awaitMark(changes, mark, () => pending, (next) => {
      pending = read();
      deliver(next);
    });
  } catch (error) {
    stop.abort();
    await pending.catch(() => undefined);
    throw error;
  }
  const following = (async () => {
    try {
      for (;;) {
        const next = await pending;
        if (next.done === true) return;
        pending = read();
        deliver(next.value);
      }
    } catch (error) {
      if (!stop.signal.aborted) report(error);
    }
  })();
  return async () => {
    stop.abort();
    await following;
  };
}

/** Writes `mark` until the feed reports it, handing every other change it reports meanwhile to `onChange`. */
async function awaitMark(
  changes: Kv<ChangeRecord | number>,
  mark: string,
  pending: () => Promise<IteratorResult<KvChange<ChangeRecord | number>>>,
  onChange: (change: KvChange<ChangeRecord | number>) => void,
): Promise<void> {
  let wait = FIRST_MARK_WAIT_MS;
  for (let attempt = 1; attempt <= MAX_MARK_ATTEMPTS; attempt++, wait *= 2) {
    await changes.put(mark, attempt, { ttlMs: MARK_TTL_MS });
    for (;;) {
      const next = await raceTimeout(pending(), wait);
      if (next === undefined) break;
      if (next.done === true) throw new StowageError("CLOSED", "the store closed while the unstorage driver's watch started", { namespace: changes.namespace });
      // Any mark reported proves the feed reads from before it: whatever commits after it is reported too.
      if (next.value.key === mark) return;
      onChange(next.value);
    }
  }
  throw new StowageError("BACKEND_UNAVAILABLE", `the unstorage driver's watch: the change feed did not report its start within ${MAX_MARK_ATTEMPTS} attempts`, {
    namespace: changes.namespace,
    key: mark,
  });
}

/**
 * `promise`'s outcome, or `undefined` when it takes longer than `ms` (it goes on; await it again later). The pending
 * read stays the feed's next one, so nothing it reports is lost.
 */
async function raceTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** unstorage's key form: `:` between parts, none at the ends (`/` and `\` count as `:`). */
function normalizeKey(key: string | undefined): string {
  if (key === undefined || key === null || key === "") return "";
  return String(key).replace(/[/\\]/g, ":").replace(/^:+|:+$/g, "");
}

function joinKeys(...keys: string[]): string {
  return keys.filter((key) => key !== "").join(":");
}

/** Stored bytes as the text `getItem` returns: UTF-8, or unstorage's `base64:` form for bytes that are not. */
function asText(stored: Uint8Array): string {
  try {
    return utf8Decoder.decode(stored);
  } catch {
    return `base64:${Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).toString("base64")}`;
  }
}

/** The UTF-8 of the text unstorage hands `setItem` (it serializes values before the driver sees them). */
function encodeText(namespace: string, key: string, value: unknown): Uint8Array {
  if (typeof value !== "string") throw new StowageError("INVALID_ARGUMENT", `setItem takes the text unstorage serialized, got ${describeType(value)}`, { namespace, key });
  if (!value.isWellFormed()) throw new StowageError("INVALID_ARGUMENT", "the value contains a lone surrogate (not valid Unicode), which UTF-8 cannot hold", { namespace, key });
  return encoder.encode(value);
}

/** The bytes of a raw value: a Uint8Array (a Buffer), an ArrayBuffer or a view, or text as UTF-8. */
function rawBytes(namespace: string, key: string, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === "string") return encodeText(namespace, key, value);
  throw new StowageError("INVALID_ARGUMENT", `setItemRaw takes bytes (Uint8Array, ArrayBuffer) or text, got ${describeType(value)}`, { namespace, key });
}
