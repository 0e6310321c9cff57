/**
 * A Keyv store on stowage (`stowage/keyv`): `new Keyv({ store: new KeyvStowage({ store }) })`.
 * @packageDocumentation
 */
import { EventEmitter } from "node:events";
import type Keyv from "keyv";
import type { KeyvStoreAdapter } from "keyv";
import { utf8 } from "../api/codec.js";
import type { Kv, Store } from "../api/types.js";
import { StoreHandle, type StoreSource } from "./store-source.js";

/** The KV namespace a {@link KeyvStowage} keeps its entries in unless told otherwise. */
export const KEYV_KV_NAMESPACE = "keyv";

/** Entries one page of {@link KeyvStowage.iterator} and {@link KeyvStowage.clear} reads. */
const PAGE = 1_000;

/** Options of {@link KeyvStowage}: `store` (an open store) or `open` (options to open one), and the KV namespace. */
export interface KeyvStowageOptions extends StoreSource {
  /**
   * The stowage KV namespace the entries live in (default `keyv`). Keyv's own `namespace` option is a key prefix
   * inside it (`keyv:` by default), so several Keyv namespaces share one KV namespace.
   */
  kvNamespace?: string;
}

/** What Keyv reads from a store's `opts`. */
export interface KeyvStowageOpts {
  /** The engine's name: Keyv wires `keyv.iterator()` itself when it is one of its iterable dialects. */
  dialect: string;
  /** `stowage://<engine>`: Keyv also looks for a dialect's name in `url`. */
  url: string;
  kvNamespace: string;
  [option: string]: unknown;
}

/**
 * A Keyv 5 storage adapter over one stowage KV namespace: pass it as Keyv's `store` and every Keyv call reads and
 * writes stowage, on any engine.
 *
 * - Values are the strings Keyv's serializer makes (keep Keyv's `serialize`, the default), stored as UTF-8; any other
 *   value fails INVALID_ARGUMENT.
 * - Keys are Keyv's prefixed keys (`<namespace>:<key>`), stored as they are. One stowage refuses (empty, over 1,024
 *   bytes of UTF-8, with U+0000 or a lone surrogate) fails with stowage's typed error (INVALID_ARGUMENT,
 *   LIMIT_EXCEEDED) naming the KV namespace and the key; Keyv emits it as an `error` event (or throws it with
 *   `throwOnErrors: true`). No key is rewritten, so what Keyv wrote is what `stowage kv` tools show.
 * - A TTL (ms) becomes the entry's stowage TTL (rounded up to a whole ms): the entry is never read after it and the
 *   store's sweep removes it. Keyv also checks the deadline it keeps in the value.
 * - `clear()` deletes the keys of the current Keyv namespace only (every key of the KV namespace when Keyv has none).
 * - `disconnect()` closes a store opened from `open`; a store given as `store` stays open for its owner to close.
 *
 * Keyv 5 wires `keyv.iterator()` only for the dialects it lists (`sqlite`, `postgres`, `redis`, `etcd`…): this
 * store's dialect is its engine's name, so on the other engines call {@link withKeyvIterator} on the Keyv instance.
 *
 * @example
 * ```ts
 * import Keyv from "keyv";
 * import { KeyvStowage } from "stowage/keyv";
 * const keyv = new Keyv({ store: new KeyvStowage({ open: { path: "./data/cache.db" } }), namespace: "sessions" });
 * await keyv.set("user-1", { name: "Ada" }, 60_000);
 * ```
 */
export class KeyvStowage extends EventEmitter implements KeyvStoreAdapter {
  readonly opts: KeyvStowageOpts;
  /** Keyv's namespace: Keyv sets it to the `namespace` of the Keyv instance the store is given to. */
  namespace?: string | undefined;
  private readonly source: StoreHandle;
  private readonly kvNamespace: string;
  private kvHandle: Kv<string> | undefined;

