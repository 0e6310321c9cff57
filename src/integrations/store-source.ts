import { StowageError } from "../api/errors.js";
import type { Store } from "../api/types.js";
import { DEFAULT_BACKEND, openStore, type OpenStoreOptions } from "../open-store.js";

/** Where an integration's store comes from: an open store its caller owns, or options to open one of its own. */
export interface StoreSource {
  /** An open store. The integration never closes it: its owner does. */
  store?: Store;
  /** Options of `openStore`: the integration opens the store at its first call and closes it when disconnected. */
  open?: OpenStoreOptions;
}

/**
 * The store of an integration, opened at the first call when it was given options: constructors stay synchronous (as
 * Keyv and unstorage construct their stores), and a store that is never used is never opened.
 */
export class StoreHandle {
  private opening: Promise<Store> | undefined;
  private closed = false;
  /** The engine's name, known before the store opens (Keyv reads it at construction). */
  readonly engine: string;

  constructor(
    private readonly source: StoreSource,
    /** The integration's name, for messages. */
    private readonly integration: string,
  ) {
    const { store, open } = source;
    if ((store === undefined) === (open === undefined)) {
      throw new StowageError("INVALID_ARGUMENT", `${integration} needs either \`store\` (an open store) or \`open\` (options to open one), not ${store === undefined ? "neither" : "both"}`);
    }
    if (store !== undefined && (typeof store !== "object" || store === null || typeof store.kv !== "function" || typeof store.transaction !== "function")) {
      throw new StowageError("INVALID_ARGUMENT", `${integration}: \`store\` must be an open stowage store (from openStore)`);
    }
    this.engine = store?.engine ?? (open as { backend?: string }).backend ?? DEFAULT_BACKEND;
    if (store !== undefined) this.opening = Promise.resolve(store);
  }

  /** The store given, or the one opened from the options (opened once, at the first call). */
  get(): Promise<Store> {
    if (this.closed) return Promise.reject(new StowageError("CLOSED", `${this.integration} is disconnected`));
    this.opening ??= openStore(this.source.open as OpenStoreOptions);
    return this.opening;
  }

  /** Further calls fail with CLOSED; a store opened from options is closed, a given one is left open. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const opening = this.opening;
    if (this.source.open === undefined || opening === undefined) return;
    // A store that failed to open has nothing to close.
    const store = await opening.catch(() => undefined);
    await store?.close();
  }
}
