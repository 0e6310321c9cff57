import { StowageError } from "./api/errors.js";
import type { Store } from "./api/types.js";
import { MemoryEngine } from "./engines/memory/memory-engine.js";
import { DURABILITIES, SqliteEngine, type Durability } from "./engines/sqlite/sqlite-engine.js";
import { createStore, type StoreOptions } from "./store/store.js";

/** Where the SQLite engine keeps its file when no path is given. */
export const DEFAULT_SQLITE_PATH = "./data/stowage.db";

/** Opens the in-memory engine: for tests and throwaway state. */
export interface MemoryStoreOptions extends StoreOptions {
  backend: "memory";
}

/** Opens the embedded SQLite engine (the default). */
export interface SqliteStoreOptions extends StoreOptions {
  backend?: "sqlite";
  /** Default `./data/stowage.db`; folders are created. */
  path?: string;
  /** `"full"` (default) or `"process"`; see {@link Durability}. */
  durability?: Durability;
  /** How long a write waits for another process's lock, in ms (default `DEFAULT_BUSY_TIMEOUT_MS`, 5,000). */
  busyTimeoutMs?: number;
}

export type OpenStoreOptions = MemoryStoreOptions | SqliteStoreOptions;

/** The backends `openStore` knows. */
export const BACKENDS = ["memory", "sqlite"] as const;

/** The backend `openStore` uses when none is named. */
export const DEFAULT_BACKEND = "sqlite" satisfies (typeof BACKENDS)[number];

const STORE_FIELDS = ["backend", "clock", "sweepIntervalMs"];
const FIELDS_BY_BACKEND: Record<(typeof BACKENDS)[number], readonly string[]> = {
  memory: STORE_FIELDS,
  sqlite: [...STORE_FIELDS, "path", "durability", "busyTimeoutMs"],
};

/**
 * Opens a store on the chosen engine.
 *
 * @example
 * ```ts
 * const store = await openStore({ backend: "sqlite", path: "./data/stowage.db" });
 * await store.kv("checkpoints").put("mysql-pipe1", bytes);
 * await store.close();
 * ```
 */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  if (typeof options !== "object" || options === null) {
    throw new StowageError("INVALID_ARGUMENT", "openStore options must be an object");
  }
  const backend = options.backend ?? DEFAULT_BACKEND;
  if (!(BACKENDS as readonly unknown[]).includes(backend)) {
    throw new StowageError("INVALID_ARGUMENT", `backend must be one of ${BACKENDS.join(", ")}, got ${JSON.stringify(backend)}`);
  }
  for (const field of Object.keys(options)) {
    if (!FIELDS_BY_BACKEND[backend].includes(field)) {
      throw new StowageError("INVALID_ARGUMENT", `openStore option "${field}" is not an option of the ${backend} backend; it takes ${FIELDS_BY_BACKEND[backend].join(", ")}`);
    }
  }
  const { clock, sweepIntervalMs } = options;
  if (clock !== undefined && typeof clock !== "function") {
    throw new StowageError("INVALID_ARGUMENT", "clock must be a function returning ms since the epoch");
  }
  if (sweepIntervalMs !== undefined && (!Number.isSafeInteger(sweepIntervalMs) || sweepIntervalMs < 0)) {
    throw new StowageError("INVALID_ARGUMENT", `sweepIntervalMs must be a whole number ≥ 0, got ${String(sweepIntervalMs)}`);
  }
  const storeOptions: StoreOptions = { clock, sweepIntervalMs };
  switch (backend) {
    case "memory":
      return createStore(new MemoryEngine(), storeOptions);
    case "sqlite": {
      const sqlite = options as SqliteStoreOptions;
      if (sqlite.path !== undefined && (typeof sqlite.path !== "string" || sqlite.path.length === 0)) {
        throw new StowageError("INVALID_ARGUMENT", "path must be a non-empty string");
      }
      if (sqlite.durability !== undefined && !DURABILITIES.includes(sqlite.durability)) {
        throw new StowageError("INVALID_ARGUMENT", `durability must be one of ${DURABILITIES.join(", ")}, got ${JSON.stringify(sqlite.durability)}`);
      }
      if (sqlite.busyTimeoutMs !== undefined && (!Number.isSafeInteger(sqlite.busyTimeoutMs) || sqlite.busyTimeoutMs < 0)) {
        throw new StowageError("INVALID_ARGUMENT", `busyTimeoutMs must be a whole number ≥ 0, got ${String(sqlite.busyTimeoutMs)}`);
      }
      const engine = new SqliteEngine({
        path: sqlite.path ?? DEFAULT_SQLITE_PATH,
        durability: sqlite.durability,
        busyTimeoutMs: sqlite.busyTimeoutMs,
      });
      return createStore(engine, storeOptions);
    }
  }
}