  constructor(options: KeyvStowageOptions) {
    super();
    this.source = new StoreHandle(options ?? {}, "KeyvStowage");
    this.kvNamespace = options.kvNamespace ?? KEYV_KV_NAMESPACE;
    // A given store checks the namespace name now; one opened later checks it at the first call.
    if (options.store !== undefined) this.kvHandle = options.store.kv(this.kvNamespace, { codec: utf8 });
    this.opts = { dialect: this.source.engine, url: `stowage://${this.source.engine}`, kvNamespace: this.kvNamespace };
  }

  private async kv(): Promise<Kv<string>> {
    const store = await this.source.get();
    this.kvHandle ??= store.kv(this.kvNamespace, { codec: utf8 });
    return this.kvHandle;
  }

  /** The stored value (Keyv's serialized string), or `undefined`. */
  async get<Value>(key: string): Promise<Value | undefined> {
    return (await (await this.kv()).get(key)) as Value | undefined;
  }

  /** The stored values of `keys`, in their order (`undefined` where absent). */
  async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    const kv = await this.kv();
    return (await Promise.all(keys.map((key) => kv.get(key)))) as Array<Value | undefined>;
  }

  /** Stores Keyv's serialized `value`; a `ttl` in ms becomes the entry's stowage TTL. */
  async set(key: string, value: unknown, ttl?: number): Promise<void> {
    const kv = await this.kv();
    await kv.put(key, value as string, ttl === undefined ? undefined : { ttlMs: Math.ceil(ttl) });
  }

  /** Removes `key`; true when it held a live entry. */
  async delete(key: string): Promise<boolean> {
    return (await this.kv()).delete(key);
  }

  /** Removes `keys`; true when at least one of them held a live entry. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const kv = await this.kv();
    const deleted = await Promise.all(keys.map((key) => kv.delete(key)));
    return deleted.some(Boolean);
  }

  /** Whether `key` holds a live entry. */
  async has(key: string): Promise<boolean> {
    return (await (await this.kv()).get(key)) !== undefined;
  }

  /** Whether each of `keys` holds a live entry. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    const kv = await this.kv();
    return Promise.all(keys.map(async (key) => (await kv.get(key)) !== undefined));
  }

  /** Deletes the current Keyv namespace's keys (`<namespace>:…`), or the whole KV namespace when Keyv has none. */
  async clear(): Promise<void> {
    const kv = await this.kv();
    await kv.deleteRange(this.namespace ? { prefix: `${this.namespace}:` } : {});
  }

  /**
   * Every live entry of Keyv namespace `namespace` (every entry of the KV namespace without one) as `[key, value]`,
   * keys with their prefix, in key order, read in pages: entries written during the iteration may or may not appear.
   */
  async *iterator<Value>(namespace?: string): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    const kv = await this.kv();
    const prefix = namespace ? `${namespace}:` : undefined;
    let cursor: string | undefined;
    do {
      const page = await kv.list({ ...(prefix === undefined ? {} : { prefix }), limit: PAGE, ...(cursor === undefined ? {} : { cursor }) });
      for (const { key, value } of page.entries) yield [key, value as Awaited<Value>];
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  /** Closes a store opened from `open` (a given store stays open); further calls fail with CLOSED. */
  async disconnect(): Promise<void> {
    await this.source.close();
  }

  /** The stowage store under the adapter (opened now if it was given as options). */
  stowageStore(): Promise<Store> {
    return this.source.get();
  }
}

/**
 * Wires `keyv.iterator()` to its {@link KeyvStowage} store when Keyv did not (Keyv 5 does only for the dialects it
 * lists, so not for the memory, LMDB, LevelDB and Azure Table engines). Returns `keyv`; a Keyv whose iterator is
 * wired already, or whose store is another one, is returned unchanged.
 */
export function withKeyvIterator<K extends Keyv>(keyv: K): K {
  const store: unknown = keyv.store;
  if (keyv.iterator === undefined && store instanceof KeyvStowage) {
    keyv.iterator = keyv.generateIterator(store.iterator.bind(store) as unknown as Parameters<Keyv["generateIterator"]>[0]);
  }
  return keyv;
}
